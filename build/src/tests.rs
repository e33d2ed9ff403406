//! The analysis of whole packages written into temporary folders: which edits change which
//! step's record, and which fallbacks are taken.

use std::path::Path;

use super::analyse;

/// A step's record, read back.
#[derive(Debug)]
struct Record {
    digest: String,
    notes: Vec<String>,
    /// `label at`, for the entries.
    entries: Vec<String>,
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const MANIFEST: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nalias_of_a_crate = { package = \"real\", path = \"../real\" }\n";

/// A package with `lib.rs` and `files`, analysed: each step's record by its own label.
fn records(
    dir: &Path,
    lib: &str,
    files: &[(&str, &str)],
) -> std::collections::BTreeMap<String, Record> {
    write(dir, "Cargo.toml", MANIFEST);
    write(dir, "src/lib.rs", lib);
    for (rel, text) in files {
        write(dir, rel, text);
    }
    // A lock that lists the package, with no dependencies: unlocked, every name its manifest
    // gives a dependency would make a step that uses it uncacheable.
    write(
        dir,
        "Cargo.lock",
        "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n",
    );
    let analysis = analyse(dir, "app", "0.1.0", Some(&dir.join("Cargo.lock")));
    analysis
        .steps
        .values()
        .map(|text| {
            let fields: Vec<&str> = text.split(';').collect();
            assert_eq!(fields[0], "1", "{text}");
            let record = Record {
                digest: fields[1].to_owned(),
                notes: fields[3]
                    .split('|')
                    .filter(|n| !n.is_empty())
                    .map(unescape)
                    .collect(),
                entries: fields[4..]
                    .iter()
                    .map(|e| {
                        let parts: Vec<String> = e.split('|').map(unescape).collect();
                        format!("{} {}", parts[0], parts[1]).trim().to_owned()
                    })
                    .collect(),
            };
            (unescape(fields[2]), record)
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("%3B", ";")
        .replace("%7C", "|")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

const LIB: &str = r#"
use tanto::prelude::*;

mod util;

// Where every step starts.
const SETUP: &str = "cd /src";

const UNUSED: u8 = 1;

#[step(image = "busybox")]
pub async fn uses_setup(ctx: &Ctx) -> Result<()> {
    ctx.container().sh(&format!("{SETUP} && true")).await?;
    Ok(())
}

#[step(image = "busybox")]
pub async fn uses_helper(ctx: &Ctx) -> Result<()> {
    ctx.container().sh(&first()).await?;
    Ok(())
}

fn first() -> String {
    util::second()
}
"#;

const UTIL: &str = r#"
/// Two calls away from the step.
pub(crate) fn second() -> String {
    super::super_helper("echo 2")
}
"#;

fn with_super_helper(lib: &str) -> String {
    format!("{lib}\nfn super_helper(s: &str) -> String {{ s.to_owned() }}\n")
}

#[test]
fn each_edit_rekeys_exactly_the_steps_that_reach_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = with_super_helper(LIB);
    let before = records(dir.path(), &lib, &[("src/util.rs", UTIL)]);
    assert_eq!(before.len(), 2);
    let setup = &before["`uses_setup`"];
    assert!(
        setup.entries.contains(&"`SETUP` src/lib.rs:7".to_owned()),
        "{setup:?}"
    );
    assert!(
        !setup.entries.iter().any(|e| e.contains("second")),
        "{setup:?}"
    );
    let helper = &before["`uses_helper`"];
    for want in [
        "`first` src/lib.rs:23",
        "`util::second` src/util.rs:3",
        "`super_helper` src/lib.rs:27",
    ] {
        assert!(
            helper.entries.contains(&want.to_owned()),
            "{want} in {helper:?}"
        );
    }
    assert!(
        helper.notes.is_empty() && setup.notes.is_empty(),
        "{helper:?}"
    );

    let edited = records(dir.path(), &lib.replace("cd /src", "cd /work"), &[]);
    assert_ne!(edited["`uses_setup`"].digest, setup.digest);
    assert_eq!(edited["`uses_helper`"].digest, helper.digest);

    let deep = records(
        dir.path(),
        &lib,
        &[("src/util.rs", &UTIL.replace("echo 2", "echo 3"))],
    );
    assert_ne!(
        deep["`uses_helper`"].digest, helper.digest,
        "two calls deep"
    );
    assert_eq!(deep["`uses_setup`"].digest, setup.digest);

    let unused = records(
        dir.path(),
        &lib.replace("UNUSED: u8 = 1", "UNUSED: u8 = 2"),
        &[("src/util.rs", UTIL)],
    );
    let layout = lib
        .replace(
            "// Where every step starts.",
            "// Where each step starts.\n\n",
        )
        .replace("fn first()", "fn   first  ()");
    let moved = records(dir.path(), &layout, &[]);
    for after in [&unused, &moved] {
        assert_eq!(after["`uses_setup`"].digest, setup.digest);
        assert_eq!(after["`uses_helper`"].digest, helper.digest);
    }
    assert!(
        moved["`uses_setup`"]
            .entries
            .contains(&"`SETUP` src/lib.rs:9".to_owned()),
        "the line moved"
    );
}

#[test]
fn globs_macros_trait_methods_and_impls_are_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = r#"
mod consts {
    pub const NAME: &str = "n";
    pub const OTHER: &str = "o";
}
use consts::*;

macro_rules! cmd {
    ($x:expr) => { format!("{} {}", $crate::PREFIX, $x) };
}
const PREFIX: &str = "run";

trait Shout { fn shout(&self) -> String; }
impl Shout for String { fn shout(&self) -> String { self.to_uppercase() } }

struct Config;
impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(PAD) }
}
const PAD: &str = "  ";

#[step]
async fn a(ctx: &Ctx) -> Result<()> {
    let c = Config;
    let s = cmd!(NAME).shout() + &c.to_string();
    Ok(())
}
"#;
    let records = records(dir.path(), lib, &[]);
    let a = &records["`a`"];
    for want in [
        "`consts::NAME`",
        "`cmd!`",
        "`PREFIX`",
        "`Shout`",
        "`impl Shout for String`",
        "`Config`",
        "`impl std::fmt::Display for Config`",
        "`PAD`",
    ] {
        assert!(
            a.entries.iter().any(|e| e.starts_with(want)),
            "{want} in {a:?}"
        );
    }
    assert!(!a.entries.iter().any(|e| e.contains("OTHER")), "{a:?}");
}

#[test]
fn what_cannot_be_seen_is_keyed_coarsely_and_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = r#"
make_items!();
#[cfg_attr(unix, path = "hidden.rs")]
mod hidden;

#[step]
async fn generated(ctx: &Ctx) -> Result<()> { made_by_macro(); Ok(()) }

#[step]
async fn pathed(ctx: &Ctx) -> Result<()> { hidden::f(); Ok(()) }

#[step]
async fn renamed(ctx: &Ctx) -> Result<()> { alias_of_a_crate::f(); Ok(()) }

#[step]
async fn unreadable(ctx: &Ctx) -> Result<()> { let _ = include_str!(some_path()); Ok(()) }

#[step]
#[cfg(feature = "fast")]
async fn gated(ctx: &Ctx) -> Result<()> { Ok(()) }
"#;
    let records = records(dir.path(), lib, &[("src/hidden.rs", "pub fn f() {}")]);
    let notes = |step: &str| records[step].notes.join("\n");
    assert!(
        notes("`generated`").contains(
            "`make_items!(..)` (src/lib.rs:2), a macro call that may define a name it uses"
        ),
        "{}",
        notes("`generated`")
    );
    assert!(
        records["`generated`"]
            .entries
            .iter()
            .any(|e| e.starts_with("`make_items!(..)`"))
    );
    assert!(
        notes("`pathed`").contains(
            "every file of the crate, since module `hidden` takes its file from a `#[path]`"
        ),
        "{}",
        notes("`pathed`")
    );
    assert!(
        records["`pathed`"]
            .entries
            .contains(&"the crate's files".to_owned())
    );
    assert!(
        notes("`renamed`")
            .contains("every dependency, since `alias_of_a_crate::f` is not resolved"),
        "{}",
        notes("`renamed`")
    );
    assert!(records["`unreadable`"].digest.is_empty(), "uncacheable");
    assert!(
        notes("`unreadable`").contains("reads a file whose path is not a literal"),
        "{}",
        notes("`unreadable`")
    );
    assert!(
        records["`gated`"]
            .entries
            .contains(&"cfg `feature`".to_owned()),
        "{:?}",
        records["`gated`"]
    );
}

