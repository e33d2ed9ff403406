//! Names a fn imports in its own body, and paths after generic arguments or a qualified self.

use super::records;

const DEEP: &str = r#"
pub const ORIGINAL: &str = "alias-v2";
pub const OTHER: &str = "other";
pub struct Maker;
pub trait Make { fn make() -> String; }
impl Make for Maker { fn make() -> String { "make-v2".into() } }
"#;

const MORE: &str =
    "pub mod deep;\npub mod globbed2;\npub mod reexp { pub use super::deep::{Make, Maker}; }\n";

const GLOBBED: &str = r#"
use tanto::prelude::*;

const IMAGE: &str = "busybox";

#[step(image = IMAGE, network = false)]
pub async fn m_fn_glob(ctx: &Ctx) -> Result<String> {
    use super::deep::*;
    Ok(ctx.container().exec(["echo", ORIGINAL, &Maker::make()]).await?.stdout)
}

#[step(image = IMAGE)]
pub async fn through_helper(ctx: &Ctx) -> Result<String> {
    Ok(helper())
}

fn helper() -> String {
    if true {
        {
            use super::{deep as d, deep::{OTHER as RENAMED}};
            use d::ORIGINAL as O;
            return format!("{O} {RENAMED}");
        }
    }
    String::new()
}

macro_rules! shown {
    () => { ORIGINAL };
}

/// The macro's body resolves where it is called: in the fn, with the fn's glob.
#[step(image = IMAGE)]
pub async fn through_a_macro(ctx: &Ctx) -> Result<String> {
    use super::deep::*;
    Ok(shown!().to_owned())
}

#[step(image = IMAGE)]
pub async fn in_a_macro_argument(ctx: &Ctx) -> Result<String> {
    let v = vec![{ use crate::more::deep::*; ORIGINAL }];
    Ok(v.concat())
}
"#;

const LIB: &str = "use tanto::prelude::*;\npub mod more;\n";

fn package(deep: &str) -> Vec<(&'static str, String)> {
    vec![
        ("src/more.rs", MORE.to_owned()),
        ("src/more/deep.rs", deep.to_owned()),
        ("src/more/globbed2.rs", GLOBBED.to_owned()),
    ]
}

fn analysed(
    dir: &std::path::Path,
    deep: &str,
    lib: &str,
) -> std::collections::BTreeMap<String, super::Record> {
    let files = package(deep);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    records(dir, lib, &files)
}

fn has(record: &super::Record, label: &str) -> bool {
    record.entries.iter().any(|e| e.starts_with(label))
}

#[test]
fn a_use_in_a_fn_body_resolves_like_one_in_its_module() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = analysed(dir.path(), DEEP, LIB);
    let glob = &before["`more::globbed2::m_fn_glob`"];
    for want in [
        "`more::deep::ORIGINAL`",
        "`more::deep::Maker`",
        "`impl Make for Maker`",
        "`more::globbed2::IMAGE`",
    ] {
        assert!(has(glob, want), "{want} in {glob:?}");
    }
    assert!(!has(glob, "`more::deep::OTHER`"), "{glob:?}");
    let helper = &before["`more::globbed2::through_helper`"];
    for want in [
        "`more::globbed2::helper`",
        "`more::deep::ORIGINAL`",
        "`more::deep::OTHER`",
    ] {
        assert!(has(helper, want), "{want} in {helper:?}");
    }
    let in_macro = &before["`more::globbed2::in_a_macro_argument`"];
    assert!(has(in_macro, "`more::deep::ORIGINAL`"), "{in_macro:?}");

    let after = analysed(dir.path(), &DEEP.replace("alias-v2", "alias-v3"), LIB);
    for step in [
        "`more::globbed2::m_fn_glob`",
        "`more::globbed2::through_helper`",
        "`more::globbed2::through_a_macro`",
        "`more::globbed2::in_a_macro_argument`",
    ] {
        assert_ne!(before[step].digest, after[step].digest, "{step}");
    }
    let made = analysed(dir.path(), &DEEP.replace("make-v2", "make-v3"), LIB);
    let step = "`more::globbed2::m_fn_glob`";
    assert_ne!(before[step].digest, made[step].digest, "{step}");
}

#[test]
fn turbofish_and_qualified_paths_are_keyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = r#"
use tanto::prelude::*;
pub mod more;
use more::reexp;

#[step]
async fn turbofish(ctx: &Ctx) -> Result<()> { let _ = Vec::<String>::new(); Ok(()) }

#[step]
async fn qualified(ctx: &Ctx) -> Result<()> {
    let _ = <reexp::Maker as reexp::Make>::make();
    Ok(())
}
"#;
    let before = analysed(dir.path(), DEEP, lib);
    for step in ["`turbofish`", "`qualified`"] {
        let r = &before[step];
        assert!(!r.digest.is_empty(), "{step} is cached: {r:?}");
        assert!(
            !r.notes.iter().any(|n| n.contains("Cargo.lock")),
            "{step}: {r:?}"
        );
    }
    let q = &before["`qualified`"];
    for want in [
        "`more::deep::Maker`",
        "`more::deep::Make`",
        "`impl Make for Maker`",
    ] {
        assert!(has(q, want), "{want} in {q:?}");
    }
    let made = analysed(dir.path(), &DEEP.replace("make-v2", "make-v3"), lib);
    assert_ne!(before["`qualified`"].digest, made["`qualified`"].digest);
    assert_eq!(before["`turbofish`"].digest, made["`turbofish`"].digest);
}
