//! Test results as data, end to end against the real daemon: the fixture crate
//! `e2e/fixtures/tests-crate` (one passing, one failing, one ignored and one flaky test) runs
//! through `cargo_steps::test_report` in the offline Rust image with nextest; the report, the
//! GitHub annotations, the `GITHUB_STEP_SUMMARY` Markdown and the `--junit` file are checked,
//! and three shards of `e2e/fixtures/tests-green` add up to one unsharded run.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;
use support::{events, fixture, of_kind, output};

/// The suites share the `cargo-target` volume (and the flaky test's marker in it): one at a
/// time.
static SERIAL: Mutex<()> = Mutex::new(());

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Removes the flaky test's marker from the `cargo-target` volume, where a run that stopped
/// between its tries (or one without retries) leaves it.
fn clear_marker() {
    let out = output(std::process::Command::new("docker").args([
        "run",
        "--rm",
        "--network=none",
        "-v",
        "cargo-target:/target",
        "tanto-test/busybox:latest",
        "rm",
        "-f",
        "/target/tests-crate-flaky.marker",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `test_report` events of a run, by step.
fn reports(events: &[Value]) -> Vec<(String, Value)> {
    of_kind(events, "test_report")
        .into_iter()
        .map(|e| {
            let step = e["step"]
                .as_str()
                .expect("a test_report event names its step");
            (step.to_owned(), e["report"].clone())
        })
        .collect()
}

fn test<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .expect("a report has a list of tests")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test `{name}` in {report:#}"))
}

#[test]
fn a_failing_suite_fails_its_step_and_reports_every_test_where_ci_looks() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cache = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let src = crate_dir("tests-crate");
    clear_marker();

    // JSON: the report, as the step recorded it before failing.
    let out = output(
        fixture(cache.path())
            .args(["tested", "--progress", "json", "--src"])
            .arg(&src),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let events = events(&out.stdout);
    let reports = reports(&events);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    // The fields docs/events.md lists, and no others.
    let event = of_kind(&events, "test_report")[0];
    let mut fields: Vec<&str> = event
        .as_object()
        .expect("an event is an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["cached", "event", "report", "step", "ts_us"]);
    assert_eq!(event["cached"], false);
    let (step, report) = &reports[0];
    assert_eq!(step, "test_report");
    assert_eq!(report["tanto_test_report"], 1);
    assert_eq!(report["runner"], "nextest");
    let names: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tests::fails",
            "tests::flaky",
            "tests::ignored",
            "tests::passes"
        ]
    );
    for t in report["tests"].as_array().unwrap() {
        assert_eq!(t["binary"], "tests-crate", "{t:#}");
        assert!(t["duration_ms"].is_u64(), "{t:#}");
    }
    let fails = test(report, "tests::fails");
    assert_eq!(fails["outcome"], "failed");
    assert_eq!(fails["attempts"], 2, "one retry: {fails:#}");
    assert_eq!(fails["failure"]["file"], "src/lib.rs");
    assert_eq!(fails["failure"]["line"], 21);
    assert_eq!(
        fails["failure"]["message"],
        "assertion `left == right` failed: two and two make five\n  left: 4\n right: 5"
    );
    assert!(
        fails["failure"]["output_tail"]
            .as_str()
            .unwrap()
            .contains("checking that two and two make five"),
        "{fails:#}"
    );
    let flaky = test(report, "tests::flaky");
    assert_eq!(flaky["outcome"], "flaky");
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["failure"]["message"], "first try fails");
    assert_eq!(flaky["failure"]["line"], 39);
    let passes = test(report, "tests::passes");
    assert_eq!(
        (&passes["outcome"], &passes["attempts"]),
        (&"passed".into(), &1.into())
    );
    assert_eq!(passes["failure"], Value::Null);
    assert_eq!(test(report, "tests::ignored")["outcome"], "ignored");
    let failed = of_kind(&events, "step_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["error"],
        "1 of 4 tests failed: tests::fails (src/lib.rs:21)"
    );

    // GitHub Actions: annotations, the step summary, and --junit. A failure is never cached,
    // so the suite runs again (the flaky test fails once more, then passes).
    let summary_md = files.path().join("summary.md");
    std::fs::write(&summary_md, "earlier content\n").unwrap();
    let junit = files.path().join("junit.xml");
    let out = output(
        fixture(cache.path())
            .args(["tested", "--progress", "plain", "--junit"])
            .arg(&junit)
            .arg("--src")
            .arg(&src)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary_md),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let annotations: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("::error file="))
        .collect();
    assert_eq!(
        annotations,
        [
            "::error file=src/lib.rs,line=21,title=test tests%3A%3Afails failed in test_report::assertion `left == right` failed: two and two make five%0A  left: 4%0A right: 5"
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("[test_report] tests: 1 passed, 1 failed, 1 ignored, 1 flaky"),
        "{stderr}"
    );
    // The closing summary names the failing test, where it failed and why.
    assert!(
        stderr.contains(
            "FAILED tests-crate tests::fails at src/lib.rs:21: assertion `left == right` failed: two and two make five"
        ),
        "{stderr}"
    );

    let md = std::fs::read_to_string(&summary_md).unwrap();
    assert!(
        md.starts_with("earlier content\n### tanto: `tested`\n"),
        "appended: {md}"
    );
    assert!(md.contains("| `test_report` | FAILED |"), "{md}");
    assert!(
        md.contains("#### Tests of `test_report`: 1 passed, 1 failed, 1 ignored, 1 flaky"),
        "{md}"
    );
    assert!(
        md.contains("| `tests-crate tests::fails` | **failed** | `src/lib.rs:21` | assertion \\`left == right\\` failed: two and two make five left: 4 right: 5 |"),
        "{md}"
    );
    assert!(
        md.contains("| `tests-crate tests::flaky` | flaky (passed on try 2) | `src/lib.rs:39` | first try fails |"),
        "{md}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed =
        quick_junit::Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suites: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["tanto steps", "test_report: tests-crate"], "{xml}");
    let steps = &parsed.test_suites[0];
    assert_eq!(steps.test_cases.len(), 1);
    assert_eq!(steps.test_cases[0].name.as_str(), "test_report");
    assert!(
        matches!(
            steps.test_cases[0].status,
            quick_junit::TestCaseStatus::NonSuccess { .. }
        ),
        "the step failed: {xml}"
    );
    let cases = &parsed.test_suites[1];
    assert_eq!(
        (cases.tests, cases.failures, cases.skipped),
        (4, 1, 1),
        "{xml}"
    );
    for case in &cases.test_cases {
        use quick_junit::TestCaseStatus as S;
        let ok = match (case.name.as_str(), &case.status) {
            ("tests::passes", S::Success { flaky_runs }) => flaky_runs.is_empty(),
            ("tests::flaky", S::Success { flaky_runs }) => flaky_runs.len() == 1,
            ("tests::ignored", S::Skipped { .. }) => true,
            (
                "tests::fails",
                S::NonSuccess {
                    message, reruns, ..
                },
            ) => {
                message
                    .as_ref()
                    .is_some_and(|m| m.as_str().contains("two and two make five"))
                    && reruns.runs.len() == 1
            }
            _ => false,
        };
        assert!(ok, "{}: {:?}", case.name.as_str(), case.status);
        assert_eq!(
            case.classname.as_ref().map(|c| c.as_str()),
            Some("tests-crate")
        );
    }
}

/// A report with each test's timing removed: two runs of one suite differ only there.
fn untimed(report: &Value) -> Value {
    let mut report = report.clone();
    let tests = report["tests"].as_array_mut();
    for t in tests.expect("a report has a list of tests") {
        t["duration_ms"] = 0.into();
    }
    report
}

#[test]
fn three_shards_merge_into_the_report_of_one_unsharded_run_and_cached_reports_reach_junit() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cache = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let src = crate_dir("tests-green");
    let run = |pipeline: &str, junit: Option<&Path>| {
        let mut cmd = fixture(cache.path());
        cmd.args([pipeline, "--progress", "json", "--src"])
            .arg(&src);
        if let Some(junit) = junit {
            cmd.arg("--junit").arg(junit);
        }
        let out = output(&mut cmd);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        events(&out.stdout)
    };

    let whole = run("unsharded", None);
    let whole = reports(&whole);
    assert_eq!(whole.len(), 1);
    let whole = &whole[0].1;
    assert_eq!(whole["tests"].as_array().unwrap().len(), 7, "{whole:#}");

    let sharded = run("sharded", None);
    let reports = reports(&sharded);
    let steps: Vec<&str> = reports.iter().map(|(s, _)| s.as_str()).collect();
    let mut shard_steps = steps[..3].to_vec();
    shard_steps.sort_unstable();
    assert_eq!(
        shard_steps,
        ["test_shard[1]", "test_shard[2]", "test_shard[3]"]
    );
    assert_eq!(steps[3], "merge_reports");
    for (step, shard) in &reports[..3] {
        let n = shard["tests"].as_array().unwrap().len();
        assert!(n > 0 && n < 7, "{step} ran part of the suite: {shard:#}");
    }
    let merged = &reports[3].1;
    assert_eq!(merged["merged"], true);
    let mut expected = untimed(whole);
    expected["merged"] = true.into();
    assert_eq!(untimed(merged), expected);

    // Again: every step cached, and the JUnit file still holds the shards' tests, once each
    // (the merged report repeats them, so it is left out).
    let junit = files.path().join("junit.xml");
    let again = run("sharded", Some(&junit));
    assert_eq!(of_kind(&again, "step_cached").len(), 4, "{again:#?}");
    assert!(
        of_kind(&again, "test_report")
            .iter()
            .all(|e| e["cached"] == true)
    );
    let parsed =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap())
            .unwrap();
    assert_eq!(parsed.test_suites[0].test_cases.len(), 4, "a case per step");
    let tests: usize = parsed.test_suites[1..]
        .iter()
        .map(|s| s.test_cases.len())
        .sum();
    assert_eq!(tests, 7, "each test once");
}

