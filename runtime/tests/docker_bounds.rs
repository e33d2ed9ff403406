//! Captures and command output are bounded: a capture streams into the store and stops at its
//! limit, whatever the container holds (a sparse terabyte, hard links), and a command's
//! output keeps what a step needs without growing with what it prints.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod docker_support;

use std::time::{Duration, Instant};

use docker_support::{Harness, SETTINGS};

#[tokio::test]
async fn a_capture_past_the_default_limit_fails_naming_the_path_and_the_limit() {
    let h = Harness::new().await;
    let ctx = h.ctx("sparse", SETTINGS);
    let c = ctx.container();
    // 2 GiB and 1 MiB that take no room on the container's disk.
    c.sh("mkdir /out && truncate -s 2148532224 /out/big")
        .await
        .unwrap();
    let started = Instant::now();
    let err = c.dir("/out").await.expect_err("past the 2 GiB default");
    let message = err.to_string();
    assert!(message.contains("/out"), "{message}");
    assert!(message.contains("2 GiB"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(120));
    ctx.close().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn a_sparse_terabyte_fails_fast_and_writes_nothing_past_the_limit() {
    let h = Harness::new().await;
    let ctx = h.ctx("terabyte", SETTINGS);
    let c = ctx.container().with_max_output(64 << 20);
    c.sh("mkdir /out && truncate -s 1099511627776 /out/big")
        .await
        .unwrap();
    let started = Instant::now();
    let err = c
        .file("/out/big")
        .await
        .expect_err("a terabyte is past 64 MiB");
    assert!(
        matches!(&err, tanto::Error::OutputTooLarge { path, .. } if path == "/out/big"),
        "{err:?}"
    );
    assert!(err.to_string().contains("64 MiB"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // Nothing of it stays in the store's staging area.
    let left = h.store().staged();
    assert!(left.is_empty(), "{left:?}");
    ctx.close().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn hard_links_count_in_full_and_are_read_once() {
    let h = Harness::new().await;
    let ctx = h.ctx("links", SETTINGS);
    let c = ctx.container();
    // 4 MiB, and 24 more names for it: 100 MiB as an export would write it.
    c.sh("mkdir /out && head -c 4194304 /dev/urandom > /out/a && for n in $(seq 1 24); do ln /out/a /out/l$n; done")
        .await
        .unwrap();
    let err = c
        .with_max_output(64 << 20)
        .dir("/out")
        .await
        .expect_err("100 MiB with its hard links");
    assert!(
        matches!(err, tanto::Error::OutputTooLarge { .. }),
        "{err:?}"
    );
    let dir = c.with_max_output(128 << 20).dir("/out").await.unwrap();
    let names = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(names, 25);
    ctx.close().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn output_past_what_is_kept_is_flagged_and_errors_show_the_real_end() {
    let h = Harness::new().await;
    let ctx = h.ctx("chatty", SETTINGS);
    let c = ctx.container();
    // 20 MiB of lines on stdout.
    let out = c
        .sh("yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 20971520")
        .await
        .unwrap();
    assert!(out.truncated);
    assert_eq!(out.stdout.len(), tanto::ExecOutput::KEEP);
    // 20 MiB of noise on stderr, then the line that explains the failure.
    let err = c
        .sh("yes noise | head -c 20971520 >&2; echo 'the real reason' >&2; exit 4")
        .await
        .expect_err("exits 4");
    match err {
        tanto::Error::CommandFailed { code, tail, .. } => {
            assert_eq!(code, 4);
            assert!(tail.ends_with("the real reason"), "{tail}");
            assert!(tail.lines().count() <= 50);
        }
        other => panic!("{other:?}"),
    }
    let small = c.sh("echo hi").await.unwrap();
    assert!(!small.truncated);
    assert_eq!(small.stdout, "hi\n");
    ctx.close().await.unwrap();
    h.assert_clean().await;
}
