//! The CLI tells the truth: a closed pipe ends it quietly, times are a step's own, set-up
//! errors exit 2 before anything runs, and every message is finished and exact.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;
use support::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A project with a source file and an ignored one, for pipelines that take `--src`.
fn project() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("src")).unwrap();
    std::fs::write(src.path().join("Cargo.toml"), "manifest\n").unwrap();
    std::fs::write(src.path().join("src/lib.rs"), "library\n").unwrap();
    std::fs::write(src.path().join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(src.path().join("src/debug.log"), "log\n").unwrap();
    src
}

#[test]
fn a_closed_pipe_ends_listing_and_graphs_quietly() {
    let cache = tempfile::tempdir().unwrap();
    for args in [&["--list"][..], &["wide", "--graph", "mermaid"][..]] {
        let mut child = fixture(cache.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written, as `| true` does.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_closed_pipe_mid_run_still_removes_every_container() {
    let cache = tempfile::tempdir().unwrap();
    let mut child = fixture(cache.path())
        .args(["spread", "-j", "2", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let run = first["run_id"].as_str().unwrap().to_owned();
    // `| head -1`: the reader has what it wanted and goes away mid-run.
    drop(lines);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(containers_of_run(&run), 0);
}

#[test]
fn a_closed_standard_error_ends_a_run_as_it_would_have() {
    let cache = tempfile::tempdir().unwrap();
    let src = project();
    // `2>&1 | head -1` closes the pipe that progress, the summary and the hints go to.
    for (args, code) in [
        (&["stored", "--text", "hi", "--progress", "plain"][..], 0),
        (&["relay", "--plan"][..], 0),
        (&["no_image", "--progress", "plain"][..], 2),
        (&["probe_fail", "--progress", "plain", "--src"][..], 1),
    ] {
        let mut cmd = fixture(cache.path());
        cmd.args(args);
        if args.contains(&"--src") {
            cmd.arg(src.path());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn a_step_time_is_its_own_not_its_wait_for_a_slot() {
    let cache = tempfile::tempdir().unwrap();
    // One slot: each nap waits for the others, then sleeps 10 s or 11 s.
    let out = output(fixture(cache.path()).args([
        "failing",
        "--keep-going",
        "-j",
        "1",
        "--progress",
        "json",
    ]));
    let events = events(&out.stdout);
    let finished = of_kind(&events, "step_finished");
    assert_eq!(finished.len(), 2, "{events:?}");
    for e in finished {
        let ms = e["duration_ms"].as_u64().unwrap();
        assert!(
            (10_000..14_000).contains(&ms),
            "a nap of 10 or 11 s took {ms} ms of its own: {e}"
        );
    }
}

#[test]
fn masks_and_linked_views_are_keyed_apart() {
    let cache = tempfile::tempdir().unwrap();
    let src = project();
    let run = |view: &str| {
        let out = output(
            fixture(cache.path())
                .args(["selected", "--progress", "json", "--src"])
                .arg(src.path())
                .env("TANTO_DIR_VIEW", view),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        events(&out.stdout)
    };
    assert_eq!(of_kind(&run("linked"), "step_started").len(), 1);
    // Masks show the names of left-out entries: the step sees another tree, so it runs.
    let masked = run("masks");
    let started = of_kind(&masked, "step_started");
    assert_eq!(started.len(), 1, "{masked:?}");
    assert!(
        started[0]["reason"].as_str().unwrap().contains("dir_view"),
        "{masked:?}"
    );
    assert_eq!(of_kind(&run("masks"), "step_cached").len(), 1);
    assert_eq!(of_kind(&run("linked"), "step_cached").len(), 1);
}

#[test]
fn set_up_errors_exit_2_before_anything_runs() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let under_file = file.join("out");
    let cases: [(Vec<String>, Option<&str>, String); 5] = [
        (
            // A folder that is there but where nothing can be written, even by root.
            vec!["wide".into(), "--out".into(), "/sys".into()],
            None,
            "error: --out: cannot write in the folder `/sys`: permission denied; name a \
             writable one\n"
                .into(),
        ),
        (
            vec!["wide".into(), "--out".into(), file.display().to_string()],
            None,
            format!(
                "error: --out: `{}` is a file; name a folder (it is created when missing)\n",
                file.display()
            ),
        ),
        (
            vec!["wide".into(), "--out".into(), under_file.display().to_string()],
            None,
            format!(
                "error: --out: cannot create the folder `{}`: Not a directory (os error 20); name one that can be made\n",
                under_file.display()
            ),
        ),
        (
            vec![
                "wide".into(),
                "--trace".into(),
                dir.path().join("no/such/folder/t.json").display().to_string(),
            ],
            None,
            format!(
                "error: --trace: cannot write `{}`: No such file or directory (os error 2)\n",
                dir.path().join("no/such/folder/t.json").display()
            ),
        ),
        (
            vec!["wide".into()],
            Some("garbage"),
            "error: TANTO_LOG=`garbage` is not a log level: use one of off, error, warn, info, debug, trace (`warn` is the default), or directives such as `tanto=debug`\n".into(),
        ),
    ];
    for (args, log, expected) in cases {
        let mut cmd = fixture(cache.path());
        cmd.args(&args).args(["--progress", "json"]);
        if let Some(log) = log {
            cmd.env("TANTO_LOG", log);
        }
        let out = output(&mut cmd);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(text(&out.stderr), expected, "{args:?}");
        assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
    }
    // A folder that can be made is not left behind by the check (`wide` has no outputs).
    let later = dir.path().join("made/later");
    let out = output(fixture(cache.path()).args(["wide", "--out"]).arg(&later));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`wide` has no outputs; nothing was written to"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("made").exists());
}

#[test]
fn a_missing_image_is_a_set_up_error_and_nothing_starts() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["no_image", "--progress", "json"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: image `tanto-test/missing:none` is not present and could not be pulled: "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("; build or load it locally (the `tanto-test/` images are made offline by `cargo xtask images` in a clone of tanto), map it to one this machine has (`tanto::cli().image_alias(\"tanto-test/missing:none\", \"LOCAL\")`, or `Ctx::standalone_with_aliases` in a test), or check that its registry is reachable\n"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("pulling tanto-test/missing:none: pulling"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no step started: {}",
        text(&out.stdout)
    );
}

#[test]
fn a_command_that_printed_nothing_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["silent", "--progress", "json"]));
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out.stdout);
    let failed = of_kind(&events, "step_failed");
    assert_eq!(
        failed[0]["error"],
        "command `sh -c 'exit 3'` exited with code 3 and printed nothing"
    );
}

#[test]
fn a_socket_that_refuses_is_named_with_its_cause() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    // A socket file that nothing listens on any more refuses connections.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let src = project();
    let out = output(
        fixture(cache.path())
            .args(["selected", "--src"])
            .arg(src.path())
            .env("DOCKER_HOST", format!("unix://{}", socket.display())),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: cannot reach Docker at unix://{}: Connection refused (os error 111); is the daemon running? set DOCKER_HOST to use another\n",
            socket.display()
        )
    );
}

#[test]
fn people_read_finished_sentences_and_outputs_are_named() {
    let cache = tempfile::tempdir().unwrap();
    let src = project();
    let out = output(
        fixture(cache.path())
            .args(["selected", "--progress", "plain", "--src"])
            .arg(src.path()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("tanto: running `selected` (1 step, run "),
        "{stderr}"
    );
    // Outputs, and only outputs, on stdout, by the name of the step that made them; no path
    // into the store, whose files must not be edited.
    assert_eq!(
        text(&out.stdout),
        "output contents: \"manifest\\nlibrary\\n\"\n"
    );

    let o = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["selected", "--out"])
            .arg(o.path())
            .arg("--src")
            .arg(src.path()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(o.path().join("contents.json")).unwrap(),
        "\"manifest\\nlibrary\\n\""
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "tanto: 1 output written to {}",
            o.path().display()
        )),
        "{}",
        text(&out.stderr)
    );

    let empty = o.path().join("empty");
    let out = output(fixture(cache.path()).args(["wide", "--out"]).arg(&empty));
    assert!(
        text(&out.stderr).contains(&format!(
            "tanto: `wide` has no outputs; nothing was written to {}",
            empty.display()
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(!empty.exists());
}

#[test]
fn tty_progress_without_a_terminal_falls_back_to_plain() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["wide", "--progress", "tty"]));
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "tanto: `--progress tty` needs a terminal on standard error, not dumb and at least 40 columns wide; showing plain progress\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("tanto: running `wide` (6 steps, run "),
        "{stderr}"
    );
}

