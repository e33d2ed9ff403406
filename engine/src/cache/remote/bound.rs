//! Bounds on a fetched REAPI `Tree` checked on its encoded bytes, before it is decoded: a
//! small message of empty folders or entries decodes to many times its size in memory.

use super::wire::MAX_TREE_ENTRIES;

/// The most bytes an entry of a fetched tree may take on average on the wire: a name of up to
/// 255 bytes, a digest, and room for a link's target.
const ENTRY_BYTES: u64 = 512;

/// The largest `Tree` blob fetched: [`MAX_TREE_ENTRIES`] entries of [`ENTRY_BYTES`] each.
pub(super) const MAX_TREE_BYTES: u64 = MAX_TREE_ENTRIES as u64 * ENTRY_BYTES;

/// Refuses the encoded `Tree` `bytes` when it holds more folders, or more entries in all its
/// folders, than [`MAX_TREE_ENTRIES`], counted as they are read, without decoding it.
pub(super) fn check_tree_counts(bytes: &[u8]) -> Result<(), String> {
    let too_many = || {
        format!("it holds more than {MAX_TREE_ENTRIES} entries, the most a fetched folder may hold")
    };
    let (mut folders, mut entries) = (0usize, 0usize);
    each_field(bytes, |field, body| {
        // Tree: 1 root, 2 children; each a Directory.
        if !matches!(field, 1 | 2) {
            return Ok(());
        }
        folders += 1;
        if folders > MAX_TREE_ENTRIES + 1 {
            return Err(too_many());
        }
        each_field(body.unwrap_or_default(), |field, _| {
            // Directory: 1 files, 2 directories, 3 symlinks.
            entries += usize::from(matches!(field, 1..=3));
            match entries > MAX_TREE_ENTRIES {
                true => Err(too_many()),
                false => Ok(()),
            }
        })
    })
}

fn not_a_tree() -> String {
    "it is not a REAPI Tree".to_owned()
}

/// Calls `each` with the number of each top-level field of the protobuf message `bytes`, in
/// order, and its bytes when it is length-delimited; stops at the first error, its or
/// `each`'s.
fn each_field<'a>(
    mut bytes: &'a [u8],
    mut each: impl FnMut(u32, Option<&'a [u8]>) -> Result<(), String>,
) -> Result<(), String> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let bad = |_: prost::DecodeError| not_a_tree();
    while !bytes.is_empty() {
        let (field, wire) = decode_key(&mut bytes).map_err(bad)?;
        let body = match wire {
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).map_err(bad)?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let (body, rest) = bytes.split_at_checked(len).ok_or_else(not_a_tree)?;
                bytes = rest;
                Some(body)
            }
            other => {
                skip_field(other, field, &mut bytes, DecodeContext::default()).map_err(bad)?;
                None
            }
        };
        each(field, body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::{MAX_TREE_ENTRIES, check_tree_counts};
    use crate::cache::remote::proto::re;

    #[test]
    fn a_tree_of_too_many_empty_folders_is_refused_before_it_is_decoded() {
        let file = re::FileNode {
            name: "a".into(),
            ..Default::default()
        };
        let sound = re::Tree {
            root: Some(re::Directory {
                files: vec![file.clone(); 3],
                ..Default::default()
            }),
            children: vec![re::Directory::default(); 2],
        };
        assert_eq!(check_tree_counts(&sound.encode_to_vec()), Ok(()));
        // Empty children, 2 bytes each on the wire.
        let many = [0x12u8, 0x00].repeat(MAX_TREE_ENTRIES + 2);
        let why = check_tree_counts(&many).unwrap_err();
        assert!(why.contains("more than 1000000 entries"), "{why}");
        // Empty entries in one folder.
        let mut folder = [0x0au8, 0x00].repeat(MAX_TREE_ENTRIES + 1);
        let mut len = Vec::new();
        prost::encoding::encode_varint(folder.len() as u64, &mut len);
        let mut tree = vec![0x0a];
        tree.append(&mut len);
        tree.append(&mut folder);
        assert!(check_tree_counts(&tree).is_err());
        // Bytes that are no message.
        assert!(check_tree_counts(&[0x12, 0x05, 0x00]).is_err());
    }
}
