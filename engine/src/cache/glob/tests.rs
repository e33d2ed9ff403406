//! tanto's globs match what `globset`'s match, with a literal separator as tanto always built
//! them: glob for glob and path for path, errors included, on hand-picked and generated globs.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use globset::{GlobBuilder, GlobSetBuilder};

use super::parse::parse;
use super::program::{Nfa, Program};
use super::{Glob, GlobError};
use crate::cache::test_rng::Rng;

/// Paths to match, chosen to meet each token's edge: separators, dots, non-ASCII, newlines
/// and glob characters in names.
const PATHS: &[&str] = &[
    "",
    "a",
    "b",
    "ab",
    "aa",
    "a.b",
    ".a",
    "a b",
    "é",
    "\u{c3}",
    "a\nb",
    "/",
    "/a",
    "a/",
    "a/b",
    "a/a",
    "b/a",
    "a//b",
    "a/b/a",
    "a/b/c",
    "c/a/b",
    "x/y/a",
    "a/.a",
    "ab/a.b",
    "a\nb/a",
    "[a]",
    "{a,b}",
    "*",
    "?",
    "-",
    "]",
    "a,b",
    "src/main.rs",
    "src/a/b.rs",
    "target/debug/x",
    "Cargo.toml",
    "x.tar.gz",
];

/// Paths that are not UTF-8 (a file name may be any bytes but `/` and NUL): a lone
/// continuation byte, a lone lead byte, a byte no UTF-8 has, and one after a folder.
const BYTE_PATHS: &[&[u8]] = &[
    b"\xa9",
    b"\xc3",
    b"\x80",
    b"\xff",
    b"a/\xff",
    b"\xc3\xa9\xa9",
];

/// Every path the globs are matched against.
fn paths() -> impl Iterator<Item = &'static Path> {
    PATHS
        .iter()
        .map(Path::new)
        .chain(BYTE_PATHS.iter().map(|b| Path::new(OsStr::from_bytes(b))))
}

/// How `globset` judges `glob` against each path: `Err` when it refuses the glob, when it
/// reads it (`build`) or compiles it (`GlobSetBuilder::build`, as tanto did).
fn reference(glob: &str, lenient: bool) -> Result<Vec<bool>, ()> {
    let glob = GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .allow_unclosed_class(lenient)
        .build()
        .map_err(drop)?;
    let mut set = GlobSetBuilder::new();
    set.add(glob);
    let set = set.build().map_err(drop)?;
    Ok(paths().map(|p| set.is_match(p)).collect())
}

/// Checks `glob` against `globset` on every path; with a shape of its own, against the NFA too.
/// Returns how many paths it matched, leniently read (zero when refused).
fn same_as_globset(glob: &str) -> usize {
    let mut matched = 0;
    for lenient in [false, true] {
        let want = reference(glob, lenient);
        let ours = if lenient {
            Glob::lenient(glob)
        } else {
            Glob::new(glob)
        };
        match (&ours, &want) {
            (Ok(ours), Ok(want)) => {
                for (path, &want) in paths().zip(want) {
                    matched += usize::from(lenient && want);
                    assert_eq!(
                        ours.is_match(path),
                        want,
                        "glob {glob:?} (lenient {lenient}), path {path:?}"
                    );
                }
                let tokens = parse(glob, lenient).unwrap();
                let nfa = Nfa::new(&tokens);
                for path in paths() {
                    assert_eq!(
                        nfa.is_match(path.as_os_str().as_bytes()),
                        ours.program.is_match(path.as_os_str().as_bytes()),
                        "glob {glob:?} ({:?}) against its NFA, path {path:?}",
                        ours.program,
                    );
                }
            }
            (Err(_), Err(())) => {}
            _ => panic!(
                "glob {glob:?} (lenient {lenient}): ours {:?}, globset {:?}",
                ours.as_ref().err(),
                want.is_ok()
            ),
        }
    }
    matched
}

