//! Runs a `cache_*` test binary again as an unprivileged user when the suite runs as root.
//!
//! Root may write into a read-only folder and remove entries from it, so a store bug that only
//! bites ordinary users (a captured folder with mode 0555, a Go module cache, a Nix tree)
//! would pass unnoticed under root. Each `cache_*` binary therefore has a test that, as root,
//! re-executes the binary as `nobody` with every other test selected, and fails unless that
//! child ran some tests and all of them passed. As any other user it does nothing: the tests
//! already run unprivileged.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child, which must not start another child.
const CHILD_VAR: &str = "TANTO_TEST_UNPRIVILEGED";

/// As root: runs this test binary's other tests (all but `this_test`) as `nobody` and asserts
/// that they ran and passed. Otherwise does nothing.
pub(crate) fn rerun_as_unprivileged_user(this_test: &str) {
    if std::env::var_os(CHILD_VAR).is_some() || !is_root() {
        return;
    }
    let (uid, gid) = nobody();
    // The child's temporary files (every store of the tests) go to a folder it owns.
    let home = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::chown(home.path(), Some(uid), Some(gid)).expect("chown the child's home");
    let exe = reachable_exe(home.path());

    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
        "--",
    ])
    .arg(&exe)
    .args(["--exact", "--skip", this_test])
    .current_dir(home.path())
    .env(CHILD_VAR, "1")
    .env("TMPDIR", home.path())
    .env("HOME", home.path())
    .env_remove("TANTO_CACHE_DIR");
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {cmd:?}: {e}; the store tests must also run unprivileged — install \
             util-linux's `setpriv` or run the suite as a non-root user"
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passed = passed_count(&stdout);
    assert!(
        out.status.success() && passed > 0,
        "the tests failed as uid {uid} ({} passed, {}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        passed,
        out.status
    );
    eprintln!("ran {passed} tests again as uid {uid}");
}

#[allow(unsafe_code)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of `nobody`, from `/etc/passwd` (65534 where it is not listed).
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"nobody") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .unwrap_or((65534, 65534))
}

/// This test binary, or a copy of it in `home` when `nobody` cannot reach it where it is
/// (a target folder under a private home).
fn reachable_exe(home: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let others_can =
        |p: &Path, bits: u32| std::fs::metadata(p).is_ok_and(|m| m.mode() & bits == bits);
    let reachable =
        others_can(&exe, 0o005) && exe.ancestors().skip(1).all(|a| others_can(a, 0o001));
    if reachable {
        return exe;
    }
    let copy = home.join("tests-bin");
    std::fs::copy(&exe, &copy).expect("copy the test binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copy
}

/// N of libtest's `test result: ok. N passed; …` line (0 when absent).
fn passed_count(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
        .filter_map(|l| l.split("; ").next())
        .filter_map(|l| l.rsplit(' ').nth(1)?.parse::<u64>().ok())
        .sum()
}
