//! Test results as data: [`TestReport`], what a test step returns, read from nextest's JUnit
//! file or libtest's JSON lines.
//!
//! Everything here is read from what a container printed, so it is hostile input: it is
//! parsed, bounded and never obeyed (the views escape it when they show it).

use serde::{Deserialize, Serialize};

use crate::error::Error;

mod parse;
pub(crate) mod xml;

/// The most lines of a failing test's output a report keeps: its last ones.
const TAIL_LINES: usize = 40;
/// The most bytes of a failing test's output a report keeps.
const TAIL_BYTES: usize = 8 << 10;

/// The longest binary, test name or panic location a report keeps.
const NAME_BYTES: usize = 1 << 10;
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
    /// Set by the run in a `test_report` event, never by a step: whether each test of this
    /// report is one that the steps its step takes outputs of reported already (a fan-in that
    /// merges shards), so the views show those and leave this one out. A report a step builds
    /// itself, with [`merge`](Self::merge) or not, is shown.
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

    /// A report of `tests` run by `runner`, sorted by binary and name. What came from a
    /// container is bounded here: a test's binary, name and panic location are cut at
    /// 1 KiB each.
    pub fn new(runner: impl Into<String>, mut tests: Vec<TestCase>) -> Self {
        for test in &mut tests {
            test.bound();
        }
        tests.sort_by(|a, b| (&a.binary, &a.name).cmp(&(&b.binary, &b.name)));
        Self {
            format: Self::FORMAT,
            runner: runner.into(),
            merged: false,
            tests,
        }
    }

    /// One report of the tests of `reports` (the shards of one suite), each test once, sorted.
    ///
    /// Returned by a fan-in step whose inputs are the shards' reports, it is left out of the
    /// views, which show the shards' own; merging reports a step built itself, it is shown.
    pub fn merge(reports: impl IntoIterator<Item = TestReport>) -> Self {
        let mut runner = String::new();
        let mut tests: Vec<TestCase> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for report in reports {
            if runner.is_empty() {
                runner = report.runner;
            }
            for test in report.tests {
                if seen.insert((test.binary.clone(), test.name.clone())) {
                    tests.push(test);
                }
            }
        }
        Self::new(runner, tests)
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

impl TestCase {
    /// The test as a report line names it: `BINARY NAME`, or its name alone when the binary is
    /// not known (libtest's JSON without cargo's `Running` lines).
    pub fn full_name(&self) -> String {
        if self.binary.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.binary, self.name)
        }
    }
}

impl TestFailure {
    /// `src/lib.rs:21`, when the failure has a location.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
