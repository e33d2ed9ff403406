//! Test results as data: [`TestReport`], what a test step returns, read from nextest's JUnit
//! file or libtest's JSON lines.
//!
//! Everything here is read from what a container printed, so it is hostile input: it is
//! parsed, bounded and never obeyed (the views escape it when they show it).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The most lines of a failing test's output a report keeps: its last ones.
const TAIL_LINES: usize = 40;
/// The most bytes of a failing test's output a report keeps.
const TAIL_BYTES: usize = 8 << 10;
/// The most bytes of a panic message a report keeps.
const MESSAGE_BYTES: usize = 2 << 10;

/// The outcome of every test of a suite: what `cargo_steps::test_report` returns.
///
/// The engine finds it among a step's outputs (its JSON carries a `tanto_test_report` tag), so
/// the closing summary lists failing tests, GitHub Actions gets an annotation per failure,
/// `GITHUB_STEP_SUMMARY` a table and `--junit` a test case per test, cached reports included.
///
/// ```
/// use tanto::{TestOutcome, TestReport};
///
/// let xml = r#"<testsuites name="nextest-run" tests="1" failures="1" errors="0">
///   <testsuite name="app" tests="1" failures="1" errors="0" skipped="0">
///     <testcase name="adds" classname="app" time="0.01">
///       <failure message="panicked">thread 'adds' panicked at src/lib.rs:7:5:
/// two and two make five</failure>
///     </testcase>
///   </testsuite>
/// </testsuites>"#;
/// let report = TestReport::from_junit(xml)?;
/// let failed = report.failed().next().unwrap();
/// assert_eq!(failed.outcome, TestOutcome::Failed);
/// let failure = failed.failure.as_ref().unwrap();
/// assert_eq!((failure.file.as_deref(), failure.line), (Some("src/lib.rs"), Some(7)));
/// assert_eq!(failure.message, "two and two make five");
/// # Ok::<(), tanto::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    /// The tag by which the engine knows a report among a step's outputs: its format, 1.
    #[serde(rename = "tanto_test_report")]
    pub format: u32,
    /// What ran the tests: `nextest` or `cargo test`.
    pub runner: String,
    /// Whether this report merges reports that steps of the run return themselves (a
    /// fan-in of shards): the views then show those, not this one again.
    #[serde(default)]
    pub merged: bool,
    /// Every test, sorted by binary and name.
    pub tests: Vec<TestCase>,
}

/// One test of a [`TestReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// The test binary: nextest's binary id (`my-crate`, `my-crate::integration`), or the
    /// binary's name under `cargo test`.
    pub binary: String,
    /// The test's path in its binary, `tests::adds`.
    pub name: String,
    /// How it ended.
    pub outcome: TestOutcome,
    /// How long its last try took, in milliseconds.
    pub duration_ms: u64,
    /// How many times it ran: more than 1 when it was retried.
    pub attempts: u32,
    /// Why it failed (a flaky test: why its first try failed).
    pub failure: Option<TestFailure>,
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// It passed on its first try.
    Passed,
    /// It failed on every try.
    Failed,
    /// It is `#[ignore]`d and did not run.
    Ignored,
    /// It failed, then passed when retried.
    Flaky,
}

/// Where and why a test failed, as its output says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailure {
    /// The panic message (`assertion `left == right` failed: ..`), or the first line of the
    /// failure when there was no panic.
    pub message: String,
    /// The file of the panic, relative to the workspace, when the output names one.
    pub file: Option<String>,
    /// The line of the panic.
    pub line: Option<u32>,
    /// The last lines the test printed (its standard output, then its standard error).
    pub output_tail: String,
}

/// How many tests of a report ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestCounts {
    /// Passed on the first try.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Ignored.
    pub ignored: usize,
    /// Passed when retried.
    pub flaky: usize,
}

impl TestReport {
    /// The format this version writes: the value of the `tanto_test_report` tag.
    pub const FORMAT: u32 = 1;

