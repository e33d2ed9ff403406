//! Faults of the shared cache met while fetching, against a real BuildGrid: an output that
//! cannot be fetched is made here again by a step that is not reproducible (random bytes),
//! and what reads it, a step that runs or `--out`, gets the new one instead of a failed run;
//! a server that stalls (stopped with SIGSTOP) is given up after `TANTO_REMOTE_TIMEOUT`
//! without data, whatever the blob's size, and the run leaves no staging folder behind; a
//! result whose output left the server's CAS is a miss that says so.

mod support;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::buildgrid::BuildGrid;
use support::remote_cache::{fixture, ok, run, sources, warnings};
use support::{of_kind, started_reason, steps};

/// Run A, on a machine of its own: `remade` with `mib` MiB of noise, uploaded to `url`.
fn upload(url: &str, mib: &str) {
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    ok(&run(
        store.path(),
        url,
        &["remade", "--mib", mib, "--wait", "0", "--remote-upload"],
        src.path(),
    ));
}

/// Machine B: an empty store, and the same sources as A's.
fn machine_b() -> (tempfile::TempDir, tempfile::TempDir) {
    (tempfile::tempdir().expect("a temporary folder"), sources())
}

/// The messages of the notes about step `step`.
fn notes<'a>(events: &'a [Value], step: &str) -> Vec<&'a str> {
    of_kind(events, "step_note")
        .iter()
        .filter(|e| e["step"] == step)
        .filter_map(|e| e["message"].as_str())
        .collect()
}

