//! A store another machine or a container wrote is hostile input: a tree object naming
//! entries `../x` or `a/b`, or a link followed by a path through it, must not make a checkout
//! (or an export of one) write anywhere but inside its own folder.

mod cache_support;

use std::path::Path;

use tanto::__internal::cache::Store;
use tanto::Digest;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("opens");
    (dir, store)
}

/// One entry of a hand-made tree object.
enum Raw<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8], Digest),
    Link(&'a [u8], &'a [u8]),
}

/// Encodes `entries` as the store's tree format does, without any of its checks.
fn encode(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = b"tanto-tree-1\n".to_vec();
    let len = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u32).to_le_bytes());
    len(&mut out, entries.len());
    for e in entries {
        match e {
            Raw::File(name, content) => {
                out.push(b'f');
                len(&mut out, name.len());
                out.extend_from_slice(name);
                out.extend_from_slice(&(content.len() as u64).to_le_bytes());
                out.extend_from_slice(&Digest::of(content).0);
            }
            Raw::Dir(name, digest) => {
                out.push(b'd');
                len(&mut out, name.len());
                out.extend_from_slice(name);
                out.extend_from_slice(&digest.0);
            }
            Raw::Link(name, target) => {
                out.push(b'l');
                len(&mut out, name.len());
                out.extend_from_slice(name);
                len(&mut out, target.len());
                out.extend_from_slice(target);
            }
        }
    }
    out
}

/// Plants `bytes` in the store as the tree object it hashes to, as an attacker could.
fn plant_tree(store: &Store, bytes: &[u8]) -> Digest {
    let digest = Digest::of(bytes);
    let hex = digest.to_hex();
    let path = store.root().join("trees").join(&hex[..2]).join(&hex);
    std::fs::create_dir_all(path.parent().expect("shard")).expect("mkdir");
    std::fs::write(path, bytes).expect("plant");
    digest
}

/// Puts `content` in the store as a blob, as an honest ingest would.
fn put_blob(store: &Store, content: &[u8]) {
    let staging = store.temp_dir().expect("staging");
    let path = staging.path().join("f");
    std::fs::write(&path, content).expect("write");
    store.ingest_file(&path, false).expect("ingests");
}

fn entries(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}

#[test]
fn a_link_then_a_path_through_it_writes_nothing_outside() {
    let (tmp, store) = store();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    put_blob(&store, b"pwned");
    let target = outside.to_str().expect("UTF-8").as_bytes();
    // Sorted and unique as the format demands: "a" < "a/b".
    let tree = plant_tree(
        &store,
        &encode(&[Raw::Link(b"a", target), Raw::File(b"a/b", b"pwned")]),
    );

    let checked_out = store.dir(tree);
    assert_eq!(
        entries(&outside),
        Vec::<String>::new(),
        "nothing written through the link"
    );
    let err = checked_out.expect_err("a name with `/` is refused");
    assert!(err.to_string().contains("not in the store"), "{err}");
    assert!(
        store.tree(&tree).expect("reads").is_none(),
        "the tree was discarded"
    );
}

#[test]
fn dot_dot_names_write_nothing_outside() {
    let (tmp, store) = store();
    put_blob(&store, b"pwned");
    // The checkout is built in <tmp>/store/tmp/<staging>/c: four `..` climb to <tmp>.
    let names = [
        &b"../../../../escaped"[..],
        b"..",
        b".",
        b"",
        b"sub/../../x",
        b"nul\0",
    ];
    let mut checked_out = Vec::new();
    for name in names {
        let tree = plant_tree(&store, &encode(&[Raw::File(name, b"pwned")]));
        checked_out.push((String::from_utf8_lossy(name).into_owned(), store.dir(tree)));
    }
    let empty = plant_tree(&store, &encode(&[]));
    let tree = plant_tree(&store, &encode(&[Raw::Dir(b"..", empty)]));
    checked_out.push(("a folder `..`".to_owned(), store.dir(tree)));
    assert_eq!(
        entries(tmp.path()),
        ["store"],
        "nothing escaped into {}",
        tmp.path().display()
    );
    for (name, result) in checked_out {
        assert!(result.is_err(), "{name:?} is refused: {result:?}");
    }
    assert_eq!(
        store.staged(),
        Vec::<std::path::PathBuf>::new(),
        "no staging left"
    );
    assert!(
        store.verify().expect("verifies").is_clean(),
        "the bad trees are gone"
    );
}

#[test]
fn an_export_never_writes_through_a_link_in_its_destination() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    // An earlier export left `out/a` as a link; this output has a folder `a`.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::os::unix::fs::symlink(&outside, out.join("a")).expect("link");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("a")).expect("mkdir");
    std::fs::write(src.join("a/x"), b"x").expect("write");

    tanto::__internal::cache::copy_tree(&src, &out).expect("copies");
    assert_eq!(
        entries(&outside),
        Vec::<String>::new(),
        "nothing written through the link"
    );
    assert!(
        std::fs::symlink_metadata(out.join("a"))
            .expect("stat")
            .is_dir()
    );
    assert_eq!(std::fs::read(out.join("a/x")).expect("read"), b"x");
}
