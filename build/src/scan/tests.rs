//! What the scanner reads from tokens.

use super::*;

fn scan(src: &str) -> Refs {
    refs(&src.parse().expect("tokens"), Path::new("src/lib.rs"))
}

#[test]
fn paths_methods_macros_and_format_captures() {
    let r = scan(
        r#"fn f(x: &Config) -> u8 {
            let s = format!("{SETUP} && {} {width:>8} {{literal}}", crate::a::b(), 'x');
            x.render().len() + helper::<u8>(x.field) + ::dep::thing + $crate::m!()
        }"#,
    );
    let paths: Vec<String> = r.paths.iter().map(|p| p.join("::")).collect();
    for want in [
        "Config",
        "SETUP",
        "width",
        "crate::a::b",
        "helper",
        "::::dep::thing",
        "crate::m",
    ] {
        assert!(
            paths.contains(&want.to_owned()) || r.macros.iter().any(|m| m.join("::") == want),
            "{want} in {paths:?}"
        );
    }
    assert!(
        !paths
            .iter()
            .any(|p| p == "literal" || p == "field" || p == "render"),
        "{paths:?}"
    );
    assert_eq!(r.methods, ["render", "len"]);
    assert!(r.macros.iter().any(|m| m == &["format"]));
}

#[test]
fn cfg_env_and_include() {
    let r = scan(
        r#"#[cfg(all(unix, feature = "x"))] fn f() {
            if cfg!(target_os = "linux") { env!("HOME"); }
            include_str!("data/a.txt"); include_bytes!(some_path());
        }"#,
    );
    assert_eq!(r.cfgs, ["unix", "feature", "target_os"]);
    assert_eq!(r.envs, ["HOME"]);
    assert_eq!(r.includes, [Some(PathBuf::from("src/data/a.txt")), None]);
}

#[test]
fn docs_name_nothing() {
    let r = scan("/// Runs `helper`.\n#[doc = \"more\"] fn f() { #![doc = \"inner\"] }");
    assert!(r.paths.iter().all(|p| p != &["doc"]), "{r:?}");
}

#[test]
fn lifetimes_and_macro_variables_are_not_paths() {
    let r = scan("macro_rules! m { ($x:expr) => { $x + 1 } } fn f<'a>(s: &'a str) {}");
    let paths: Vec<String> = r.paths.iter().map(|p| p.join("::")).collect();
    assert!(!paths.iter().any(|p| p == "a" || p == "x"), "{paths:?}");
}

fn joined(paths: &[Vec<String>]) -> Vec<String> {
    paths.iter().map(|p| p.join("::")).collect()
}

#[test]
fn a_path_after_generic_arguments_is_an_associated_item_not_a_crate() {
    let r = scan("fn f() { Vec::<String>::new(); <m::Maker as m::Make>::make(); <Maker>::CONST; }");
    let paths = joined(&r.paths);
    assert!(!paths.iter().any(|p| p.starts_with("::")), "{paths:?}");
    for want in ["Vec", "String", "m::Maker", "m::Make", "Maker"] {
        assert!(paths.contains(&want.to_owned()), "{want} in {paths:?}");
    }
    assert_eq!(r.methods, ["new", "make", "CONST"]);
}

#[test]
fn a_path_that_starts_with_colons_is_still_a_crate_after_arrows_and_binders() {
    let r = scan(
        "impl<T> ::a::Tr for S<T> {} fn f() -> ::b::X { match x { _ => ::c::Y } } \
         fn h() { let _ = 1 as ::f::T; } \
         fn g(h: &dyn for<'x> ::d::Fn<'x>) -> bool { x > ::e::Z }",
    );
    let paths = joined(&r.paths);
    for want in [
        "::::a::Tr",
        "::::b::X",
        "::::c::Y",
        "::::d::Fn",
        "::::e::Z",
        "::::f::T",
    ] {
        assert!(paths.contains(&want.to_owned()), "{want} in {paths:?}");
    }
    assert!(r.methods.is_empty(), "{:?}", r.methods);
}

#[test]
fn use_declarations_bind_names_and_their_paths_are_read_too() {
    let r = scan(
        "fn f() -> impl Sized + use<> { use super::deep::*; { use a::{b as c, d::{self, e}}; } \
         vec![{ use ::dep::x; x }]; } macro_rules! m { () => { use $crate::k::*; } }",
    );
    let uses: Vec<String> = r
        .uses
        .iter()
        .map(|(n, p)| format!("{n}={}", p.join("::")))
        .collect();
    assert_eq!(uses, ["c=a::b", "d=a::d", "e=a::d::e", "x=::::dep::x"]);
    assert_eq!(joined(&r.globs), ["super::deep", "crate::k"]);
    let paths = joined(&r.paths);
    for want in ["super::deep", "a", "::::dep::x", "crate::k"] {
        assert!(paths.contains(&want.to_owned()), "{want} in {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.starts_with("use")), "{paths:?}");
}
