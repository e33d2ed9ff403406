//! `--junit FILE`: the run as JUnit XML for CI dashboards: a test case per step, and a test
//! suite per binary of each step's [`TestReport`](crate::TestReport), cached ones included.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::artifact::junit_xml::escape;
use crate::artifact::{TestOutcome, TestReport};
use crate::graph::Plan;
use crate::report::say;
use crate::report::{Stamped, Summary, View};

/// The name of the suite that holds one test case per step.
pub const STEPS_SUITE: &str = "tanto steps";

/// Writes the run's JUnit XML to a file when the run ends.
#[derive(Debug)]
pub struct Junit {
    path: PathBuf,
    summary: Summary,
    unwritten: bool,
}

impl Junit {
    /// A view that writes `path`, its cases in `plan`'s order.
    pub fn new(path: PathBuf, plan: &Plan) -> Self {
        Self {
            path,
            summary: Summary::in_plan_order(plan),
            unwritten: false,
        }
    }
}

/// How a test case ended, as JUnit says it.
enum Status<'a> {
    Passed,
    /// With why, when tanto knows: a step's reason (a failure upstream, the run stopped while
    /// it ran); a test the harness ignored has none.
    Skipped(Option<&'a str>),
    /// Failed tries before a pass: a `flakyFailure` each, with the first try's failure.
    Flaky {
        runs: usize,
        message: Option<&'a str>,
        description: Option<&'a str>,
    },
    /// A `failure`, and a `rerunFailure` for each retry.
    Failed {
        message: Option<&'a str>,
        description: Option<&'a str>,
        kind: Option<String>,
        reruns: usize,
    },
}

/// One `testcase`.
struct Case<'a> {
    name: &'a str,
    classname: &'a str,
    ms: Option<u64>,
    cached: bool,
    status: Status<'a>,
}