/// What is left under the store's `tmp/` once its runs ended.
fn staged(store: &Path) -> Vec<String> {
    std::fs::read_dir(store.join("tmp"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_step_that_runs_reads_what_its_producer_made_again_here() {
    let server = BuildGrid::start("");
    let url = server.url();
    upload(&url, "1");
    let (store_b, src_b) = machine_b();
    // The noise is the largest blob: after the lookup, its fetch finds it damaged.
    let damaged = server.damage_largest_blob();

    let out = run(
        store_b.path(),
        &url,
        &[
            "remade",
            "--mib",
            "1",
            "--wait",
            "0",
            "--no-cache",
            "measure",
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    // `noise` was a remote hit, and ran here after all: its events and the counts say so.
    assert_eq!(
        steps(&ev, "step_started"),
        ["nap", "noise", "measure"],
        "{stderr}"
    );
    let rerun = started_reason(&ev, "noise");
    assert!(
        rerun.starts_with("runs here after all")
            && rerun.contains(&damaged[..12])
            && rerun.contains("does not match its digest"),
        "{rerun} {stderr}"
    );
    assert!(
        steps(&ev, "step_finished").contains(&"noise".to_owned()),
        "{stderr}"
    );
    let finished = &of_kind(&ev, "run_finished")[0];
    assert_eq!(
        (&finished["ran"], &finished["cached"]),
        (&3.into(), &0.into()),
        "{stderr}"
    );
    // A hit whose step ran here after all is not counted as one.
    assert!(
        stderr.contains(&format!("tanto: remote cache {url}: 0 hits, ")),
        "{stderr}"
    );
    let noted = notes(&ev, "noise");
    assert!(
        noted.iter().any(
            |n| n.starts_with("`noise` ran here and its output 0 came out as ")
                && n.contains(", not as the shared cache's ")
        ),
        "{noted:?} {stderr}"
    );
    let measured = started_reason(&ev, "measure");
    assert!(
        measured.contains("`noise` ran here again"),
        "{measured} {stderr}"
    );

    // What ran here is in B's store under the keys of what it read: cached, all of it.
    let closed = format!("grpc://127.0.0.1:{}", support::servers::free_port());
    let (ev, stderr) = ok(&run(
        store_b.path(),
        &closed,
        &["remade", "--mib", "1", "--wait", "0"],
        src_b.path(),
    ));
    assert_eq!(steps(&ev, "step_started"), ["nap"], "{stderr}");
}

#[test]
fn a_miss_says_the_shared_result_lost_its_outputs() {
    let server = BuildGrid::start("");
    let url = server.url();
    upload(&url, "1");
    let (store_b, src_b) = machine_b();
    // The noise is the largest blob: gone, as an eviction would leave the server.
    server.remove_largest_blob();

    let (ev, stderr) = ok(&run(
        store_b.path(),
        &url,
        &["remade", "--mib", "1", "--wait", "0"],
        src_b.path(),
    ));
    let reason = started_reason(&ev, "noise");
    assert_eq!(
        reason,
        "first run: no previous result; the shared cache has a result for this key, but 1 of \
         its 1 outputs is gone from the server's storage",
        "{stderr}"
    );
}

#[test]
fn out_writes_what_a_producer_made_again_here() {
    let server = BuildGrid::start("");
    let url = server.url();
    upload(&url, "1");
    let (store_b, src_b) = machine_b();
    server.damage_largest_blob();

    let dest = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        store_b.path(),
        &url,
        &[
            "remade",
            "--mib",
            "1",
            "--wait",
            "0",
            "--out",
            dest.path().to_str().expect("a UTF-8 path"),
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    // `noise` ran here for `--out`, after the run: its own events say so.
    assert_eq!(steps(&ev, "step_started"), ["nap", "noise"], "{stderr}");
    assert_eq!(steps(&ev, "step_finished"), ["nap", "noise"], "{stderr}");
    let written = std::fs::metadata(dest.path().join("noise.bin"))
        .unwrap_or_else(|e| panic!("no noise.bin in {}: {e}; {stderr}", dest.path().display()));
    assert_eq!(written.len(), 1024 * 1024, "{stderr}");
    assert!(
        stderr.contains(
            "warning: --out: the output of `noise` was made here again (the shared one could \
             not be fetched), and differs from the shared one"
        ),
        "{stderr}"
    );
}

/// The processes of the BuildGrid that listens on `port`, and those they started.
fn server_pids(port: &str) -> Vec<u32> {
    let procs: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid, String::from_utf8_lossy(&cmdline).into_owned()))
        })
        .collect();
    let listens = |cmdline: &str| {
        cmdline.contains("buildgrid.server.app")
            && cmdline.split('\0').any(|arg| {
                arg.ends_with("buildgrid.yml")
                    && std::fs::read_to_string(arg)
                        .is_ok_and(|c| c.contains(&format!("127.0.0.1:{port}\"")))
            })
    };
    let mut pids: Vec<u32> = procs
        .iter()
        .filter(|(_, _, c)| listens(c))
        .map(|p| p.0)
        .collect();
    loop {
        let children: Vec<u32> = procs
            .iter()
            .filter(|(pid, ppid, _)| pids.contains(ppid) && !pids.contains(pid))
            .map(|p| p.0)
            .collect();
        if children.is_empty() {
            return pids;
        }
        pids.extend(children);
    }
}

/// A BuildGrid, its URL, and the processes that serve it, for signals.
fn stoppable() -> (BuildGrid, String, Vec<u32>) {
    let server = BuildGrid::start("");
    let url = server.url();
    let port = url.rsplit(':').next().expect("a port").to_owned();
    let pids = server_pids(&port);
    assert!(!pids.is_empty(), "no process of BuildGrid on port {port}");
    (server, url, pids)
}

/// Sends `signal` to `pids`.
fn signal(signal: &str, pids: &[u32]) {
    for pid in pids {
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
    }
}

/// Lets stopped processes go on when dropped, however the test ends.
struct Stopped(Vec<u32>);

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

#[test]
fn a_stalled_server_is_given_up_after_the_timeout_whatever_the_blob_size() {
    let (_server, url, pids) = stoppable();
    // 48 MiB: by ByteStream, and a whole-transfer limit of a second per MiB would wait 49 s.
    upload(&url, "48");
    let (store_b, src_b) = machine_b();

    // Run B finds `noise` on the server; once `nap` runs, the server stops, and `measure`,
    // forced, must fetch the noise from it when `nap` is done.
    let mut stopped = None;
    let (events, stderr, status) = follow(
        (store_b.path(), src_b.path(), &url, "1"),
        &[
            "remade",
            "--mib",
            "48",
            "--wait",
            "3",
            "--no-cache",
            "measure",
        ],
        |events, _| {
            let cached = of_kind(events, "step_cached")
                .iter()
                .any(|e| e["step"] == "noise");
            if stopped.is_none()
                && cached
                && steps(events, "step_started").iter().any(|s| s == "nap")
            {
                signal("-STOP", &pids);
                stopped = Some((Stopped(pids.clone()), Instant::now()));
            }
        },
    );
    let (_guard, at) = stopped.unwrap_or_else(|| panic!("the server was never stopped: {stderr}"));
    let waited = at.elapsed();
    assert!(status.success(), "the run failed: {stderr}");
    // `nap` (3 s), the stalled fetch (1 s), `noise` made here again and `measure`.
    assert!(
        waited < Duration::from_secs(30),
        "the run ended {waited:?} after the server stopped: {stderr}"
    );
    assert_eq!(
        steps(&events, "step_started"),
        ["nap", "noise", "measure"],
        "{stderr}"
    );
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("1 s"), "{stderr}");
    // The fetch cut short left nothing staged; this run's own folder went with it.
    assert_eq!(staged(store_b.path()), Vec::<String>::new(), "{stderr}");
}

#[test]
fn ctrl_c_while_out_fetches_from_a_stalled_server_ends_the_run_at_once() {
    let (_server, url, pids) = stoppable();
    upload(&url, "48");
    let (store_b, src_b) = machine_b();
    let out = tempfile::tempdir().expect("a temporary folder");
    // Every step a hit; the server stops once `noise`'s result is read, so the fetch of its
    // 48 MiB for `--out`, after the steps, stalls under a timeout that would hold the run a
    // minute; Ctrl-C comes a second into it.
    let mut stopped = None;
    let mut interrupted = None;
    let dest = out.path().display().to_string();
    let (_, stderr, status) = follow(
        (store_b.path(), src_b.path(), &url, "60"),
        &["remade", "--mib", "48", "--wait", "0", "--out", &dest],
        |events, pid| {
            let read = of_kind(events, "step_cached")
                .iter()
                .any(|e| e["step"] == "noise");
            if stopped.is_none() && read {
                signal("-STOP", &pids);
                stopped = Some(Stopped(pids.clone()));
            }
            if interrupted.is_none() && !of_kind(events, "run_finished").is_empty() {
                std::thread::sleep(Duration::from_secs(1));
                signal("-INT", &[pid]);
                interrupted = Some(Instant::now());
            }
        },
    );
    let at = interrupted.unwrap_or_else(|| panic!("no Ctrl-C was sent: {stderr}"));
    assert!(stopped.is_some(), "the server was never stopped: {stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        at.elapsed() < Duration::from_secs(5),
        "the run went on {:?} after Ctrl-C: {stderr}",
        at.elapsed()
    );
    let written = std::fs::read_dir(out.path()).expect("--out").count();
    assert_eq!(written, 0, "{stderr}");
    assert_eq!(staged(store_b.path()), Vec::<String>::new(), "{stderr}");
}

/// Starts the fixture on `store` with `args` and `--src src`, sharing with `url` under a
/// `TANTO_REMOTE_TIMEOUT` of `timeout` seconds, and calls `on_event` with the events so far
/// and its pid after each one: its events, its stderr and how it exited.
fn follow(
    (store, src, url, timeout): (&Path, &Path, &str, &str),
    args: &[&str],
    mut on_event: impl FnMut(&[Value], u32),
) -> (Vec<Value>, String, std::process::ExitStatus) {
    let mut child = fixture(store)
        .env("TANTO_REMOTE_CACHE", url)
        .env("TANTO_REMOTE_TIMEOUT", timeout)
        .args(args)
        .args(["--progress", "json", "--src"])
        .arg(src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the fixture");
    let stderr = child.stderr.take().expect("its stderr");
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut events = Vec::new();
    let lines = std::io::BufReader::new(child.stdout.take().expect("its stdout")).lines();
    for line in lines.map_while(Result::ok) {
        events.push(serde_json::from_str::<Value>(&line).unwrap_or_default());
        on_event(&events, child.id());
    }
    let status = child.wait().expect("the fixture's exit");
    (events, stderr.join().expect("its stderr"), status)
}

#[test]
fn a_stalled_upload_is_not_the_steps_time_and_holds_up_no_step() {
    let (_server, url, pids) = stoppable();
    let (store, src) = machine_b();
    // Once `bundle` runs (3 s), the server stops: its upload, and those of the steps after
    // it, stall until the 5 s timeout.
    let mut stopped = None;
    let (events, stderr, status) = follow(
        (store.path(), src.path(), &url, "5"),
        &["shared", "--pause", "3", "--remote-upload"],
        |events, _| {
            if stopped.is_none() && steps(events, "step_started").iter().any(|s| s == "bundle") {
                signal("-STOP", &pids);
                stopped = Some(Stopped(pids.clone()));
            }
        },
    );
    assert!(stopped.is_some(), "the server was never stopped: {stderr}");
    assert!(status.success(), "the run failed: {stderr}");
    // Each step's time is its own: `bundle` took its 3 s, not 3 s and the stalled 5 s, and
    // `weigh` and `listing` ran without waiting for its upload.
    for e in of_kind(&events, "step_finished") {
        assert!(
            e["duration_ms"].as_u64().is_some_and(|ms| ms < 6000),
            "{e} {stderr}"
        );
    }
    assert_eq!(of_kind(&events, "step_finished").len(), 3, "{stderr}");
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("5 s"), "{stderr}");
    assert!(
        stderr.contains(": 0 hits, 0 blobs fetched (0 bytes), 0 results and 0 blobs sent (0 bytes); 3 results NOT shared (the warning above says why)\n"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_while_results_are_shared_abandons_them_at_once() {
    let (_server, url, pids) = stoppable();
    let (store, src) = machine_b();
    // The server stops as the one step starts; once it is done, its upload stalls and
    // Ctrl-C comes.
    let mut stopped = None;
    let mut interrupted = None;
    let (events, stderr, status) = follow(
        (store.path(), src.path(), &url, "5"),
        &["shared_dir", "--remote-upload"],
        |events, pid| {
            if stopped.is_none() && !of_kind(events, "step_started").is_empty() {
                signal("-STOP", &pids);
                stopped = Some(Stopped(pids.clone()));
            }
            if interrupted.is_none() && !of_kind(events, "step_finished").is_empty() {
                signal("-INT", &[pid]);
                interrupted = Some(Instant::now());
            }
        },
    );
    let at = interrupted.unwrap_or_else(|| panic!("no Ctrl-C was sent: {stderr}"));
    assert!(stopped.is_some(), "the server was never stopped: {stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        at.elapsed() < Duration::from_secs(4),
        "the run waited {:?} for the stalled uploads: {stderr}",
        at.elapsed()
    );
    assert!(
        stderr.contains(
            "tanto: interrupted while sharing results with the shared cache: those under way are \
             not shared, nor is the pipeline's index\n"
        ),
        "{stderr}"
    );
    assert_eq!(of_kind(&events, "run_finished").len(), 1, "{stderr}");
    assert_eq!(staged(store.path()), Vec::<String>::new(), "{stderr}");
}
