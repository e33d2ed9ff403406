//! Facts about this machine that the tests' servers depend on: who we are, what is installed.
//! Shared with `examples/hello/tests/podman.rs` (through `#[path]`), like `podman.rs`.
#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Stdio};

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Panics, saying how to install it, unless `program` is on the `PATH`: a test that needs a
/// program never skips silently.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{program}` is missing: install it with `apt-get install {package}` \
         (`cargo xtask test` does, as root or with CI set)"
    );
}