    /// A report of `tests` run by `runner`, sorted by binary and name.
    pub fn new(runner: impl Into<String>, mut tests: Vec<TestCase>) -> Self {
        tests.sort_by(|a, b| (&a.binary, &a.name).cmp(&(&b.binary, &b.name)));
        Self {
            format: Self::FORMAT,
            runner: runner.into(),
            merged: false,
            tests,
        }
    }

    /// Reads a JUnit XML report as nextest writes it (`[profile.NAME.junit]`): one test suite
    /// per binary, a `failure` per failing test, `flakyFailure`s before a pass, and
    /// `rerunFailure`s for the retries of a failure.
    pub fn from_junit(xml: &str) -> Result<Self> {
        use quick_junit::TestCaseStatus as Status;
        let report = quick_junit::Report::deserialize_from_str(xml).map_err(|e| {
            Error::Other(format!(
                "cannot read the JUnit report: {e}; is it nextest's `[profile.NAME.junit]` file?"
            ))
        })?;
        let mut tests = Vec::new();
        for suite in report.test_suites {
            for case in suite.test_cases {
                let duration_ms = case.time.map_or(0, |t| millis(t.as_secs_f64()));
                let output = join_output(
                    case.system_out.as_ref().map(|s| s.as_str()),
                    case.system_err.as_ref().map(|s| s.as_str()),
                );
                let (outcome, attempts, failure) = match &case.status {
                    Status::Success { flaky_runs } if flaky_runs.is_empty() => {
                        (TestOutcome::Passed, 1, None)
                    }
                    Status::Success { flaky_runs } => {
                        let first = &flaky_runs[0];
                        let out = join_output(
                            first.system_out.as_ref().map(|s| s.as_str()),
                            first.system_err.as_ref().map(|s| s.as_str()),
                        );
                        let text = first.description.as_ref().map_or("", |d| d.as_str());
                        let head = first.message.as_ref().map_or("", |m| m.as_str());
                        (
                            TestOutcome::Flaky,
                            attempts(flaky_runs.len()),
                            Some(TestFailure::read(head, text, &out)),
                        )
                    }
                    Status::NonSuccess {
                        message,
                        description,
                        reruns,
                        ..
                    } => {
                        let text = description.as_ref().map_or("", |d| d.as_str());
                        let head = message.as_ref().map_or("", |m| m.as_str());
                        (
                            TestOutcome::Failed,
                            attempts(reruns.runs.len()),
                            Some(TestFailure::read(head, text, &output)),
                        )
                    }
                    Status::Skipped { .. } => (TestOutcome::Ignored, 0, None),
                };
                let binary = case
                    .classname
                    .as_ref()
                    .map_or_else(|| suite.name.as_str(), |c| c.as_str());
                tests.push(TestCase {
                    binary: binary.to_owned(),
                    name: case.name.as_str().to_owned(),
                    outcome,
                    duration_ms,
                    attempts,
                    failure,
                });
            }
        }
        Ok(Self::new("nextest", tests))
    }

