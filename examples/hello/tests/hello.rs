//! `hello` end to end on a real daemon: containers, caching across moves and touches, `--plan`
//! explanations, and a store that survives corruption, concurrency and `kill -9`.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

fn hello(cache: &Path, src: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hello"));
    cmd.env("TANTO_CACHE_DIR", cache)
        .env_remove("CI")
        .args(["ci", "--src"])
        .arg(src);
    cmd
}

/// Runs `cmd`, which must succeed; its output.
fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run hello");
    assert!(
        out.status.success(),
        "hello failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// JSON events, one a line.
fn parse(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn run_json(cache: &Path, src: &Path) -> Vec<Value> {
    parse(&succeed(hello(cache, src).args(["--progress", "json"])).stdout)
}

/// Runs hello with `--out` and returns the exported report's `summary.txt`.
fn exported_summary(cache: &Path, src: &Path) -> (tempfile::TempDir, String) {
    let out_dir = tempfile::tempdir().unwrap();
    succeed(hello(cache, src).arg("--out").arg(out_dir.path()));
    let summary = std::fs::read_to_string(out_dir.path().join("summary.txt")).unwrap();
    (out_dir, summary)
}

fn steps(events: &[Value], kind: &str) -> Vec<String> {
    let mut steps: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == kind)
        .map(|e| e["step"].as_str().unwrap_or_default().to_owned())
        .collect();
    steps.sort();
    steps
}

fn run_id(events: &[Value]) -> String {
    events[0]["run_id"]
        .as_str()
        .expect("run_started first")
        .to_owned()
}

fn docker(args: &[&str]) -> String {
    let out: Output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many containers the daemon created for `run`, from its event log.
fn containers_created(run: &str, since: &str) -> usize {
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1
    );
    docker(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--filter",
        &format!("label=tanto.run={run}"),
        "--format",
        "{{.ID}}",
    ])
    .lines()
    .count()
}

fn now_secs() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    )
}

fn left_behind(run: &str) -> usize {
    docker(&["ps", "-aq", "--filter", &format!("label=tanto.run={run}")])
        .lines()
        .count()
}

/// A small source tree.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("README"), "hello\nworld\n").unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "pub fn f() {}\n// two\n").unwrap();
    dir
}

const ALL: [&str; 4] = ["checksum", "count_lines", "list_files", "report"];

#[test]
fn runs_in_containers_then_is_fully_cached() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    let since = now_secs();
    let first = run_json(cache.path(), src.path());
    assert_eq!(steps(&first, "step_finished"), ALL);
    let run = run_id(&first);
    assert!(
        containers_created(&run, &since) >= 4,
        "one container per step at least"
    );
    assert_eq!(left_behind(&run), 0);

    let since = now_secs();
    let second = run_json(cache.path(), src.path());
    assert_eq!(steps(&second, "step_cached"), ALL);
    assert!(steps(&second, "step_started").is_empty());
    assert_eq!(containers_created(&run_id(&second), &since), 0);
}

#[test]
fn the_report_holds_what_the_containers_computed() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    let (out_dir, summary) = exported_summary(cache.path(), src.path());
    assert_eq!(summary, "files: 3\nlines: 5\n");
    let files = std::fs::read_to_string(out_dir.path().join("files.txt")).unwrap();
    assert_eq!(files, "./README\n./src/lib.rs\n./src/main.rs\n");
    let sums = std::fs::read_to_string(out_dir.path().join("sums.txt")).unwrap();
    assert_eq!(sums.lines().count(), 3);
}

#[test]
fn touching_or_moving_the_source_keeps_every_step_cached() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run_json(cache.path(), src.path());
    // A time no file here had: each touch changes the stat data, whatever the clock's tick.
    let touched = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for file in ["README", "src/main.rs", "src/lib.rs"] {
        let f = std::fs::File::options()
            .append(true)
            .open(src.path().join(file))
            .unwrap();
        f.set_modified(touched).unwrap();
    }
    assert_eq!(
        steps(&run_json(cache.path(), src.path()), "step_cached"),
        ALL
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let copy: PathBuf = elsewhere.path().join("moved");
    let status = Command::new("cp")
        .arg("-a")
        .arg(src.path())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(steps(&run_json(cache.path(), &copy), "step_cached"), ALL);
}

