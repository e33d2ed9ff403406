//! A rule file matches what the `ignore` crate's `gitignore` matcher matches, line for line
//! and path for path, and the rules chain judges nested and parent files as its walker did.

use std::path::Path;
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::GitignoreBuilder;

use super::RuleFile;
use crate::cache::rules::Rules;
use crate::cache::test_rng::Rng;

/// Paths a pattern may name, relative to the rule file's folder.
const PATHS: &[&str] = &[
    "a",
    "b",
    "ab",
    "a.b",
    ".a",
    "a b",
    "a ",
    "#a",
    "!a",
    "a\\b",
    "[a]",
    "{a,b}",
    "*",
    "é",
    "a\nb",
    "a/b",
    "a/a",
    "b/a",
    "ab/a.b",
    "a/b/a",
    "a/b/c",
    "c/a/b",
    "x/y/a",
    "a/.a",
    ".a/b",
    "a\nb/a",
    "a/b\nc",
    "a/b\nc/d",
    "x/a\nb/c",
    "\na/b",
    "a/",
    "a//b",
    "foo/bar/baz",
    "foo/baz",
    "logs/x.log",
    "x.log",
    "dir/logs/debug.log",
    "build/out.o",
    "src/build",
];

/// How `ignore`'s matcher judges `path` in a folder whose rule file holds `text`.
fn reference(dir: &Path, text: &[u8], path: &str, is_dir: bool) -> Option<bool> {
    let file = dir.join(".gitignore");
    std::fs::write(&file, text).unwrap();
    let mut builder = GitignoreBuilder::new(dir);
    let _ = builder.add(&file);
    match builder.build() {
        Ok(rules) => match rules.matched(path, is_dir) {
            Match::None => None,
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
        },
        Err(_) => None,
    }
}

/// Checks every path of [`PATHS`], as a file and as a folder, against `ignore`'s matcher.
fn same_as_ignore(dir: &Path, text: &[u8]) {
    let file = dir.join(".gitignore");
    std::fs::write(&file, text).unwrap();
    let ours = RuleFile::read(&file);
    let mut theirs = GitignoreBuilder::new(dir);
    let _ = theirs.add(&file);
    let theirs = theirs.build();
    for path in PATHS {
        for is_dir in [false, true] {
            let want = match &theirs {
                Ok(rules) => match rules.matched(path, is_dir) {
                    Match::None => None,
                    Match::Ignore(_) => Some(true),
                    Match::Whitelist(_) => Some(false),
                },
                Err(_) => None,
            };
            assert_eq!(
                ours.matched(Path::new(path), is_dir),
                want,
                "file {:?}, path {path:?}, folder {is_dir}",
                String::from_utf8_lossy(text),
            );
        }
    }
}

#[test]
fn each_kind_of_line_matches_as_the_ignore_crate_matches_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lines: &[&str] = &[
        "a",
        "/a",
        "a/",
        "/a/",
        "!a",
        "!/a",
        "a/b",
        "/a/b",
        "a/b/",
        "*",
        "*.b",
        "a*",
        "?",
        "a?b",
        "**",
        "**/",
        "**/a",
        "**/a/b",
        "a/**",
        "a/**/b",
        "a/**/",
        "/**/b",
        "***",
        "a**",
        "**a",
        "a/**b",
        "[ab]",
        "[!a]",
        "[^a]",
        "[a-b]",
        "[]a]",
        "[!]",
        "[a",
        "[/]",
        "[[:alpha:]]",
        "{a,b}",
        "{a,b}/a",
        "{a",
        "a}",
        "a,b",
        "\\!a",
        "\\#a",
        "#a",
        "\\*",
        "\\[a]",
        "a\\",
        "a\\/",
        "a\\ ",
        "a ",
        "a  ",
        "a\\  ",
        " a",
        "!",
        "/",
        "!/",
        "\\",
        "é",
        "a.b",
        ".a",
        "foo/**/baz",
        "logs/",
        "*.log",
        "!x.log",
        "debug.log",
        "build/",
        "/src/build",
    ];
    for line in lines {
        same_as_ignore(tmp.path(), line.as_bytes());
    }
    // Several lines: the last match wins, a folder-only line is passed over for a file.
    for text in [
        "*.log\n!x.log\n",
        "!x.log\n*.log\n",
        "a\n!a/\n",
        "a/\n!a\n",
        "a/b\n!b\n**/b\n",
        "# comment\n\n  \na\n",
        "\u{feff}a\n",
        "\u{feff}#a\nb\n",
        "a\r\nb\r\n",
        "a\n\u{ff}\nb\n",
        "[z-a]\nb\n",
        "a\n{a,b\nb\n",
    ] {
        same_as_ignore(tmp.path(), text.as_bytes());
    }
    same_as_ignore(tmp.path(), b"a\n\xff\xfe\nb\n");
}