#[test]
fn dependencies_are_keyed_by_identity_even_behind_other_crates_globs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"serde\",\n \"tanto\",\n]\n\n\
        [[package]]\nname = \"serde\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab\"\n\n\
        [[package]]\nname = \"tanto\"\nversion = \"0.1.0\"\n";
    write(dir.path(), "Cargo.lock", lock);
    let lib = r#"
use tanto::prelude::*;

#[step]
async fn calls(ctx: &Ctx) -> Result<()> { serde::f(); Ok(()) }

mod globbed {
    use serde::*;
    #[step]
    async fn through_glob(ctx: &Ctx) -> Result<()> { Thing::new(); Ok(()) }
}

#[step]
async fn neither(ctx: &Ctx) -> Result<()> { Error::other("x"); Ok(()) }
"#;
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
    );
    write(dir.path(), "src/lib.rs", lib);
    let analysis = analyse(
        dir.path(),
        "app",
        "0.1.0",
        Some(&dir.path().join("Cargo.lock")),
    );
    let record = |step: &str| {
        analysis
            .steps
            .values()
            .find(|r| r.split(';').nth(2) == Some(step))
            .unwrap_or_else(|| panic!("{step} in {analysis:?}"))
            .clone()
    };
    assert!(
        record("`calls`").contains(";crate `serde`|1.0.1|"),
        "{}",
        record("`calls`")
    );
    let globbed = record("`globbed::through_glob`");
    assert!(globbed.contains(";crate `serde`|1.0.1|"), "{globbed}");
    let neither = record("`neither`");
    assert!(
        !neither.contains("crate `"),
        "tanto's prelude keys nothing: {neither}"
    );
    assert!(
        !neither.contains("every dependency"),
        "no rename, no fallback: {neither}"
    );
}

