//! Reading a [`TestReport`] from what a test runner printed: nextest's JUnit file, libtest's
//! JSON lines and `cargo nextest list`. All of it came from a container: it is bounded as it
//! is read, and a panic's location is only ever taken as text.

use super::xml::{MainKind, Status};
use super::{
    MESSAGE_BYTES, TAIL_BYTES, TAIL_LINES, TestCase, TestFailure, TestOutcome, TestReport,
};
use serde::Deserialize;

use crate::error::{Error, Result};

impl TestReport {
    /// Reads a JUnit XML report as nextest writes it (`[profile.NAME.junit]`): one test suite
    /// per binary, a `failure` per failing test, `flakyFailure`s before a pass, and
    /// `rerunFailure`s for the retries of a failure.
    pub fn from_junit(xml: &str) -> Result<Self> {
        let cases = super::xml::read(xml).map_err(|e| {
            Error::Other(format!(
                "cannot read the JUnit report: {e}; is it nextest's `[profile.NAME.junit]` file?"
            ))
        })?;
        let mut tests = Vec::new();
        for case in cases {
            let duration_ms = case.time.map_or(0, millis);
            let output = join_output(case.system_out.as_deref(), case.system_err.as_deref());
            let (outcome, attempts, failure) = match (&case.main, case.flaky.first()) {
                (None, None) => (TestOutcome::Passed, 1, None),
                (None, Some(first)) => {
                    let out = join_output(first.system_out.as_deref(), first.system_err.as_deref());
                    (
                        TestOutcome::Flaky,
                        attempts(case.flaky.len()),
                        Some(TestFailure::read(&case.name, first, &out)),
                    )
                }
                (Some((MainKind::Failed, main)), _) => {
                    // nextest writes either kind of retry; flaky ones count when present.
                    let retries = if case.flaky.is_empty() {
                        case.reruns.len()
                    } else {
                        case.flaky.len()
                    };
                    (
                        TestOutcome::Failed,
                        attempts(retries),
                        Some(TestFailure::read(&case.name, main, &output)),
                    )
                }
                (Some((MainKind::Skipped, _)), _) => (TestOutcome::Ignored, 0, None),
            };
            let binary = case.classname.unwrap_or(case.suite);
            tests.push(TestCase {
                binary,
                name: case.name,
                outcome,
                duration_ms,
                attempts,
                failure,
            });
        }
        Ok(Self::new("nextest", tests))
    }

    /// Reads what `cargo test -- -Z unstable-options --format json` prints, with cargo's
    /// `Running unittests src/lib.rs (target/debug/deps/app-0123abcd)` lines (its standard
    /// error, merged in) naming the binary of the lines that follow (`app`; `app doctests`
    /// after `Doc-tests app`). Other lines are skipped. A test that started and never ended
    /// (its binary crashed, aborted or was killed) is a failure that says so.
    pub fn from_libtest_json(text: &str) -> Self {
        #[derive(Deserialize)]
        struct Line {
            #[serde(rename = "type")]
            kind: String,
            event: String,
            name: Option<String>,
            exec_time: Option<f64>,
            stdout: Option<String>,
            test_count: Option<usize>,
        }
        let mut section = Section::default();
        let mut tests = Vec::new();
        for raw in text.lines() {
            let raw = raw.trim();
            if let Some(running) = raw.strip_prefix("Running ") {
                section.end(&mut tests);
                section.binary = binary_of(running);
                continue;
            }
            if let Some(crate_name) = raw.strip_prefix("Doc-tests ") {
                section.end(&mut tests);
                section.binary = format!("{} doctests", crate_name.trim());
                continue;
            }
            // cargo's words for a test binary that failed: `(exit status: 3)`, `(signal: 9, ..)`.
            if raw.contains("process didn't exit successfully") {
                section.status = raw
                    .rsplit_once(" (")
                    .map(|(_, status)| status.trim_end_matches(')').to_owned());
                continue;
            }
            let Ok(line) = serde_json::from_str::<Line>(raw) else {
                continue;
            };
            if (line.kind.as_str(), line.event.as_str()) == ("suite", "started") {
                section.test_count = line.test_count;
                continue;
            }
            let (Some(name), "test") = (line.name, line.kind.as_str()) else {
                continue;
            };
            let outcome = match line.event.as_str() {
                "started" => {
                    section.started.push(name);
                    continue;
                }
                "ok" => TestOutcome::Passed,
                "failed" | "timeout" => TestOutcome::Failed,
                "ignored" => TestOutcome::Ignored,
                _ => continue,
            };
            let output = line.stdout.unwrap_or_default();
            let failure = (outcome == TestOutcome::Failed)
                .then(|| TestFailure::read(&name, &Status::default(), &output));
            section.started.retain(|n| n != &name);
            section.ended += 1;
            tests.push(TestCase {
                binary: section.binary.clone(),
                name,
                outcome,
                duration_ms: line.exec_time.map_or(0, millis),
                attempts: u32::from(outcome != TestOutcome::Ignored),
                failure,
            });
        }
        section.end(&mut tests);
        Self::new("cargo test", tests)
    }

    /// Marks the tests that nextest lists as ignored (`cargo nextest list --run-ignored only
    /// --message-format oneline`: `BINARY-ID TEST-NAME` per line), since its JUnit file leaves
    /// out the tests it did not run.
    pub fn with_ignored(mut self, listed: &str) -> Self {
        let mut known: std::collections::HashSet<(String, String)> = self
            .tests
            .iter()
            .map(|t| (t.binary.clone(), t.name.clone()))
            .collect();
        for line in listed.lines() {
            let Some((binary, name)) = line.trim().split_once(' ') else {
                continue;
            };
            let mut test = TestCase {
                binary: binary.to_owned(),
                name: name.trim().to_owned(),
                outcome: TestOutcome::Ignored,
                duration_ms: 0,
                attempts: 0,
                failure: None,
            };
            test.bound();
            if known.insert((test.binary.clone(), test.name.clone())) {
                self.tests.push(test);
            }
        }
        Self::new(std::mem::take(&mut self.runner), self.tests)
    }
}

