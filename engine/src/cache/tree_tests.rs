//! Tests of tree encoding, decoding and diffing.

use super::*;

fn sample() -> Tree {
    Tree::new(vec![
        TreeEntry::symlink("link", b"a.txt".to_vec()),
        TreeEntry::file("a.txt", Digest::of(b"a"), 1, false),
        TreeEntry::dir("sub", Digest::of(b"tree")),
        TreeEntry::file("run.sh", Digest::of(b"#!"), 2, true),
    ])
    .expect("distinct names")
}

#[test]
fn encoding_round_trips_and_is_sorted() {
    let tree = sample();
    let names: Vec<_> = tree.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "link", "run.sh", "sub"]);
    let bytes = tree.encode();
    assert_eq!(Tree::decode(&bytes).expect("decodes"), tree);
    assert_eq!(tree.get("run.sh").map(|e| e.kind), Some(EntryKind::Exec));
}

#[test]
fn decode_rejects_damage() {
    let bytes = sample().encode();
    for cut in [0, 5, bytes.len() - 1] {
        assert!(Tree::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Tree::decode(&longer).is_err());
}

/// A tree encoding of one file entry per name in `names`, made without [`Tree::new`]'s checks.
fn raw_file_tree(names: &[&[u8]]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    put_len(&mut out, names.len());
    for name in names {
        out.push(b'f');
        put_len(&mut out, name.len());
        out.extend_from_slice(name);
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&Digest::of(b"x").0);
    }
    out
}

#[test]
fn decode_rejects_names_that_are_not_one_component() {
    assert!(Tree::decode(&raw_file_tree(&[b"...", b"ok", b"ok.2"])).is_ok());
    for name in [
        &b""[..],
        b".",
        b"..",
        b"../x",
        b"a/b",
        b"/abs",
        b"a/",
        b"nul\0",
    ] {
        let err = Tree::decode(&raw_file_tree(&[name])).expect_err("refused");
        assert!(err.to_string().contains("entry name"), "{err}");
        let entry = TreeEntry::file(String::from_utf8_lossy(name), Digest::of(b"x"), 1, false);
        assert!(Tree::new(vec![entry]).is_err(), "{name:?}");
    }
    for names in [[&b"a"[..], b"a"], [b"b", b"a"]] {
        assert!(Tree::decode(&raw_file_tree(&names)).is_err(), "{names:?}");
    }
}

#[test]
fn serde_checks_names_too() {
    let json = serde_json::to_string(&sample()).expect("encodes");
    assert_eq!(
        serde_json::from_str::<Tree>(&json).expect("decodes"),
        sample()
    );
    let bad = json.replace("\"a.txt\"", "\"../a.txt\"");
    assert!(serde_json::from_str::<Tree>(&bad).is_err(), "{bad}");
}

#[test]
fn duplicate_names_are_rejected() {
    let d = Digest::of(b"");
    assert!(
        Tree::new(vec![
            TreeEntry::file("a", d, 0, false),
            TreeEntry::dir("a", d)
        ])
        .is_err()
    );
}

#[test]
fn diff_lists_paths() {
    let mut trees = Trees::new();
    let mut put = |t: Tree| {
        let d = t.digest();
        trees.insert(d, t);
        d
    };
    let f = |n: &str, c: &[u8]| TreeEntry::file(n, Digest::of(c), c.len() as u64, false);
    let old_sub = put(Tree::new(vec![f("x.rs", b"1"), f("y.rs", b"1")]).expect("ok"));
    let new_sub = put(Tree::new(vec![f("x.rs", b"2"), f("z.rs", b"1")]).expect("ok"));
    let gone = put(Tree::new(vec![f("g", b"g")]).expect("ok"));
    let old = put(Tree::new(vec![
        TreeEntry::dir("src", old_sub),
        TreeEntry::dir("old", gone),
        f("same", b"s"),
    ])
    .expect("ok"));
    let new = put(Tree::new(vec![
        TreeEntry::dir("src", new_sub),
        f("same", b"s"),
        f("new", b"n"),
    ])
    .expect("ok"));
    // The same bytes with another mode: the mode is what changed.
    let run = |exec: bool| TreeEntry::file("run.sh", Digest::of(b"r"), 1, exec);
    let plain = put(Tree::new(vec![run(false)]).expect("ok"));
    let exec = put(Tree::new(vec![run(true)]).expect("ok"));
    let other = TreeEntry::file("run.sh", Digest::of(b"s"), 1, true);
    let both = put(Tree::new(vec![other]).expect("ok"));
    let diff = diff_trees(old, new, &trees);
    assert_eq!(diff.added, ["new", "src/z.rs"]);
    assert_eq!(diff.removed, ["old/", "src/y.rs"]);
    assert_eq!(diff.modified, ["src/x.rs"]);
    assert!(!diff.incomplete);
    let modified = |a, b| diff_trees(a, b, &trees).modified;
    assert_eq!(modified(plain, exec), ["run.sh (made executable)"]);
    assert_eq!(modified(exec, plain), ["run.sh (no longer executable)"]);
    assert_eq!(modified(plain, both), ["run.sh"]);
}
