use super::*;

/// What nextest 0.9 wrote for `e2e/fixtures/tests-crate` with `--retries 1`.
const NEXTEST: &str = include_str!("nextest.xml");
/// What `cargo test -- -Z unstable-options --format json` printed for the same crate.
const LIBTEST: &str = include_str!("libtest.txt");

fn test<'a>(report: &'a TestReport, name: &str) -> &'a TestCase {
    report
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test `{name}` in {report:#?}"))
}

#[test]
fn nextest_junit_gives_each_outcome_with_the_panic_and_its_location() {
    let report = TestReport::from_junit(NEXTEST)
        .unwrap()
        .with_ignored("tests-crate tests::ignored\n");
    assert_eq!(report.runner, "nextest");
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests::fails",
            "tests::flaky",
            "tests::ignored",
            "tests::passes"
        ]
    );
    assert!(report.tests.iter().all(|t| t.binary == "tests-crate"));

    let fails = test(&report, "tests::fails");
    assert_eq!((fails.outcome, fails.attempts), (TestOutcome::Failed, 2));
    let failure = fails.failure.as_ref().unwrap();
    assert_eq!(failure.location().as_deref(), Some("src/lib.rs:21"));
    assert_eq!(
        failure.message,
        "assertion `left == right` failed: two and two make five\n  left: 4\n right: 5"
    );
    assert!(
        failure
            .output_tail
            .contains("checking that two and two make five"),
        "{failure:?}"
    );

    let flaky = test(&report, "tests::flaky");
    assert_eq!((flaky.outcome, flaky.attempts), (TestOutcome::Flaky, 2));
    let first = flaky.failure.as_ref().unwrap();
    assert_eq!(first.message, "first try fails");
    assert_eq!(first.location().as_deref(), Some("src/lib.rs:39"));

    assert_eq!(test(&report, "tests::passes").outcome, TestOutcome::Passed);
    let ignored = test(&report, "tests::ignored");
    assert_eq!(
        (ignored.outcome, ignored.attempts),
        (TestOutcome::Ignored, 0)
    );
    assert_eq!(
        report.counts().describe(),
        "1 passed, 1 failed, 1 ignored, 1 flaky"
    );
    assert!(!report.success());
    assert_eq!(
        report.failure_error().to_string(),
        "1 of 4 tests failed: tests::fails (src/lib.rs:21)"
    );
}

#[test]
fn libtest_json_names_the_binary_from_cargos_running_line() {
    let report = TestReport::from_libtest_json(LIBTEST);
    assert_eq!(report.runner, "cargo test");
    let outcomes: Vec<(&str, &str, TestOutcome)> = report
        .tests
        .iter()
        .map(|t| (t.binary.as_str(), t.name.as_str(), t.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("tests_crate", "tests::fails", TestOutcome::Failed),
            ("tests_crate", "tests::flaky", TestOutcome::Failed),
            ("tests_crate", "tests::ignored", TestOutcome::Ignored),
            ("tests_crate", "tests::passes", TestOutcome::Passed),
        ]
    );
    let failure = test(&report, "tests::fails").failure.clone().unwrap();
    assert_eq!(failure.location().as_deref(), Some("src/lib.rs:21"));
    assert!(
        failure
            .message
            .starts_with("assertion `left == right` failed")
    );
}

#[test]
fn a_merge_has_each_test_once_in_the_order_of_one_report() {
    let whole = TestReport::from_junit(NEXTEST).unwrap();
    let mut shards: Vec<TestReport> = whole
        .tests
        .iter()
        .map(|t| TestReport::new("nextest", vec![t.clone()]))
        .collect();
    shards.reverse();
    shards.push(shards[0].clone());
    let merged = TestReport::merge(shards);
    assert!(
        !merged.merged,
        "the run decides whether the views leave it out"
    );
    assert_eq!(merged, whole);
}

#[test]
fn a_report_is_known_among_values_by_its_tag_only() {
    let report = TestReport::from_junit(NEXTEST).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["tanto_test_report"], 1);
    assert_eq!(TestReport::from_value(&value), Some(report));
    assert_eq!(
        TestReport::from_value(&serde_json::json!({"tests": []})),
        None
    );
    assert_eq!(TestReport::from_value(&serde_json::json!("text")), None);
}

#[test]
fn hostile_output_is_bounded_and_a_junk_file_is_a_clear_error() {
    let huge = format!(
        "thread 't' panicked at src/a.rs:1:1:\n{}",
        "x".repeat(1 << 20)
    );
    let status = super::xml::Status {
        description: Some(huge),
        ..Default::default()
    };
    let failure = TestFailure::read("t", &status, &"line\n".repeat(100_000));
    assert!(
        failure.message.len() <= MESSAGE_BYTES + 4,
        "{}",
        failure.message.len()
    );
    assert!(failure.output_tail.lines().count() <= TAIL_LINES);
    let err = TestReport::from_junit("<not junit")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot read the JUnit report"), "{err}");
}

#[test]
fn libtest_doctests_are_a_binary_of_their_own() {
    let text = "   Doc-tests app\n{ \"type\": \"test\", \"name\": \"src/lib.rs - add (line 3)\", \"event\": \"ok\" }\n";
    let report = TestReport::from_libtest_json(text);
    assert_eq!(report.tests.len(), 1);
    assert_eq!(report.tests[0].binary, "app doctests");
    assert_eq!(report.tests[0].name, "src/lib.rs - add (line 3)");
}

