//! Flags checked before a run and files a run is asked to write: an unknown pipeline or a value
//! flag of the wrong type exits 2 before anything runs, and a `--junit` or `--trace` file that
//! cannot be written after the run fails it.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::*;

#[test]
fn a_value_flag_of_the_wrong_type_exits_2_before_anything_runs() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    for (pause, why) in [
        ("abc", "invalid type: string \"abc\", expected u32"),
        ("-1", "invalid value: integer `-1`, expected u32"),
        ("1.5", "invalid type: floating point `1.5`, expected u32"),
        (
            "99999999999",
            "invalid value: integer `99999999999`, expected u32",
        ),
    ] {
        for plan in [false, true] {
            let mut cmd = fixture(cache.path());
            cmd.args(["shared", "--pause", pause, "--src"])
                .arg(src.path());
            if plan {
                cmd.arg("--plan");
            }
            let out = output(&mut cmd);
            assert_eq!(out.status.code(), Some(2), "{pause} {plan}: {out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!("error: --pause: {why}\n"),
                "{pause} {plan}"
            );
        }
    }
    assert!(!cache.path().join("logs").exists(), "no run happened");
}

#[test]
fn a_junit_or_trace_file_that_cannot_be_written_fails_the_run() {
    let cache = tempfile::tempdir().unwrap();
    // `/dev/full` opens, so the check before the run passes, and every write to it fails.
    for flag in ["--junit", "--trace"] {
        let out = output(fixture(cache.path()).args(["wide", flag, "/dev/full"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: {flag}: cannot write `/dev/full`: No space left on device (os error 28)"
            )),
            "{flag}: {stderr}"
        );
    }
}

#[test]
fn an_unknown_pipeline_exits_2_listing_the_pipelines() {
    let cache = tempfile::tempdir().unwrap();
    for (name, clap_says) in [
        ("nosuch", "error: unrecognized subcommand 'nosuch'\n"),
        (
            "matrx",
            "error: unrecognized subcommand 'matrx'\n\n  tip: a similar subcommand exists: 'matrix'\n",
        ),
    ] {
        let out = output(fixture(cache.path()).arg(name));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with(clap_says), "{stderr}");
        let last = stderr.lines().last().unwrap();
        assert!(
            last.starts_with("pipelines: `tested`, `unsharded`, `sharded`, "),
            "{last}"
        );
        assert!(last.contains(", `matrix`, "), "{last}");
        assert!(
            last.ends_with(
                "` (and the `cache` command); `--list` shows each pipeline with its steps"
            ),
            "{last}"
        );
    }
    assert!(!cache.path().join("logs").exists(), "no run happened");
}

/// A read-only file system mounted at a folder, unmounted when dropped.
struct ReadOnly(std::path::PathBuf);

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_store_that_cannot_be_written_is_a_usage_error_that_names_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let mount = |options: &str| {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&store)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount -o {options} (the e2e tests run as root)"
        );
    };
    mount("size=1m");
    let _mounted = ReadOnly(store.clone());
    // A store as a run leaves it, then made read-only.
    for sub in ["tmp", "blobs", "trees", "checkouts", "ac", "last"] {
        std::fs::create_dir(store.join(sub)).unwrap();
    }
    mount("remount,ro,size=1m");
    let src = tempfile::tempdir().unwrap();
    let why = format!(
        "error: cache: the store at {0} cannot be written (Read-only file system (os error 30)): a run writes to it, `--plan` and `cache verify` or `prune` too (the lock file {0}/lease.lock); make it writable for this user, or set TANTO_CACHE_DIR to a folder of your own\n",
        store.display()
    );
    for args in [
        &["shared", "--pause", "0", "--plan", "--src"][..],
        &["cache", "verify"],
        &["cache", "prune", "--max-size", "1"],
    ] {
        let mut cmd = fixture(&store);
        cmd.args(args);
        if args[0] == "shared" {
            cmd.arg(src.path());
        }
        let out = output(&mut cmd);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), why, "{args:?}");
    }
    // Looking only reads.
    let stats = output(fixture(&store).args(["cache", "stats"]));
    assert!(stats.status.success(), "{stats:?}");
}