#[test]
fn globs_that_import_each_other_resolve_and_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = r#"
use tanto::prelude::*;
use a::*;
use b::*;
mod a { pub use super::b::*; pub use crate::c::*; pub const X: u8 = 1; }
mod b { pub use super::a::*; pub use crate::c::*; }
mod c { pub use super::a::*; pub use super::b::*; pub const Y: u8 = 2; }

#[step]
async fn s(ctx: &Ctx) -> Result<()> { let _ = (X, Y, unknown_local, other, more); Ok(()) }
"#;
    let started = std::time::Instant::now();
    let records = records(dir.path(), lib, &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let s = &records["`s`"];
    assert!(s.entries.iter().any(|e| e.starts_with("`a::X`")), "{s:?}");
    assert!(s.entries.iter().any(|e| e.starts_with("`c::Y`")), "{s:?}");
}

#[test]
fn records_list_fewer_items_when_they_would_not_fit_in_rustcs_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lib = String::new();
    for c in 0..60 {
        lib.push_str(&format!("const SOME_LONGER_CONST_NAME_{c}: u8 = {c};\n"));
    }
    let uses: Vec<String> = (0..60)
        .map(|c| format!("SOME_LONGER_CONST_NAME_{c}"))
        .collect();
    for s in 0..300 {
        lib.push_str(&format!(
            "#[step]\nasync fn s{s}(ctx: &Ctx) -> Result<()> {{ let _ = [{}]; Ok(()) }}\n",
            uses.join(", ")
        ));
    }
    write(dir.path(), "Cargo.toml", MANIFEST);
    write(dir.path(), "src/lib.rs", &lib);
    let analysis = analyse(dir.path(), "app", "0.1.0", None);
    assert_eq!(analysis.steps.len(), 300);
    let total: usize = analysis.steps.values().map(String::len).sum();
    assert!(total <= super::RECORDS_BUDGET, "{total}");
    for record in analysis.steps.values() {
        let fields: Vec<&str> = record.split(';').collect();
        assert_eq!(
            fields[1].len(),
            64,
            "the digest still covers everything: {record}"
        );
        assert!(
            fields.last().is_some_and(|f| f.contains(" more items||")),
            "{record}"
        );
    }
}

#[test]
fn a_macro_called_by_its_path_after_a_use_is_in_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = r#"
mod tricky {
    macro_rules! wrap {
        ($e:expr) => { format!("[{}]", $e) };
    }
    pub(crate) use wrap;
}

#[step]
async fn by_path(ctx: &Ctx) -> Result<()> { let _ = tricky::wrap!("m"); Ok(()) }

#[step]
async fn by_crate_path(ctx: &Ctx) -> Result<()> { let _ = crate::tricky::wrap!("m"); Ok(()) }
"#;
    let before = records(dir.path(), lib, &[]);
    for step in ["`by_path`", "`by_crate_path`"] {
        assert!(
            before[step]
                .entries
                .iter()
                .any(|e| e.starts_with("`wrap!`")),
            "{step}: {:?}",
            before[step]
        );
    }
    let after = records(dir.path(), &lib.replace("\"[{}]\"", "\"<{}>\""), &[]);
    for step in ["`by_path`", "`by_crate_path`"] {
        assert_ne!(before[step].digest, after[step].digest, "{step}");
    }
}

mod compiled;
mod local_uses;
mod unlocked;