/// What libtest's lines said of the binary they are about so far.
#[derive(Default)]
struct Section {
    binary: String,
    /// `test_count` of its `suite` `started` line.
    test_count: Option<usize>,
    /// The tests that started and have not ended.
    started: Vec<String>,
    /// How many of its tests ended.
    ended: usize,
    /// How cargo said its process ended, when it failed.
    status: Option<String>,
}

impl Section {
    /// Ends the section: each test that started and never ended (its binary died under it) is
    /// a failure that says so, with how the binary ended and how many of its tests never
    /// started.
    fn end(&mut self, tests: &mut Vec<TestCase>) {
        let section = std::mem::take(self);
        if section.started.is_empty() {
            return;
        }
        let how = section
            .status
            .map_or_else(String::new, |status| format!(" ({status})"));
        let seen = section.ended + section.started.len();
        let never = match section.test_count {
            Some(count) if count > seen => {
                format!("; {} of its {count} tests never started", count - seen)
            }
            _ => String::new(),
        };
        let message = format!(
            "the test never ended: its binary exited while it ran{how}, by a crash, an abort or \
             a kill, of this test or of another one running beside it{never}; see the step's log"
        );
        tests.extend(section.started.into_iter().map(|name| TestCase {
            binary: section.binary.clone(),
            name,
            outcome: TestOutcome::Failed,
            duration_ms: 0,
            attempts: 1,
            failure: Some(TestFailure {
                message: message.clone(),
                file: None,
                line: None,
                output_tail: String::new(),
            }),
        }));
    }
}

impl TestFailure {
    /// Reads the failure of test `test` from its status element (its `message`, its `type`
    /// and its text) and the test's output: the location and message of the panic of the
    /// test's own thread when there is one (the last, as a test may catch panics before the
    /// one that fails it), else of the first panic; else what kind of failure nextest says it
    /// was (a timeout, an abort, an exit code other than a panic's) with its message; else
    /// the first line.
    pub(super) fn read(test: &str, status: &Status, output: &str) -> Self {
        let (head, text) = (head(status), self::text(status));
        let panic = [text, output, head]
            .into_iter()
            .find_map(|text| Panic::find(text, test));
        let told = status.kind.as_deref().filter(|k| {
            let generic = ["test failure", "test failure with exit code 101"];
            !k.trim().is_empty() && !generic.contains(&k.trim())
        });
        let (message, file, line) = match (panic, told) {
            (Some(p), _) => (p.message, Some(p.file), Some(p.line)),
            // With nextest's words for it when it has some: `test abort: process aborted
            // with signal 6 (SIGABRT)`.
            (None, Some(kind)) => match head.trim() {
                "" => (kind.trim().to_owned(), None, None),
                said if said == kind.trim() => (said.to_owned(), None, None),
                said => (format!("{}: {said}", kind.trim()), None, None),
            },
            (None, None) => {
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
}

/// A panic found in a test's output.
struct Panic {
    file: String,
    line: u32,
    message: String,
}

impl Panic {
    /// The panic of `test` in `text`: the last one of a thread named `test` (libtest names a
    /// test's thread after it) or `main`, else the first one. A panic is
    /// `thread 'name' (id) panicked at FILE:LINE:COL:` and the message on the lines that
    /// follow, up to the backtrace or its note.
    fn find(text: &str, test: &str) -> Option<Self> {
        let mut first = None;
        let mut own = None;
        for (thread, panic) in Self::all(text) {
            if thread == test || thread == "main" {
                own = Some(panic);
            } else if first.is_none() {
                first = Some(panic);
            }
        }
        own.or(first)
    }

    /// Every panic in `text`, with the name of its thread.
    fn all(text: &str) -> Vec<(&str, Self)> {
        let mut found = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(l) = lines.next() {
            let Some((before, at)) = l.split_once(" panicked at ") else {
                continue;
            };
            let thread = before
                .split_once('\'')
                .and_then(|(_, rest)| rest.rsplit_once('\''))
                .map_or("", |(name, _)| name);
            let at = at.trim().trim_end_matches(':');
            let mut parts = at.rsplitn(3, ':');
            let (Some(_col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(line) = line.parse() else { continue };
            let mut message = Vec::new();
            while let Some(l) = lines.next_if(|l| !l.contains(" panicked at ")) {
                if l.starts_with("stack backtrace:") || l.starts_with("note: ") {
                    break;
                }
                message.push(l);
            }
            let panic = Self {
                file: file.trim_start_matches("./").to_owned(),
                line,
                message: message.join("\n").trim().to_owned(),
            };
            found.push((thread, panic));
        }
        found
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

/// A status element's text, or nothing.
fn text(s: &Status) -> &str {
    s.description.as_deref().unwrap_or("")
}

/// A status element's message, or nothing.
fn head(s: &Status) -> &str {
    s.message.as_deref().unwrap_or("")
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

impl TestCase {
    /// Cuts what came from a container to [`NAME_BYTES`](super::NAME_BYTES): the binary, the
    /// name and the panic's location.
    pub(super) fn bound(&mut self) {
        for text in [&mut self.binary, &mut self.name] {
            if text.len() > super::NAME_BYTES {
                *text = bounded(text, super::NAME_BYTES);
            }
        }
        if let Some(file) = self.failure.as_mut().and_then(|f| f.file.as_mut())
            && file.len() > super::NAME_BYTES
        {
            *file = bounded(file, super::NAME_BYTES);
        }
    }
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
