//! What a package's build script sets for rustc alone (`cargo::rustc-env`, `cargo::rustc-cfg`)
//! is invisible to `tanto_build::digests()` in that build script, so a step that reads it is
//! keyed by the value it was compiled with: a new value re-runs it, and the miss names it.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::keys::{Project, text};

/// Runs `stamp` with `--out`: why `stamped` ran (`None` when cached), and what it said.
fn stamp(p: &Project) -> (Option<String>, String) {
    let out_dir = p.path("out");
    let out = p.run(&[
        "stamp",
        "--progress",
        "json",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reason = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "step_started")
        .map(|e| e["reason"].as_str().unwrap().to_owned());
    let said = std::fs::read_to_string(out_dir.join("stamped.json")).unwrap();
    (reason, said)
}

#[test]
fn a_value_the_build_script_sets_for_rustc_alone_is_keyed_by_its_value() {
    let p = Project::new("stamp");
    let (reason, said) = stamp(&p);
    assert_eq!(reason.as_deref(), Some("first run: no previous result"));
    assert_eq!(said, r#""stamp-one slow\n""#);
    assert_eq!(stamp(&p).0, None, "cached");

    p.edit(
        "app/build.rs",
        "KEYS_STAMP=stamp-one",
        "KEYS_STAMP=stamp-two",
    );
    p.build();
    let (reason, said) = stamp(&p);
    let reason = reason.expect("a new value re-runs the step");
    assert!(reason.contains("env `KEYS_STAMP`"), "{reason}");
    assert_eq!(said, r#""stamp-two slow\n""#);

    p.edit(
        "app/build.rs",
        "cargo::rustc-check-cfg=cfg(keys_fast)\");",
        "cargo::rustc-check-cfg=cfg(keys_fast)\");\n    println!(\"cargo::rustc-cfg=keys_fast\");",
    );
    p.build();
    let (reason, said) = stamp(&p);
    let reason = reason.expect("a cfg key set re-runs the step");
    assert!(reason.contains("cfg `keys_fast`"), "{reason}");
    assert_eq!(said, r#""stamp-two fast\n""#);
    assert_eq!(stamp(&p).0, None, "cached again");
}