/// An image like the offline Rust one without nextest, removed when dropped.
struct NoNextest(&'static str);

impl NoNextest {
    fn build() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM tanto-test/rust:1.95\nRUN rm /usr/local/bin/cargo-nextest\n",
        )
        .expect("the Dockerfile is written");
        let tag = "tanto-test/rust-without-nextest:e2e";
        let out = output(
            std::process::Command::new("docker")
                .args(["build", "-q", "--force-rm", "--network=none", "-t", tag])
                .arg(dir.path()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(tag)
    }
}

impl Drop for NoNextest {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", self.0])
            .output();
    }
}

#[test]
fn without_nextest_the_step_reads_cargo_tests_json() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = NoNextest::build();
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["tested", "--progress", "json", "--src"])
            .arg(crate_dir("tests-crate"))
            .env("TANTO_FIXTURE_RUST", image.0),
    );
    // No retries without nextest: the flaky test fails its only try, and leaves its marker.
    clear_marker();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let events = events(&out.stdout);
    let reports = reports(&events);
    assert_eq!(reports.len(), 1, "{stderr}");
    let report = &reports[0].1;
    assert_eq!(report["runner"], "cargo test");
    let outcomes: Vec<(&str, &str, &str, u64)> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["binary"].as_str().unwrap(),
                t["name"].as_str().unwrap(),
                t["outcome"].as_str().unwrap(),
                t["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("tests_crate", "tests::fails", "failed", 1),
            ("tests_crate", "tests::flaky", "failed", 1),
            ("tests_crate", "tests::ignored", "ignored", 0),
            ("tests_crate", "tests::passes", "passed", 1),
        ]
    );
    let fails = test(report, "tests::fails");
    assert_eq!(fails["failure"]["file"], "src/lib.rs");
    assert_eq!(fails["failure"]["line"], 21);
    assert_eq!(
        of_kind(&events, "step_failed")[0]["error"],
        "2 of 4 tests failed: tests::fails (src/lib.rs:21), tests::flaky (src/lib.rs:39)"
    );
}

#[test]
fn a_missing_alias_says_which_image_it_stands_in_for() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .env("TANTO_FIXTURE_RUST", "tanto-test/missing:alias")
            .args(["unsharded", "--src"])
            .arg(src.path()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("; it is what `image_alias` runs for `rust:1.95-slim`; build or load"),
        "{stderr}"
    );
}