#[test]
fn junit_text_drops_colours_and_controls_and_survives_escaping() {
    use super::xml::{clean, escape, read};
    let coloured =
        "\u{1b}[31mred\u{1b}[0m \u{1b}]0;title\u{7}ok\u{0}\u{8}\u{fffe}\u{ffff}\ttab\r\n";
    assert_eq!(clean(coloured), "red ok\ttab\r\n");
    let text = "a <b> & \"c\" 'd'\nnext";
    let xml = format!(
        r#"<testsuites><testsuite name="s"><testcase name="{}"><failure message="{}">{}</failure></testcase></testsuite></testsuites>"#,
        escape("t&1", true),
        escape(text, true),
        escape(text, false)
    );
    let cases = read(&xml).unwrap();
    let (_, failure) = cases[0].main.as_ref().unwrap();
    assert_eq!(cases[0].name, "t&1");
    assert_eq!(failure.message.as_deref(), Some(text));
    assert_eq!(failure.description.as_deref(), Some(text));
    let none = r#"<testsuites name="nextest-run" tests="0" failures="0" errors="0"/>"#;
    assert!(TestReport::from_junit(none).unwrap().tests.is_empty());
    let err = TestReport::from_junit("plain text")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no <testsuites>"), "{err}");
}

#[test]
fn what_a_container_listed_is_bounded_and_read_in_one_pass() {
    // Listed tests, each once (a set, not a scan of those before), and names of a megabyte
    // cut to a kilobyte.
    let listed: String = (0..100_000)
        .map(|n| format!("app t{}\n", n % 50_000))
        .collect();
    let report = TestReport::new("nextest", Vec::new()).with_ignored(&listed);
    assert_eq!(report.tests.len(), 50_000);
    let long = "x".repeat(1 << 20);
    let report = TestReport::new("nextest", Vec::new())
        .with_ignored(&format!("{long} {long}\n{long} {long}y\n"));
    assert_eq!(report.tests.len(), 1, "one test once its name is cut");
    let test = &report.tests[0];
    assert!(test.binary.len() <= NAME_BYTES + 3 && test.name.len() <= NAME_BYTES + 3);
    let merged = TestReport::merge([report.clone(), report]);
    assert_eq!(merged.tests.len(), 1);
}

#[test]
fn the_panic_that_failed_a_test_is_its_own_threads_last() {
    let output = "thread 'crashy::caught' (7) panicked at src/lib.rs:26:9:\ninner expected panic\n\
                  note: run with `RUST_BACKTRACE=1`\n\
                  thread 'other' panicked at src/fake.rs:99:1:\nfake message from a log line\n\
                  thread 'crashy::caught' (7) panicked at src/lib.rs:28:5:\nthe real failure\n";
    let failure = TestFailure::read("crashy::caught", &Default::default(), output);
    assert_eq!(failure.message, "the real failure");
    assert_eq!(failure.location().as_deref(), Some("src/lib.rs:28"));
    // Only another thread's panic: that one, as before.
    let spawned = "thread '<unnamed>' panicked at src/lib.rs:10:5:\nboom\n";
    let failure = TestFailure::read("t", &Default::default(), spawned);
    assert_eq!(failure.location().as_deref(), Some("src/lib.rs:10"));
}

#[test]
fn a_timeout_or_an_exit_code_says_so_when_no_panic_does() {
    let kind = |kind: &str| super::xml::Status {
        kind: Some(kind.to_owned()),
        ..Default::default()
    };
    let read = |k: &str| TestFailure::read("t", &kind(k), "running 1 test\n").message;
    assert_eq!(read("test timeout"), "test timeout");
    assert_eq!(
        read("test failure with exit code 3"),
        "test failure with exit code 3"
    );
    assert_eq!(
        read("test failure"),
        "running 1 test",
        "nothing more to say"
    );
    // A crash: the kind and what nextest says of it (its `message`), not the kind alone.
    let aborted = super::xml::Status {
        kind: Some("test abort".to_owned()),
        message: Some("process aborted with signal 6 (SIGABRT)".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        TestFailure::read("t", &aborted, "about to abort\n").message,
        "test abort: process aborted with signal 6 (SIGABRT)"
    );
}

#[test]
fn a_test_whose_binary_died_under_it_is_a_failure_that_says_so() {
    let text = "     Running unittests src/lib.rs (target/debug/deps/app-0123abcd)\n\
                { \"type\": \"suite\", \"event\": \"started\", \"test_count\": 8 }\n\
                { \"type\": \"test\", \"event\": \"started\", \"name\": \"a\" }\n\
                { \"type\": \"test\", \"event\": \"started\", \"name\": \"crash\" }\n\
                { \"type\": \"test\", \"name\": \"a\", \"event\": \"ok\" }\n\
                error: test failed, to rerun pass `--lib`\n\
                Caused by:\n  process didn't exit successfully: `/t/app-0123abcd` (exit status: 3)\n\
                     Running tests/other.rs (target/debug/deps/other-0123abcd)\n\
                { \"type\": \"test\", \"event\": \"started\", \"name\": \"b\" }\n\
                { \"type\": \"test\", \"name\": \"b\", \"event\": \"ok\" }\n";
    let report = TestReport::from_libtest_json(text);
    let outcomes: Vec<(&str, &str, TestOutcome)> = report
        .tests
        .iter()
        .map(|t| (t.binary.as_str(), t.name.as_str(), t.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("app", "a", TestOutcome::Passed),
            ("app", "crash", TestOutcome::Failed),
            ("other", "b", TestOutcome::Passed)
        ]
    );
    let failure = report.tests[1].failure.as_ref().unwrap();
    assert_eq!(
        failure.message,
        "the test never ended: its binary exited while it ran (exit status: 3), by a crash, an \
         abort or a kill, of this test or of another one running beside it; 6 of its 8 tests \
         never started; see the step's log"
    );
}
