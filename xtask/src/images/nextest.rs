//! The `cargo-nextest` binary the Rust image carries, taken from the machine.
//!
//! `cargo_steps::test_report` runs `cargo nextest` when the image has it: nextest retries
//! flaky tests, shards a suite (`--partition`) and writes the JUnit file the step's
//! `TestReport` is read from. The image records the version it holds (`TANTO_NEXTEST`), so
//! installing, upgrading or removing nextest on the machine rebuilds the image.

use std::path::PathBuf;
use std::process::Command;

/// What the image records when the machine has no nextest: the steps fall back to
/// `cargo test`.
pub(super) const NONE: &str = "none";

/// The machine's `cargo-nextest` (the first on `PATH`, or `$CARGO_HOME/bin`) and its version,
/// if it has one that runs.
pub(super) fn find() -> Option<(PathBuf, String)> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let candidates = std::env::split_paths(&path)
        .chain(cargo_home.map(|h| h.join("bin")))
        .map(|dir| dir.join("cargo-nextest"));
    for binary in candidates {
        if !binary.is_file() {
            continue;
        }
        let out = Command::new(&binary)
            .args(["nextest", "--version"])
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            // `cargo-nextest 0.9.143 (60fa45f63 2026-08-04)`: the version is the second word.
            let text = String::from_utf8_lossy(&out.stdout);
            let version = text.split_whitespace().nth(1)?.to_owned();
            return Some((binary, version));
        }
    }
    None
}
