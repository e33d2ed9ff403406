//! Reading a record or tree object whole, when what is at its path may be anything: another
//! machine's store, a hand's edit or a crash may have left a folder, or a file of any size.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use crate::error::{Error, Result};

/// The most bytes of a record or tree the store reads: more than any it writes (a value a step
/// returns is kept in its record, and a tree of a million entries is about 100 MiB), and few
/// enough to hold in memory.
pub(super) const MAX_OBJECT: u64 = 1 << 30;

/// What is at the path of a record or tree.
pub(super) enum Found {
    /// Nothing.
    None,
    /// Something no store write leaves there, and why: the caller discards it as damaged.
    Damaged(String),
    /// The file's bytes.
    Bytes(Vec<u8>),
}

/// Reads the object at `path`. A folder, a fifo, a link to either or a file larger than
/// [`MAX_OBJECT`] is [`Found::Damaged`] (and not read); an error reading a file, such as one
/// this user may not read, is an error, since the entry may well be sound.
pub(super) fn read_object(path: &Path) -> Result<Found> {
    let io = |e| Error::io(format!("read {}", path.display()), e);
    // Not blocking: a fifo in an object's place would hold the open until a writer came.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::None),
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Ok(Found::Damaged("it is not a file".to_owned()));
    }
    if meta.len() > MAX_OBJECT {
        return Ok(Found::Damaged(format!(
            "it is {} bytes long, more than the store ever writes",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // Bounded in case it grew since: what is past the bound is damage the checksum finds.
    (file.take(MAX_OBJECT + 1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(Found::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_or_a_huge_file_is_damage_and_never_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("object");
        assert!(matches!(read_object(&path), Ok(Found::None)));
        std::fs::create_dir(&path).expect("mkdir");
        let Ok(Found::Damaged(why)) = read_object(&path) else {
            panic!("a folder is damage");
        };
        assert_eq!(why, "it is not a file");
        std::fs::remove_dir(&path).expect("rmdir");
        let fifo = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: a NUL-terminated path that outlives the call.
        let made = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
        assert_eq!(made, 0, "mkfifo");
        assert!(
            matches!(read_object(&path), Ok(Found::Damaged(_))),
            "a fifo is damage"
        );
        std::fs::remove_file(&path).expect("removes the fifo");
        let file = std::fs::File::create(&path).expect("creates");
        file.set_len(50 << 30).expect("sparse");
        let Ok(Found::Damaged(why)) = read_object(&path) else {
            panic!("a huge file is damage");
        };
        assert_eq!(
            why,
            "it is 53687091200 bytes long, more than the store ever writes"
        );
        std::fs::write(&path, b"sound").expect("writes");
        assert!(matches!(read_object(&path), Ok(Found::Bytes(b)) if b == b"sound"));
    }
}