#[test]
fn plan_after_an_edit_names_the_file() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run_json(cache.path(), src.path());
    std::fs::write(src.path().join("src/lib.rs"), "pub fn g() {}\n").unwrap();
    let out = succeed(hello(cache.path(), src.path()).arg("--plan"));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("list_files"))
        .expect("a line for list_files");
    assert!(
        line.starts_with("run")
            && line.contains("input `src` changed")
            && line.contains("src/lib.rs"),
        "{text}"
    );
    // A step waiting on `list_files` gives only what is known: its own changed input and the
    // upstream, not the captured name of a file that does not exist yet.
    let line_of = |step: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(step))
            .unwrap_or_else(|| panic!("no line for {step} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line_of("count_lines"),
        "run count_lines input `src` changed: modified src/lib.rs; upstream `list_files` will run",
        "{text}"
    );
    // Its own parts are as when it last ran: it runs only if what those make changes.
    assert_eq!(
        line_of("report"),
        "maybe report upstream `list_files` will run",
        "{text}"
    );
    assert!(
        text.ends_with(
            "\n3 of 4 steps would run, and 1 more may, if what they take from those changes\n"
        ),
        "{text}"
    );
    // --plan ran nothing: the next run still has everything to do for the changed input.
    let events = run_json(cache.path(), src.path());
    assert!(steps(&events, "step_started").contains(&"list_files".to_owned()));
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn a_corrupted_blob_is_detected_and_the_step_runs_again() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run_json(cache.path(), src.path());
    let blobs = files_under(&cache.path().join("blobs"));
    assert!(!blobs.is_empty(), "outputs are stored as blobs");
    for blob in &blobs {
        // Same length, other bytes: only the content digest can tell.
        let len = std::fs::metadata(blob).unwrap().len();
        let mut perms = std::fs::metadata(blob).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(blob, perms).unwrap();
        std::fs::write(blob, vec![b'#'; usize::try_from(len).unwrap()]).unwrap();
    }
    let out = succeed(hello(cache.path(), src.path()).args(["--progress", "json"]));
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.contains("discarding a damaged"),
        "a warning says so: {warnings}"
    );
    let events = parse(&out.stdout);
    let reran = steps(&events, "step_started");
    assert!(
        !reran.is_empty(),
        "a step whose output was damaged runs again: {events:?}"
    );
    let (_out_dir, summary) = exported_summary(cache.path(), src.path());
    assert_eq!(
        summary, "files: 3\nlines: 5\n",
        "the re-run restored the right content"
    );
    let store = tanto::__internal::cache::Store::open(cache.path()).unwrap();
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn four_runs_at_once_share_one_store() {
    let cache = tempfile::tempdir().unwrap();
    let sources: Vec<_> = (0..4)
        .map(|i| {
            let dir = source();
            std::fs::write(dir.path().join("own.txt"), format!("run {i}\n")).unwrap();
            dir
        })
        .collect();
    let children: Vec<_> = sources
        .iter()
        .map(|src| {
            hello(cache.path(), src.path())
                .args(["--progress", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let store = tanto::__internal::cache::Store::open(cache.path()).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    for src in &sources {
        assert_eq!(
            steps(&run_json(cache.path(), src.path()), "step_cached"),
            ALL
        );
    }
}

#[test]
fn kill_9_during_runs_never_leaves_a_torn_entry() {
    use std::io::{BufRead, BufReader};

    let cache = tempfile::tempdir().unwrap();
    let mut killed_runs = Vec::new();
    for round in 0..6u64 {
        let src = source();
        std::fs::write(src.path().join("round.txt"), format!("{round}\n")).unwrap();
        let mut child = hello(cache.path(), src.path())
            .args(["--progress", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        killed_runs.push(started["run_id"].as_str().unwrap().to_owned());
        // Spread the kills over the run by its own progress, not by the clock: round N dies
        // after the Nth step started or finished (round 2 after `list_files` is recorded),
        // then a little later, to land in container work, output capture and ingestion.
        let mut seen = 0;
        while seen < round {
            let Some(Ok(line)) = lines.next() else { break };
            let event: Value = serde_json::from_str(&line).unwrap();
            if matches!(
                event["event"].as_str(),
                Some("step_started" | "step_finished")
            ) {
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(round * 40));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = tanto::__internal::cache::Store::open(cache.path()).unwrap();
        let report = store.verify().unwrap();
        assert!(report.is_clean(), "round {round}: {:?}", report.problems);
    }
    // The kills did land after writes: round 2 at the latest died after `list_files` finished,
    // which comes after its result was recorded.
    let store = tanto::__internal::cache::Store::open(cache.path()).unwrap();
    assert!(
        store.stats().unwrap().entries > 0,
        "no killed run recorded anything, so nothing was at risk"
    );
    // A create request in flight when its process died can still complete on the daemon: give
    // it a moment, then the next run reaps whatever the killed ones left, and completes.
    std::thread::sleep(Duration::from_secs(1));
    let src = source();
    run_json(cache.path(), src.path());
    for run in &killed_runs {
        assert_eq!(left_behind(run), 0, "run {run} was reaped");
    }
    // On a loaded daemon a request of a killed run can complete later still. Whatever it makes
    // is reaped by the next run as well, so the suite leaves nothing behind.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        if killed_runs.iter().any(|run| left_behind(run) > 0) {
            run_json(cache.path(), src.path());
            for run in &killed_runs {
                assert_eq!(
                    left_behind(run),
                    0,
                    "late leftovers of run {run} were reaped"
                );
            }
        }
    }
}