    /// Reads what `cargo test -- -Z unstable-options --format json` prints, with cargo's
    /// `Running unittests src/lib.rs (target/debug/deps/app-0123abcd)` lines (its standard
    /// error, merged in) naming the binary of the lines that follow (`app`; `app doctests`
    /// after `Doc-tests app`). Other lines are skipped.
    pub fn from_libtest_json(text: &str) -> Self {
        #[derive(Deserialize)]
        struct Line {
            #[serde(rename = "type")]
            kind: String,
            event: String,
            name: Option<String>,
            exec_time: Option<f64>,
            stdout: Option<String>,
        }
        let mut binary = String::new();
        let mut tests = Vec::new();
        for raw in text.lines() {
            let raw = raw.trim();
            if let Some(running) = raw.strip_prefix("Running ") {
                binary = binary_of(running);
                continue;
            }
            if let Some(crate_name) = raw.strip_prefix("Doc-tests ") {
                binary = format!("{} doctests", crate_name.trim());
                continue;
            }
            let Ok(line) = serde_json::from_str::<Line>(raw) else {
                continue;
            };
            let (Some(name), "test") = (line.name, line.kind.as_str()) else {
                continue;
            };
            let outcome = match line.event.as_str() {
                "ok" => TestOutcome::Passed,
                "failed" | "timeout" => TestOutcome::Failed,
                "ignored" => TestOutcome::Ignored,
                _ => continue,
            };
            let output = line.stdout.unwrap_or_default();
            let failure =
                (outcome == TestOutcome::Failed).then(|| TestFailure::read("", "", &output));
            tests.push(TestCase {
                binary: binary.clone(),
                name,
                outcome,
                duration_ms: line.exec_time.map_or(0, millis),
                attempts: u32::from(outcome != TestOutcome::Ignored),
                failure,
            });
        }
        Self::new("cargo test", tests)
    }

    /// Marks the tests that nextest lists as ignored (`cargo nextest list --run-ignored only
    /// --message-format oneline`: `BINARY-ID TEST-NAME` per line), since its JUnit file leaves
    /// out the tests it did not run.
    pub fn with_ignored(mut self, listed: &str) -> Self {
        for line in listed.lines() {
            let Some((binary, name)) = line.trim().split_once(' ') else {
                continue;
            };
            let known = self
                .tests
                .iter()
                .any(|t| t.binary == binary && t.name == name.trim());
            if !known {
                self.tests.push(TestCase {
                    binary: binary.to_owned(),
                    name: name.trim().to_owned(),
                    outcome: TestOutcome::Ignored,
                    duration_ms: 0,
                    attempts: 0,
                    failure: None,
                });
            }
        }
        Self::new(std::mem::take(&mut self.runner), self.tests)
    }

    /// One report of the tests of `reports` (the shards of one suite), each test once, sorted.
    pub fn merge(reports: impl IntoIterator<Item = TestReport>) -> Self {
        let mut runner = String::new();
        let mut tests: Vec<TestCase> = Vec::new();
        for report in reports {
            if runner.is_empty() {
                runner = report.runner;
            }
            for test in report.tests {
                if !tests
                    .iter()
                    .any(|t| t.binary == test.binary && t.name == test.name)
                {
                    tests.push(test);
                }
            }
        }
        let mut merged = Self::new(runner, tests);
        merged.merged = true;
        merged
    }

    /// The tests that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TestCase> {
        self.tests
            .iter()
            .filter(|t| t.outcome == TestOutcome::Failed)
    }

    /// Whether no test failed.
    pub fn success(&self) -> bool {
        self.failed().next().is_none()
    }

    /// How many tests ended each way.
    pub fn counts(&self) -> TestCounts {
        let mut c = TestCounts::default();
        for test in &self.tests {
            match test.outcome {
                TestOutcome::Passed => c.passed += 1,
                TestOutcome::Failed => c.failed += 1,
                TestOutcome::Ignored => c.ignored += 1,
                TestOutcome::Flaky => c.flaky += 1,
            }
        }
        c
    }

    /// The error a test step returns when tests failed: how many, and each by name with its
    /// location.
    pub fn failure_error(&self) -> Error {
        let failed: Vec<String> = self
            .failed()
            .map(
                |t| match t.failure.as_ref().and_then(TestFailure::location) {
                    Some(at) => format!("{} ({at})", t.name),
                    None => t.name.clone(),
                },
            )
            .collect();
        let c = self.counts();
        Error::Other(format!(
            "{} of {} tests failed: {}",
            c.failed,
            self.tests.len(),
            failed.join(", ")
        ))
    }

    /// The report among `value`, when it is one (its JSON has the `tanto_test_report` tag).
    pub(crate) fn from_value(value: &serde_json::Value) -> Option<Self> {
        value.get("tanto_test_report")?;
        serde_json::from_value(value.clone()).ok()
    }
}

