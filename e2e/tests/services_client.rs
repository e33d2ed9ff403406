//! Services with real Rust client crates: a `tokio-postgres` program built on the host (this
//! package's `pg_client` binary) runs in a step's container, reaches PostgreSQL as `db`,
//! creates a table, inserts rows and reads them back; a `redis` one (`redis_client`) does the
//! same with Redis bound as `cache`.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::*;

#[test]
fn a_tokio_postgres_program_writes_and_reads_a_real_postgresql() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["pg_client", "--progress", "json", "--client"])
            .arg(env!("CARGO_BIN_EXE_pg_client")),
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    // What the program read back through the wire protocol, as the step's log shows it.
    let logs = of_kind(&events, "step_log");
    assert!(
        logs.iter()
            .any(|e| e["line"] == "read back: 1=ada,2=grace,3=linus"),
        "{logs:?}"
    );
    assert_nothing_left(&run_id(&events));
}

#[test]
fn a_redis_program_writes_and_reads_a_real_redis() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["redis_client", "--progress", "json", "--client"])
            .arg(env!("CARGO_BIN_EXE_redis_client")),
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    let logs = of_kind(&events, "step_log");
    assert!(
        logs.iter()
            .any(|e| e["line"] == "read back: greeting=hello counter=42"),
        "{logs:?}"
    );
    assert_nothing_left(&run_id(&events));
}

/// Asserts that run `run` left no container and no network.
fn assert_nothing_left(run: &str) {
    let label = format!("label=tanto.run={run}");
    for list in [["container", "ls", "-aq"], ["network", "ls", "-q"]] {
        let left = output(Command::new("docker").args(list).args(["--filter", &label]));
        assert!(left.status.success(), "{left:?}");
        let left = String::from_utf8_lossy(&left.stdout).trim().to_owned();
        assert_eq!(left, "", "{} of run {run} left behind", list[0]);
    }
}
