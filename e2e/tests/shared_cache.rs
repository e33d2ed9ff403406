//! The shared cache against a real BuildGrid (REAPI v2): two empty stores stand for two
//! machines. Run A uploads; run B, elsewhere, is fully cached without a container or an
//! output blob; `--out` fetches exactly the outputs; a server that stops, a closed port and
//! a damaged blob never fail a run or serve damage; without `--remote-upload` nothing is
//! written.

mod support;

use support::buildgrid::BuildGrid;
use support::remote_cache::{count, fixture, ok, run, run_id, sources, warnings};
use support::servers::free_port;
use support::{of_kind, output};

#[test]
fn a_second_machine_is_fully_cached_and_fetches_only_what_out_needs() {
    let server = BuildGrid::start("");
    let url = server.url();
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    let (src_a, src_b) = (sources(), sources());

    let out = run(
        store_a.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src_a.path(),
    );
    let (ev, stderr) = ok(&out);
    assert_eq!(
        of_kind(&ev, "step_started").len(),
        3,
        "run A runs every step: {stderr}"
    );
    assert_eq!(count(&stderr, "result"), 3, "{stderr}");
    let sent = server.blob_count();
    assert!(
        sent > 0,
        "run A wrote nothing to BuildGrid: {}",
        server.log()
    );

    // Machine B: another empty store, the same sources in another folder. Its plan finds
    // every step on the server, and keeps nothing: the run after it still asks the server.
    let plan = output(
        fixture(store_b.path())
            .env("TANTO_REMOTE_CACHE", &url)
            .args(["shared", "--pause", "0", "--plan", "--src"])
            .arg(src_b.path()),
    );
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.contains("0 of 3 steps would run"), "{plan}");
    assert_eq!(
        plan.matches(" on the shared cache, made ").count(),
        3,
        "{plan}"
    );
    let kept = support::files_under(&store_b.path().join("ac"));
    assert!(kept.is_empty(), "the plan kept results: {kept:?}");
    let daemon = support::daemon::DaemonEvents::watch();
    let out = run(
        store_b.path(),
        &url,
        &["shared", "--pause", "0"],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_started").len(), 0, "{stderr}");
    assert_eq!(of_kind(&ev, "step_cached").len(), 3, "{stderr}");
    assert_eq!(support::daemon::created(&daemon.finish(), &run_id(&ev)), 0);
    assert_eq!(count(&stderr, "hit"), 3, "{stderr}");
    assert_eq!(count(&stderr, "blob"), 0, "{stderr}");
    let stats = output(fixture(store_b.path()).args(["cache", "stats"]));
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(
        stats.contains("local hits      0 (all runs)\nremote hits     3 (all runs)\n"),
        "{stats}"
    );

    // `--out` fetches the final output, the listing, and nothing else.
    let dest = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        store_b.path(),
        &url,
        &[
            "shared",
            "--pause",
            "0",
            "--out",
            dest.path().to_str().expect("a UTF-8 path"),
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_started").len(), 0, "{stderr}");
    assert_eq!(count(&stderr, "blob"), 1, "{stderr}");
    let listing = std::fs::read_to_string(dest.path().join("listing.txt"))
        .unwrap_or_else(|e| panic!("no listing.txt in {}: {e}", dest.path().display()));
    assert!(listing.contains("5242880 ./big.bin"), "{listing}");
    assert!(listing.contains("./bin/hi"), "{listing}");
    assert_eq!(
        server.blob_count(),
        sent,
        "run B wrote to the server without --remote-upload"
    );
}

#[test]
fn out_fetches_a_folder_whole_and_checks_it() {
    let server = BuildGrid::start("");
    let url = server.url();
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    let (src_a, src_b) = (sources(), sources());
    ok(&run(
        store_a.path(),
        &url,
        &["shared_dir", "--remote-upload"],
        src_a.path(),
    ));

    let dest = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        store_b.path(),
        &url,
        &[
            "shared_dir",
            "--out",
            dest.path().to_str().expect("a UTF-8 path"),
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_started").len(), 0, "{stderr}");
    // The tree, readme, data, big.bin and the script.
    assert_eq!(count(&stderr, "blob"), 5, "{stderr}");
    // A pipeline's one folder output is written as the folder itself.
    let got = dest.path();
    assert_eq!(
        std::fs::read(got.join("big.bin")).expect("read an output"),
        std::fs::read(src_a.path().join("big.bin")).expect("read an output")
    );
    assert_eq!(
        std::fs::read_to_string(got.join("nested/data.txt")).expect("read an output"),
        "nested data\n"
    );
    assert_eq!(
        std::fs::read_link(got.join("hi")).expect("read a link"),
        std::path::Path::new("bin/hi")
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(got.join("bin/hi"))
        .expect("stat an output")
        .permissions()
        .mode();
    assert_ne!(mode & 0o111, 0, "the script lost its executable bit");
}

#[test]
fn without_remote_upload_nothing_is_written() {
    let server = BuildGrid::start("");
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let (ev, stderr) = ok(&run(
        store.path(),
        &server.url(),
        &["shared", "--pause", "0"],
        src.path(),
    ));
    assert_eq!(of_kind(&ev, "step_started").len(), 3, "{stderr}");
    assert_eq!(
        server.blob_count(),
        0,
        "written without --remote-upload: {stderr}"
    );
    assert!(!stderr.contains("sent"), "{stderr}");

    // A variable that says no writes nothing.
    for no in ["no", "off", "0"] {
        let other = tempfile::tempdir().expect("a temporary folder");
        let (_, stderr) = ok(&output(
            fixture(other.path())
                .env("TANTO_REMOTE_CACHE", server.url())
                .env("TANTO_REMOTE_UPLOAD", no)
                .args(["shared", "--pause", "0", "--progress", "json", "--src"])
                .arg(src.path()),
        ));
        assert_eq!(server.blob_count(), 0, "written with {no}: {stderr}");
    }

    // CI's switch: the variable writes as the flag does.
    let other = tempfile::tempdir().expect("a temporary folder");
    let out = output(
        fixture(other.path())
            .env("TANTO_REMOTE_CACHE", server.url())
            .env("TANTO_REMOTE_UPLOAD", "1")
            .args(["shared", "--pause", "0", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    let (_, stderr) = ok(&out);
    assert_eq!(count(&stderr, "result"), 3, "{stderr}");
    assert!(server.blob_count() > 0, "{stderr}");

    // In the plain view, the line follows everything the view prints, its table included.
    let third = tempfile::tempdir().expect("a temporary folder");
    let out = output(
        fixture(third.path())
            .env("TANTO_REMOTE_CACHE", server.url())
            .args(["shared", "--pause", "0", "--progress", "plain", "--src"])
            .arg(src.path()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |start: &str| lines.iter().rposition(|l| l.starts_with(start));
    let remote = at("tanto: remote cache ").unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        lines[remote]
            .ends_with(": 3 hits (2 from the pipeline's index), 0 blobs fetched (0 bytes)"),
        "{stderr}"
    );
    for view in [
        "[listing] cached",
        "tanto: 0 ran, 3 cached",
        "STEP ",
        "listing  cached",
    ] {
        assert!(at(view).is_some_and(|i| i < remote), "{view}: {stderr}");
    }

    // `--require-cache` asks for each key before the run does: each counts once.
    let fourth = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        fourth.path(),
        &server.url(),
        &["shared", "--pause", "0", "--require-cache"],
        src.path(),
    );
    let (_, stderr) = ok(&out);
    assert!(
        stderr.contains(": 3 hits (2 from the pipeline's index), 0 blobs fetched (0 bytes)\n"),
        "{stderr}"
    );
}

#[test]
fn a_closed_port_gives_one_warning_and_the_run_goes_on() {
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let url = format!("grpc://127.0.0.1:{}", free_port());
    let (ev, stderr) = ok(&run(
        store.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    assert_eq!(of_kind(&ev, "step_started").len(), 3, "{stderr}");
    let warnings = warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains(&url) && warnings[0].contains("local store"),
        "{stderr}"
    );
    // The run's last line says that nothing was shared, where the figures would be.
    assert!(
        stderr.ends_with(&format!(
            "tanto: remote cache {url}: not used this run (the warning above says why): nothing \
             was read from it or shared\n"
        )),
        "{stderr}"
    );
}

#[test]
fn a_server_stopped_mid_run_gives_one_warning_and_the_run_goes_on() {
    let server = BuildGrid::start("");
    let url = server.url();
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let child = fixture(store.path())
        .env("TANTO_REMOTE_CACHE", &url)
        .args([
            "shared",
            "--pause",
            "3",
            "--remote-upload",
            "--progress",
            "json",
            "--src",
        ])
        .arg(src.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the fixture");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.stop();
    let out = child.wait_with_output().expect("the fixture's output");
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_started").len(), 3, "{stderr}");
    let warnings = warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("local store"), "{stderr}");
    // The figures say what was not shared.
    assert!(
        stderr.contains(" NOT shared (the warning above says why)\n"),
        "{stderr}"
    );
    // What ran is in the local store: the next run, without a server, is cached.
    let closed = format!("grpc://127.0.0.1:{}", free_port());
    let (ev, _) = ok(&run(
        store.path(),
        &closed,
        &["shared", "--pause", "3"],
        src.path(),
    ));
    assert_eq!(of_kind(&ev, "step_cached").len(), 3);
}

#[test]
fn a_damaged_blob_is_never_served_and_its_step_runs_here_instead() {
    let server = BuildGrid::start("");
    let url = server.url();
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    let (src_a, src_b) = (sources(), sources());
    ok(&run(
        store_a.path(),
        &url,
        &["shared_dir", "--remote-upload"],
        src_a.path(),
    ));
    // Damage the big blob where BuildGrid keeps it.
    let damaged = server.damage_largest_blob();

    let dest = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        store_b.path(),
        &url,
        &[
            "shared_dir",
            "--out",
            dest.path().to_str().expect("a UTF-8 path"),
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    // The step that made it starts again, for `--out`, and says why.
    let reasons: Vec<String> = of_kind(&ev, "step_started")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("runs here after all")
            && r.contains(&damaged[..12])
            && r.contains("does not match its digest")),
        "no start names the damaged blob {damaged}: {reasons:?} {stderr}"
    );
    // A pipeline's one folder output is written as the folder itself.
    let got = dest.path();
    assert_eq!(
        std::fs::read(got.join("big.bin")).expect("read an output"),
        std::fs::read(src_a.path().join("big.bin")).expect("read an output")
    );
}

#[test]
fn a_slow_server_times_out_with_one_warning() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("grpc://{}", listener.local_addr().expect("its address"));
    let held = std::thread::spawn(move || {
        let streams: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(streams);
    });
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let started = std::time::Instant::now();
    let out = output(
        fixture(store.path())
            .env("TANTO_REMOTE_CACHE", &url)
            .env("TANTO_REMOTE_TIMEOUT", "1")
            .args(["shared", "--pause", "0", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_started").len(), 3, "{stderr}");
    let warnings = warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("did not answer within"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

#[test]
fn a_result_whose_outputs_left_the_cas_is_a_miss() {
    let server = BuildGrid::start("");
    let url = server.url();
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    let (src_a, src_b) = (sources(), sources());
    ok(&run(
        store_a.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src_a.path(),
    ));
    server.remove_largest_blob();
    let (ev, stderr) = ok(&run(
        store_b.path(),
        &url,
        &["shared", "--pause", "0"],
        src_b.path(),
    ));
    // `bundle` made the blob and runs again; its dependents see the same folder and hit.
    let started: Vec<&str> = of_kind(&ev, "step_started")
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(started, ["bundle"], "{stderr}");
    assert_eq!(count(&stderr, "hit"), 2, "{stderr}");
}

#[test]
fn a_step_that_runs_fetches_its_remote_inputs() {
    let server = BuildGrid::start("");
    let url = server.url();
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    let (src_a, src_b) = (sources(), sources());
    ok(&run(
        store_a.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src_a.path(),
    ));
    let dest = tempfile::tempdir().expect("a temporary folder");
    let out = run(
        store_b.path(),
        &url,
        &[
            "shared",
            "--pause",
            "0",
            "--no-cache",
            "listing",
            "--out",
            dest.path().to_str().expect("a UTF-8 path"),
        ],
        src_b.path(),
    );
    let (ev, stderr) = ok(&out);
    let started: Vec<&str> = of_kind(&ev, "step_started")
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(started, ["listing"], "{stderr}");
    // `bundle`'s folder: its tree, readme, data, big.bin and the script.
    assert_eq!(count(&stderr, "blob"), 5, "{stderr}");
    // 5 MiB of big.bin and a few hundred bytes more, as people read it.
    assert!(stderr.contains("5 blobs fetched (5.0 MiB)\n"), "{stderr}");
    let listing = std::fs::read_to_string(dest.path().join("listing.txt")).expect("read an output");
    assert!(listing.contains("5242880 ./big.bin"), "{listing}");
}
