//! A command's output costs a bounded amount of memory, whatever it prints: a 256 MiB line
//! without a newline is cut for the log and kept only up to the limit for `ExecOutput`, and
//! it streams in linear time. Alone in its test binary, because it measures the process's
//! peak memory.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod docker_support;

use std::time::Duration;

use docker_support::{Harness, SETTINGS};

/// This process's peak resident memory so far, in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_quarter_gigabyte_line_costs_bounded_memory_and_linear_time() {
    let mut h = Harness::new().await;
    let ctx = h.ctx("flood", SETTINGS);
    let c = ctx.container();
    c.sh("true").await.unwrap();
    let before = peak_rss();
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        c.sh("head -c 268435456 /dev/zero | tr '\\0' x"),
    )
    .await
    .expect("256 MiB of output streams in well under two minutes")
    .unwrap();
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 160 << 20,
        "the process grew by {} MiB for one command's output",
        grown >> 20
    );
    assert!(
        out.stdout.len() <= 16 << 20,
        "kept {} bytes",
        out.stdout.len()
    );
    let logs = h.logs("flood");
    assert!(!logs.is_empty(), "the cut line is logged");
    for (_, line) in &logs {
        assert!(line.len() <= 65 << 10, "a log line of {} bytes", line.len());
    }
    ctx.close().await.unwrap();
    h.assert_clean().await;
}