#[test]
fn each_kind_of_glob_matches_as_globset_matches_it() {
    let globs = [
        "",
        "a",
        "ab",
        "é",
        "a/b",
        "/a",
        "a/",
        "*",
        "a*",
        "*a",
        "*.rs",
        "a*b",
        "?",
        "a?",
        "??",
        "**",
        "**/",
        "**/a",
        "**/a/b",
        "**/*.rs",
        "**/*",
        "a/**",
        "a/**/b",
        "a/**/",
        "a/**/*",
        "src/**/*.rs",
        "/**/b",
        "***",
        "a**",
        "**a",
        "a/**b",
        "a**/b",
        "**/**",
        "a/**/**/b",
        "[ab]",
        "[!a]",
        "[^a]",
        "[a-b]",
        "[]a]",
        "[!]a]",
        "[-a]",
        "[a-]",
        "[!]",
        "[a",
        "[/]",
        "[!/]",
        "[.-0]",
        "[--/]",
        "[/-0]",
        "[a-z]*",
        "[[:alpha:]]",
        "[[:digit:][:upper:]]",
        "[[:foo:]]",
        "[[:alpha]",
        "[[]",
        "[é]",
        "[!é]",
        "[a-é]",
        "[é-z]",
        "[é-ê]",
        "[z-a]",
        "{a,b}",
        "{a,b}/a",
        "{,a}",
        "a{,b}",
        "{a,}",
        "{}",
        "{{}}",
        "{a,{b,c}}",
        "{**/a,b}",
        "{a/**,b}",
        "{a,**}",
        "x{**,b}",
        "{a",
        "a}",
        "a,b",
        "\\*",
        "\\[a]",
        "a\\",
        "a\\/",
        "\\é",
        "a\nb",
        "*\n*",
        "Cargo.*",
        "*.tar.gz",
        "target/*/x",
        "?\u{a9}",
        "*\u{a9}",
        "[é]?",
        "[!é]?",
        "\u{c3}*",
    ];
    let matching = globs.iter().filter(|g| same_as_globset(g) > 0).count();
    assert!(matching > 65, "{matching} of the globs matched a path");
}

#[test]
fn generated_globs_match_as_globset_matches_them() {
    const PIECES: &[&str] = &[
        "a",
        "b",
        ".",
        "*",
        "**",
        "/",
        "?",
        "[ab]",
        "[!a]",
        "[",
        "]",
        "-",
        "!",
        "^",
        "{",
        "}",
        ",",
        "\\",
        "é",
        "[:alpha:]",
        "\n",
        ":",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut globs, mut matching) = (0, 0);
    for _ in 0..4000 {
        let mut glob = String::new();
        for _ in 0..=rng.below(7) {
            glob.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let matched = same_as_globset(&glob);
        globs += usize::from(Glob::lenient(&glob).is_ok());
        matching += usize::from(matched > 0);
    }
    // The generator must keep producing globs that are read and that match something.
    assert!(
        globs > 2500 && matching > 450,
        "{globs} globs read, {matching} matching"
    );
}

#[test]
fn common_shapes_skip_the_nfa() {
    let shape = |glob: &str| match Glob::new(glob).unwrap().program {
        Program::All => "all",
        Program::Exact(_) => "exact",
        Program::Basename(_) => "basename",
        Program::Suffix(_) => "suffix",
        Program::LastSuffix(_) => "last suffix",
        Program::LastPrefix(_) => "last prefix",
        Program::Under(_) => "under",
        Program::Nfa(_) => "nfa",
    };
    assert_eq!(shape("**"), "all");
    assert_eq!(shape("target"), "exact");
    assert_eq!(shape("**/target"), "basename");
    assert_eq!(shape("**/*.rs"), "suffix");
    assert_eq!(shape("*.rs"), "last suffix");
    assert_eq!(shape("Cargo.*"), "last prefix");
    assert_eq!(shape("src/**"), "under");
    assert_eq!(shape("src/**/*"), "under");
    assert_eq!(shape("src/**/*.rs"), "nfa");
}

#[test]
fn refused_globs_say_why() {
    let err = |glob: &str| Glob::new(glob).unwrap_err();
    assert_eq!(err("src/["), GlobError::UnclosedClass);
    assert_eq!(err("[z-a]"), GlobError::InvalidRange('z', 'a'));
    assert_eq!(err("[é-z]"), GlobError::InvalidRange('é', 'z'));
    assert_eq!(err("{a"), GlobError::UnclosedAlternates);
    assert_eq!(err("a}"), GlobError::UnopenedAlternates);
    assert_eq!(err("a\\"), GlobError::DanglingEscape);
    assert_eq!(err(&"{".repeat(101)), GlobError::TooDeep);
    assert!(Glob::lenient("src/[").is_ok());
    assert_eq!(
        err("src/[").to_string(),
        "unclosed character class; missing `]`"
    );
}

#[test]
fn matching_stays_linear_on_a_glob_built_to_backtrack() {
    // A backtracking matcher takes exponential time here; the state set, a few microseconds.
    let glob = Glob::new(&"*a".repeat(30)).unwrap();
    let path = "a".repeat(29) + "b";
    assert!(!glob.is_match(Path::new(&path)));
    assert!(glob.is_match(Path::new(&"a".repeat(40))));
}
