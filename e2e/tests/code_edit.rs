//! Editing a step's code re-runs it, end to end: a small crate of its own depends on tanto by
//! path, is built, run, edited and rebuilt. A comment is not code; a changed body is.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

/// The pipeline file, with `BODY` where the step's command goes.
const MAIN: &str = r#"//! A pipeline whose step a test edits.
use tanto::prelude::*;

/// Greets.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn greet(ctx: &Ctx) -> Result<String> {
    BODY
}

/// One step.
#[pipeline]
pub fn edited() -> String {
    greet()
}

fn main() -> std::process::ExitCode {
    tanto::cli().pipeline(edited).run()
}
"#;

/// The workspace's root, from this crate's manifest folder.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The target folder this test binary was built in (`target/debug/deps/..`): the crate below
/// builds there too, so it reuses the compiled tanto and its dependencies.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A crate in `dir` whose step runs `body`, with the workspace's lock file and dev profile, so
/// cargo picks the same builds of every dependency.
fn write_crate(dir: &Path, body: &str) {
    let root = workspace();
    let manifest = format!(
        "[package]\nname = \"tanto-edited\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\ntanto = {{ path = {:?} }}\n\n[workspace]\n\n{}",
        root.join("runtime"),
        profile(&root)
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN.replace("BODY", body)).unwrap();
}

/// The `[profile..]` tables of the workspace's manifest.
fn profile(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let start = manifest
        .find("[profile")
        .expect("the workspace sets a dev profile");
    manifest[start..].to_owned()
}

/// Builds the crate in `dir`; the path of its binary.
fn build(dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = target_dir();
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("debug/tanto-edited")
}

/// Builds and runs the crate with `body` as the step's code; the step's `step_started` event,
/// if it ran, and what it logged.
fn run(dir: &Path, cache: &Path, body: &str) -> (Option<Value>, Vec<String>) {
    write_crate(dir, body);
    let exe = build(dir);
    let out = output(
        Command::new(exe)
            .args(["edited", "--progress", "json"])
            .env("TANTO_CACHE_DIR", cache)
            .env_remove("CI"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    let logged = of_kind(&events, "step_log")
        .iter()
        .map(|e| e["line"].as_str().unwrap().to_owned())
        .collect();
    let started = of_kind(&events, "step_started")
        .first()
        .map(|e| (*e).clone());
    (started, logged)
}

#[test]
fn editing_a_steps_code_reruns_it_and_a_comment_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let hello = r#"Ok(ctx.container().exec(["echo", "hello"]).await?.stdout)"#;
    let (started, logged) = run(dir.path(), cache.path(), hello);
    assert_eq!(started.unwrap()["reason"], "first run: no previous result");
    assert_eq!(logged, ["hello"]);

    let commented = format!("// Says hello.\n    {hello}");
    let (started, _) = run(dir.path(), cache.path(), &commented);
    assert!(started.is_none(), "a comment is not code: {started:?}");

    let changed = r#"Ok(ctx.container().exec(["echo", "changed"]).await?.stdout)"#;
    let (started, logged) = run(dir.path(), cache.path(), changed);
    let started = started.expect("the edited step runs");
    assert_eq!(started["step"], "greet");
    assert_eq!(started["reason"], "the step's code changed");
    assert_eq!(logged, ["changed"]);
}
