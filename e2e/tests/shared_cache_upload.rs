//! What a run that writes to the shared cache sends, against a real BuildGrid: a step's
//! redacted logs with its result, never a secret; and the local hits the server lacks (it
//! restarted, or was down when they ran), so the next run that writes fills it again.

mod support;

use std::path::Path;
use std::process::Output;

use support::buildgrid::BuildGrid;
use support::remote_cache::{count, fixture, ok, run, sources};
use support::servers::free_port;
use support::{of_kind, output};

/// `shared_logs` over `src` on the store `store`, writing to `url`, with `token` as its
/// secret.
fn shared_logs(store: &Path, url: &str, token: &str, src: &Path) -> Output {
    output(
        fixture(store)
            .env("TANTO_REMOTE_CACHE", url)
            .env("TANTO_TEST_TOKEN", token)
            .args([
                "shared_logs",
                "--token",
                "env:TANTO_TEST_TOKEN",
                "--remote-upload",
            ])
            .args(["--progress", "json", "--src"])
            .arg(src),
    )
}

#[test]
fn a_result_carries_its_steps_redacted_stdout_and_stderr() {
    const TOKEN: &str = "tok-3f9a1c77e2b4";
    let server = BuildGrid::start("");
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let (_, stderr) = ok(&shared_logs(store.path(), &server.url(), TOKEN, src.path()));
    // `telling` and `spill` are keyed by the secret's value, hashed with this store's own
    // key: no other machine can hit them, so they are not shared.
    assert_eq!(count(&stderr, "result"), 2, "{stderr}");
    let mut logs = server.logs();
    logs.sort();
    assert_eq!(
        logs,
        [
            Some((
                "out: one\nout: three\n3\n".to_owned(),
                "err: two\n".to_owned()
            )),
            Some(("token: ***\n".to_owned(), "again: ***\n".to_owned())),
        ],
        "{stderr}"
    );
    // Nothing the server holds has the value, in any blob.
    assert!(
        !server.holds(TOKEN.as_bytes()),
        "the secret reached the server"
    );
}

#[test]
fn a_run_that_writes_shares_the_local_hits_the_server_lacks() {
    const TOKEN: &str = "tok-5d1e0b3a9c42";
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    // Run while the server is down: every result is in the local store only.
    let down = format!("grpc://127.0.0.1:{}", free_port());
    let (_, stderr) = ok(&run(
        store.path(),
        &down,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    assert!(
        stderr.contains("nothing was read from it or shared"),
        "{stderr}"
    );
    let with_token = |url: &str| shared_logs(store.path(), url, TOKEN, src.path());
    ok(&with_token(&down));

    // Up again, and empty: the next run that writes is fully cached and shares them all.
    let server = BuildGrid::start("");
    let url = server.url();
    let (ev, stderr) = ok(&run(
        store.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    assert!(of_kind(&ev, "step_started").is_empty(), "{stderr}");
    assert_eq!(of_kind(&ev, "step_cached").len(), 3, "{stderr}");
    assert_eq!(count(&stderr, "result"), 3, "{stderr}");
    assert_eq!(count(&stderr, "hit"), 0, "{stderr}");
    // A step keyed by a secret's value is not shared from the store either; a result
    // shared from the store has no log, which the store does not keep.
    let (_, stderr) = ok(&with_token(&url));
    assert_eq!(count(&stderr, "result"), 2, "{stderr}");
    assert_eq!(server.logs(), [None, None, None, None, None], "{stderr}");
    assert!(
        !server.holds(TOKEN.as_bytes()),
        "the secret reached the server"
    );

    // Another machine gets them all from the server.
    let other = tempfile::tempdir().expect("a temporary folder");
    let (ev, stderr) = ok(&run(
        other.path(),
        &url,
        &["shared", "--pause", "0"],
        src.path(),
    ));
    assert!(of_kind(&ev, "step_started").is_empty(), "{stderr}");
    assert_eq!(count(&stderr, "hit"), 3, "{stderr}");

    // Once the server holds them, a run that writes sends nothing again.
    let (_, stderr) = ok(&run(
        store.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    assert_eq!(count(&stderr, "result"), 0, "{stderr}");
    assert_eq!(count(&stderr, "blob"), 0, "{stderr}");
}