impl TestCounts {
    /// `3 passed, 1 failed, 1 ignored, 1 flaky`: the outcomes that happened.
    pub fn describe(&self) -> String {
        let parts = [
            (self.passed, "passed"),
            (self.failed, "failed"),
            (self.ignored, "ignored"),
            (self.flaky, "flaky"),
        ];
        let said: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if said.is_empty() {
            "no tests".to_owned()
        } else {
            said.join(", ")
        }
    }
}

impl TestFailure {
    /// Reads a failure from its summary line (`head`), its text and the test's output: the
    /// panic's location and message when any of them holds a panic, else the first line.
    fn read(head: &str, text: &str, output: &str) -> Self {
        let panic = [text, output, head].into_iter().find_map(Panic::find);
        let (message, file, line) = match panic {
            Some(p) => (p.message, Some(p.file), Some(p.line)),
            None => {
                let first = [head, text, output]
                    .into_iter()
                    .flat_map(str::lines)
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("the test failed");
                (first.to_owned(), None, None)
            }
        };
        let source = if output.trim().is_empty() {
            text
        } else {
            output
        };
        Self {
            message: bounded(&message, MESSAGE_BYTES),
            file,
            line,
            output_tail: tail(source),
        }
    }

    /// `src/lib.rs:21`, when the failure has a location.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        })
    }
}

/// A panic found in a test's output.
struct Panic {
    file: String,
    line: u32,
    message: String,
}

impl Panic {
    /// The first panic in `text`: `thread 'name' (id) panicked at FILE:LINE:COL:` and the
    /// message on the lines that follow, up to the backtrace or its note.
    fn find(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            let Some((_, at)) = l.split_once(" panicked at ") else {
                continue;
            };
            let at = at.trim().trim_end_matches(':');
            let mut parts = at.rsplitn(3, ':');
            let (Some(_col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(line) = line.parse() else { continue };
            let message: Vec<&str> = lines
                .by_ref()
                .take_while(|l| {
                    !l.starts_with("stack backtrace:")
                        && !l.starts_with("note: ")
                        && !l.contains(" panicked at ")
                })
                .collect();
            return Some(Self {
                file: file.trim_start_matches("./").to_owned(),
                line,
                message: message.join("\n").trim().to_owned(),
            });
        }
        None
    }
}

/// The binary a cargo `Running` line names: `unittests src/lib.rs
/// (target/debug/deps/app-0123abcd)` is `app`.
fn binary_of(running: &str) -> String {
    let path = running
        .rsplit_once('(')
        .map_or(running, |(_, p)| p.trim_end_matches(')'));
    let file = path.rsplit('/').next().unwrap_or(path);
    match file.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => file.to_owned(),
    }
}

fn join_output(out: Option<&str>, err: Option<&str>) -> String {
    let (out, err) = (out.unwrap_or("").trim_end(), err.unwrap_or("").trim_end());
    match (out.is_empty(), err.is_empty()) {
        (false, false) => format!("{out}\n{err}"),
        (false, true) => out.to_owned(),
        _ => err.to_owned(),
    }
}

fn attempts(reruns: usize) -> u32 {
    u32::try_from(reruns + 1).unwrap_or(u32::MAX)
}

fn millis(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0).round() as u64
    } else {
        0
    }
}

/// The last [`TAIL_LINES`] lines of `text`, at most [`TAIL_BYTES`] of them.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let joined = lines[start..].join("\n");
    if joined.len() <= TAIL_BYTES {
        return joined;
    }
    let mut cut = joined.len() - TAIL_BYTES;
    while !joined.is_char_boundary(cut) {
        cut += 1;
    }
    joined[cut..].to_owned()
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
#[path = "test_report_tests.rs"]
mod tests;