#[test]
fn generated_lines_match_as_the_ignore_crate_matches_them() {
    const PIECES: &[&str] = &[
        "a", "b", ".", "*", "**", "/", "?", "[ab]", "[!a]", "\\", "!", "#", " ", "{a,b}", ",", "{",
        "}", "[", "]", "-", "é",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..1500 {
        let mut text = String::new();
        for _ in 0..=rng.below(3) {
            for _ in 0..=rng.below(6) {
                text.push_str(PIECES[rng.below(PIECES.len())]);
            }
            text.push('\n');
        }
        same_as_ignore(tmp.path(), text.as_bytes());
    }
}

#[test]
fn gitignore_semantics() {
    let tmp = tempfile::tempdir().unwrap();
    let judge = |text: &str, path: &str, is_dir: bool| {
        let file = tmp.path().join(".gitignore");
        std::fs::write(&file, text).unwrap();
        let ours = RuleFile::read(&file).matched(Path::new(path), is_dir);
        assert_eq!(
            ours,
            reference(tmp.path(), text.as_bytes(), path, is_dir),
            "{text:?} {path:?}"
        );
        ours
    };
    // A pattern without a `/` matches at any depth; with one, from the file's folder.
    assert_eq!(judge("a.b\n", "x/y/a.b", false), Some(true));
    assert_eq!(judge("x/a.b\n", "y/x/a.b", false), None);
    assert_eq!(judge("/a\n", "a", false), Some(true));
    assert_eq!(judge("/a\n", "b/a", false), None);
    // A trailing `/` matches folders only.
    assert_eq!(judge("a/\n", "a", true), Some(true));
    assert_eq!(judge("a/\n", "a", false), None);
    // Negation: the last matching line wins.
    assert_eq!(judge("*.log\n!x.log\n", "x.log", false), Some(false));
    assert_eq!(judge("!x.log\n*.log\n", "x.log", false), Some(true));
    // `**`: any number of folders, `a/**` what is inside `a` but not `a`.
    assert_eq!(judge("foo/**/baz\n", "foo/bar/baz", false), Some(true));
    assert_eq!(judge("foo/**/baz\n", "foo/baz", false), Some(true));
    assert_eq!(judge("a/**\n", "a", true), None);
    assert_eq!(judge("a/**\n", "a/b/c", false), Some(true));
    // `*` stops at `/`.
    assert_eq!(judge("/a*\n", "ab/a.b", false), None);
    assert_eq!(judge("/a*\n", "ab", false), Some(true));
    // Escapes: `\#` and `\!` are literal, a `\ ` keeps its space, comments are skipped.
    assert_eq!(judge("\\#a\n", "#a", false), Some(true));
    assert_eq!(judge("#a\n", "#a", false), None);
    assert_eq!(judge("\\!a\n", "!a", false), Some(true));
    assert_eq!(judge("a\\ \n", "a ", false), Some(true));
    assert_eq!(judge("a \n", "a", false), Some(true));
    // A byte-order mark before the first line is dropped.
    assert_eq!(judge("\u{feff}a\n", "a", false), Some(true));
}

/// Writes `text` to `root/rel`, making its folders.
fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn deeper_files_win_and_files_above_the_root_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let above = std::fs::canonicalize(tmp.path()).unwrap();
    write(
        &above,
        ".gitignore",
        "*.log\n/root/pinned\nroot/sub/deep.txt\n",
    );
    let root = above.join("root");
    write(&root, ".gitignore", "*.tmp\n!keep.log\n");
    write(&root, "sub/.gitignore", "!x.tmp\nkeep.log\n");
    write(&root, ".ignore", "!y.tmp\n");
    let rules = Rules::new(&root, true, true);
    let top = rules.enter(None, &root, b"", [true, true, false]);
    let sub = rules.enter(
        top.as_ref(),
        &root.join("sub"),
        b"sub",
        [false, true, false],
    );
    let mut scratch = Vec::new();
    let mut ignored = |chain: Option<&Arc<_>>, rel: &str| {
        rules.ignores(chain, rel.as_bytes(), false, &mut scratch)
    };
    // From the folder above the root.
    assert!(ignored(top.as_ref(), "a.log"));
    assert!(ignored(top.as_ref(), "pinned"));
    assert!(ignored(sub.as_ref(), "sub/deep.txt"));
    // The root's file overrides the one above it, the sub-folder's the root's.
    assert!(!ignored(top.as_ref(), "keep.log"));
    assert!(ignored(sub.as_ref(), "sub/keep.log"));
    assert!(ignored(top.as_ref(), "x.tmp"));
    assert!(!ignored(sub.as_ref(), "sub/x.tmp"));
    // `.ignore` beats `.gitignore`.
    assert!(!ignored(top.as_ref(), "y.tmp"));
    assert!(!ignored(top.as_ref(), "a.txt"));
}