/// The JUnit report of a run's summary: a suite of one case per step, then a suite per
/// binary of each step's test report, named `STEP: BINARY`.
pub(crate) fn junit(summary: &Summary) -> String {
    let mut suites: Vec<(String, Vec<Case<'_>>)> = Vec::new();
    let steps = summary.ordered_rows().into_iter().map(|(step, row, ms)| {
        let status = match row.as_str() {
            "FAILED" => {
                let error = summary
                    .failures
                    .iter()
                    .find(|(s, ..)| **s == **step)
                    .map_or("", |(_, e, _)| e.as_str());
                Status::Failed {
                    message: Some(error.lines().next().unwrap_or_default()),
                    description: Some(error),
                    kind: None,
                    reruns: 0,
                }
            }
            // JUnit has no "stopped": a step stopped while it ran did not pass or fail.
            "skipped" | "stopped" => {
                Status::Skipped(summary.skips.get(step.as_str()).map(String::as_str))
            }
            _ => Status::Passed,
        };
        Case {
            name: step,
            classname: &summary.pipeline,
            ms: *ms,
            cached: row == "cached",
            status,
        }
    });
    suites.push((STEPS_SUITE.to_owned(), steps.collect()));
    for (step, _, tests) in &summary.reports {
        test_suites(step, tests, &mut suites);
    }
    document(&format!("tanto {}", summary.pipeline), &suites)
}

/// A suite per binary of `tests`, named `STEP: BINARY` (`STEP` when the binary is not known),
/// added to `suites`.
fn test_suites<'a>(step: &str, tests: &'a TestReport, suites: &mut Vec<(String, Vec<Case<'a>>)>) {
    let first = suites.len();
    for test in &tests.tests {
        let name = match test.binary.as_str() {
            "" => step.to_owned(),
            binary => format!("{step}: {binary}"),
        };
        if suites.len() == first || suites.last().is_some_and(|(n, _)| *n != name) {
            suites.push((name, Vec::new()));
        }
        let retries = test.attempts.saturating_sub(1) as usize;
        let status = match (test.outcome, &test.failure) {
            (TestOutcome::Passed, _) => Status::Passed,
            (TestOutcome::Ignored, _) => Status::Skipped(None),
            (TestOutcome::Flaky, f) => Status::Flaky {
                runs: retries,
                message: f.as_ref().map(|f| f.message.as_str()),
                description: f.as_ref().map(|f| f.output_tail.as_str()),
            },
            (TestOutcome::Failed, Some(f)) => Status::Failed {
                message: Some(&f.message),
                description: Some(&f.output_tail),
                kind: f.location().map(|at| format!("panicked at {at}")),
                reruns: retries,
            },
            (TestOutcome::Failed, None) => Status::Failed {
                message: None,
                description: None,
                kind: None,
                reruns: 0,
            },
        };
        if let Some((_, cases)) = suites.last_mut() {
            cases.push(Case {
                name: &test.name,
                classname: &test.binary,
                ms: Some(test.duration_ms),
                cached: false,
                status,
            });
        }
    }
}

/// The XML document, indented by four spaces as nextest's and quick-junit's are.
fn document(name: &str, suites: &[(String, Vec<Case<'_>>)]) -> String {
    let count = |cases: &[Case<'_>], f: fn(&Status<'_>) -> bool| {
        cases.iter().filter(|c| f(&c.status)).count()
    };
    let skipped = |s: &Status<'_>| matches!(s, Status::Skipped(_));
    let failed = |s: &Status<'_>| matches!(s, Status::Failed { .. });
    let all: Vec<&Case<'_>> = suites.iter().flat_map(|(_, c)| c).collect();
    let total = |f: fn(&Status<'_>) -> bool| all.iter().filter(|c| f(&c.status)).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" skipped=\"{}\" failures=\"{}\" errors=\"0\">",
        escape(name, true),
        all.len(),
        total(skipped),
        total(failed)
    );
    for (suite, cases) in suites {
        let _ = write!(
            x,
            "    <testsuite name=\"{}\" tests=\"{}\" skipped=\"{}\" errors=\"0\" failures=\"{}\"",
            escape(suite, true),
            cases.len(),
            count(cases, skipped),
            count(cases, failed)
        );
        if cases.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        for case in cases {
            test_case(&mut x, case);
        }
        x.push_str("    </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// One `testcase` element, at the third level.
fn test_case(x: &mut String, case: &Case<'_>) {
    let _ = write!(
        x,
        "        <testcase name=\"{}\" classname=\"{}\"",
        escape(case.name, true),
        escape(case.classname, true)
    );
    if let Some(ms) = case.ms {
        let _ = write!(x, " time=\"{:.3}\"", ms as f64 / 1000.0);
    }
    if !case.cached && matches!(case.status, Status::Passed) {
        x.push_str("/>\n");
        return;
    }
    x.push_str(">\n");
    if case.cached {
        x.push_str("            <properties>\n");
        x.push_str("                <property name=\"tanto.cached\" value=\"true\"/>\n");
        x.push_str("            </properties>\n");
    }
    let element = |x: &mut String,
                   tag: &str,
                   message: Option<&str>,
                   kind: Option<&str>,
                   text: Option<&str>| {
        let _ = write!(x, "            <{tag}");
        if let Some(m) = message {
            let _ = write!(x, " message=\"{}\"", escape(m, true));
        }
        if let Some(k) = kind {
            let _ = write!(x, " type=\"{}\"", escape(k, true));
        }
        match text {
            Some(t) => {
                let _ = writeln!(x, ">{}</{tag}>", escape(t, false));
            }
            None => x.push_str("/>\n"),
        }
    };
    match &case.status {
        Status::Passed => {}
        Status::Skipped(why) => element(x, "skipped", *why, None, None),
        Status::Flaky {
            runs,
            message,
            description,
        } => {
            for _ in 0..*runs {
                element(
                    x,
                    "flakyFailure",
                    *message,
                    None,
                    Some(description.unwrap_or("")),
                );
            }
        }
        Status::Failed {
            message,
            description,
            kind,
            reruns,
        } => {
            element(x, "failure", *message, kind.as_deref(), *description);
            for _ in 0..*reruns {
                element(x, "rerunFailure", *message, None, Some(""));
            }
        }
    }
    x.push_str("        </testcase>\n");
}

impl View for Junit {
    fn event(&mut self, event: &Stamped) {
        self.summary.event(event);
    }

    fn finish(&mut self) {
        let written = std::fs::write(&self.path, junit(&self.summary));
        if let Err(e) = written {
            say!(
                "error: --junit: cannot write `{}`: {e}",
                self.path.display()
            );
            self.unwritten = true;
        }
    }

    fn unwritten(&self) -> bool {
        self.unwritten
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::TestCase;
    use crate::report::Event;

    #[test]
    fn a_skipped_step_says_why_and_a_stopped_run_shows_which_ran() {
        let mut summary = Summary::new();
        let events = [
            Event::StepFinished {
                step: "fmt".into(),
                duration_ms: 3,
            },
            Event::StepSkipped {
                step: "test[\"a\"]".into(),
                reason: "stopped while running: interrupted (Ctrl-C)".into(),
                stopped: true,
            },
            Event::StepSkipped {
                step: "publish".into(),
                reason: "cancelled: interrupted (Ctrl-C)".into(),
                stopped: false,
            },
        ];
        for event in events {
            summary.event(&Stamped { ts_us: 0, event });
        }
        let xml = junit(&summary);
        assert!(
            xml.contains("<testcase name=\"test[&quot;a&quot;]\" classname=\"\"",)
                && xml
                    .contains("<skipped message=\"stopped while running: interrupted (Ctrl-C)\"/>")
                && xml.contains("<skipped message=\"cancelled: interrupted (Ctrl-C)\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"3\" skipped=\"2\" failures=\"0\""),
            "{xml}"
        );
    }

    #[test]
    fn a_test_whose_binary_is_not_known_is_named_by_its_step_and_name_alone() {
        let test = TestCase {
            binary: String::new(),
            name: "tests::fails".into(),
            outcome: TestOutcome::Failed,
            duration_ms: 1,
            attempts: 1,
            failure: None,
        };
        assert_eq!(test.full_name(), "tests::fails");
        let mut summary = Summary::new();
        summary.event(&Stamped {
            ts_us: 0,
            event: Event::TestReport {
                step: "unit".into(),
                cached: false,
                report: TestReport::new("libtest", vec![test]),
            },
        });
        let xml = junit(&summary);
        assert!(xml.contains("<testsuite name=\"unit\""), "{xml}");
        assert!(!xml.contains("unit: "), "{xml}");
    }
}