#[test]
fn list_shows_a_docs_whole_first_paragraph() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).arg("--list"));
    assert!(
        text(&out.stdout).contains(
            "wide  Six calls of one one-second step with the same input: one key, so one container runs and the other five share its run.\n"
        ),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_failed_or_removed_result_is_explained_as_such() {
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        output(
            fixture(cache.path())
                .args(args)
                .args(["--progress", "json"]),
        )
    };
    assert_eq!(run(&["silent"]).status.code(), Some(1));
    let again = events(&run(&["silent"]).stdout);
    let reason = of_kind(&again, "step_started")[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("the last run failed (at 20") && reason.ends_with(" UTC)"),
        "{reason}"
    );

    let src = project();
    let packed = |extra: &[&str]| {
        output(
            fixture(cache.path())
                .arg("packed")
                .args(extra)
                .arg("--src")
                .arg(src.path()),
        )
    };
    assert!(packed(&[]).status.success());
    // Young unused objects are kept, and the report says so and how to remove them too.
    let pruned = output(fixture(cache.path()).args(["cache", "prune", "--max-size", "1"]));
    let report = text(&pruned.stdout);
    assert!(
        report.contains("changed within the last 15 min: a run may be about to record a result that uses them; use --grace 0 to remove them too"),
        "{report}"
    );
    let pruned =
        output(fixture(cache.path()).args(["cache", "prune", "--max-size", "1", "--grace", "0"]));
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    assert!(
        !text(&pruned.stdout).contains("kept"),
        "{}",
        text(&pruned.stdout)
    );
    let plan = packed(&["--plan"]);
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("pack  its cached result was removed (pruned or damaged)"),
        "{shown}"
    );
}

#[test]
fn cache_reports_count_one_thing_by_one_name_and_looking_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("never-used");
    let out = output(fixture(&missing).args(["cache", "stats"]));
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!(
            "the cache at {} is empty: nothing has run with it yet\n",
            missing.display()
        )
    );
    assert!(!missing.exists(), "looking made a store");

    let src = project();
    let run = output(
        fixture(root.path())
            .args(["cutoff", "--src"])
            .arg(src.path()),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stats = text(&output(fixture(root.path()).args(["cache", "stats"])).stdout);
    assert!(stats.contains("cached results  2\n"), "{stats}");
    let verify = text(&output(fixture(root.path()).args(["cache", "verify"])).stdout);
    assert!(
        verify.starts_with("the cache is sound: 2 cached results, 6 records of last runs, "),
        "{verify}"
    );
}
