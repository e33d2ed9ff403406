//! `--junit FILE`: the run as JUnit XML for CI dashboards: a test case per step, and a test
//! suite per binary of each step's [`TestReport`](crate::TestReport), cached ones included.

use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{
    FlakyOrRerun, NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use crate::artifact::{TestOutcome, TestReport};
use crate::report::{Stamped, Summary, View};

/// The name of the suite that holds one test case per step.
pub const STEPS_SUITE: &str = "tanto steps";

/// Writes the run's JUnit XML to a file when the run ends.
#[derive(Debug)]
pub struct Junit {
    path: PathBuf,
    summary: Summary,
}

impl Junit {
    /// A view that writes `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            summary: Summary::new(),
        }
    }
}

/// The JUnit report of a run's summary.
pub(crate) fn junit(summary: &Summary) -> Report {
    let mut report = Report::new(format!("tanto {}", summary.pipeline));
    let mut steps = TestSuite::new(STEPS_SUITE);
    for (step, status, ms) in &summary.rows {
        let case_status = match status.as_str() {
            "FAILED" => {
                let error = summary
                    .failures
                    .iter()
                    .find(|(s, ..)| s == step)
                    .map_or("", |(_, e, _)| e.as_str());
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(error.lines().next().unwrap_or_default())
                    .set_description(error);
                st
            }
            "skipped" => TestCaseStatus::skipped(),
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(step.as_str(), case_status);
        case.set_classname(summary.pipeline.as_str());
        if let Some(ms) = ms {
            case.set_time(Duration::from_millis(*ms));
        }
        if status == "cached" {
            case.add_property(quick_junit::Property::new("tanto.cached", "true"));
        }
        steps.add_test_case(case);
    }
    report.add_test_suite(steps);
    for (step, _, tests) in &summary.reports {
        report.add_test_suites(suites(step, tests));
    }
    report
}

/// A suite per binary of `tests`, named `STEP: BINARY`.
fn suites(step: &str, tests: &TestReport) -> Vec<TestSuite> {
    let mut suites: Vec<TestSuite> = Vec::new();
    for test in &tests.tests {
        let name = format!("{step}: {}", test.binary);
        if suites.last().is_none_or(|s| s.name.as_str() != name) {
            suites.push(TestSuite::new(name));
        }
        let status = match test.outcome {
            TestOutcome::Passed => TestCaseStatus::success(),
            TestOutcome::Ignored => TestCaseStatus::skipped(),
            TestOutcome::Flaky => {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                if let Some(f) = &test.failure {
                    rerun
                        .set_message(f.message.as_str())
                        .set_description(f.output_tail.as_str());
                }
                TestCaseStatus::Success {
                    flaky_runs: vec![rerun; test.attempts.saturating_sub(1) as usize],
                }
            }
            TestOutcome::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                if let Some(f) = &test.failure {
                    st.set_message(f.message.as_str())
                        .set_description(f.output_tail.as_str());
                    if let Some(at) = f.location() {
                        st.set_type(format!("panicked at {at}"));
                    }
                    let reruns = (1..test.attempts).map(|_| {
                        let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                        rerun.set_message(f.message.as_str());
                        rerun
                    });
                    st.add_reruns(reruns).set_rerun_kind(FlakyOrRerun::Rerun);
                }
                st
            }
        };
        let mut case = TestCase::new(test.name.as_str(), status);
        case.set_classname(test.binary.as_str())
            .set_time(Duration::from_millis(test.duration_ms));
        if let Some(suite) = suites.last_mut() {
            suite.add_test_case(case);
        }
    }
    suites
}

impl View for Junit {
    fn event(&mut self, event: &Stamped) {
        self.summary.event(event);
    }

    fn finish(&mut self) {
        let written = junit(&self.summary)
            .to_string()
            .map_err(std::io::Error::other)
            .and_then(|xml| std::fs::write(&self.path, xml));
        if let Err(e) = written {
            eprintln!(
                "warning: --junit: cannot write `{}`: {e}",
                self.path.display()
            );
        }
    }
}
