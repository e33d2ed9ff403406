//! Helpers of the shared-cache tests: the same sources on each "machine", runs against a
//! server, and what their summary line and warnings say.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::{events, output};

/// The fixture binary with its own store: `TANTO_E2E_FIXTURE` names a copy of it when the
/// target folder is shared with builds of other branches.
pub fn fixture(cache: &Path) -> Command {
    match std::env::var_os("TANTO_E2E_FIXTURE") {
        Some(bin) => {
            let mut cmd = Command::new(bin);
            cmd.env("TANTO_CACHE_DIR", cache)
                .env_remove("CI")
                .env_remove("GITHUB_ACTIONS");
            cmd
        }
        None => super::fixture(cache),
    }
}

/// The same sources in a new folder: a text file, a nested one, and 5 MiB of bytes (past the
/// batch limit, so they travel by ByteStream).
pub fn sources() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a source folder");
    std::fs::write(dir.path().join("readme.txt"), "shared\n").expect("write readme.txt");
    std::fs::create_dir(dir.path().join("nested")).expect("create nested/");
    std::fs::write(dir.path().join("nested/data.txt"), "nested data\n")
        .expect("write nested/data.txt");
    let big: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), big).expect("write big.bin");
    dir
}

/// Runs `args` with the store at `cache` against `url`, in JSON mode.
pub fn run(cache: &Path, url: &str, args: &[&str], src: &Path) -> Output {
    output(
        fixture(cache)
            .env("TANTO_REMOTE_CACHE", url)
            .env_remove("TANTO_REMOTE_UPLOAD")
            .args(args)
            .args(["--progress", "json", "--src"])
            .arg(src),
    )
}

pub fn ok(out: &Output) -> (Vec<Value>, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed: {stderr}");
    (events(&out.stdout), stderr)
}

/// The number before ` what` in the `remote cache` summary line.
pub fn count(stderr: &str, what: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("tanto: remote cache "))
        .unwrap_or_else(|| panic!("no remote cache line in {stderr}"));
    let at = line
        .find(&format!(" {what}"))
        .unwrap_or_else(|| panic!("no `{what}` in {line}"));
    let digits: Vec<char> = line[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    let digits: String = digits.into_iter().rev().collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no count before `{what}` in {line}"))
}

/// The lines that warn about the remote cache, or about anything (the summary line aside).
pub fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("tanto: remote cache "))
        .filter(|l| l.contains("remote") || l.contains("WARN") || l.contains("warning"))
        .collect()
}

pub fn run_id(events: &[Value]) -> String {
    super::run_id(events)
}
