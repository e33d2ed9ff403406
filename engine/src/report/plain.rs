//! The plain view for logs that are not a terminal: `[step]` prefixes, no escape codes, and
//! GitHub Actions groups and error annotations when running there.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;

use crate::artifact::TestReport;
use crate::report::text::{github_message, github_property, plural};
use crate::report::{Event, Stamped, View, human_duration};
use crate::shown::shown;

/// The most lines of one step a GitHub Actions group holds: its last ones.
const GROUP_LINES: usize = 5_000;

/// The most bytes of lines one step's group holds.
const GROUP_BYTES: usize = 4 << 20;

/// Prints events as plain lines.
pub struct PlainView<W: Write + Send> {
    out: W,
    github: bool,
    buffered: HashMap<Arc<str>, Group>,
}

/// The end of a step's log, held until the step ends to print as one group.
#[derive(Default)]
struct Group {
    lines: VecDeque<String>,
    bytes: usize,
    /// Earlier lines let go to stay within [`GROUP_LINES`] and [`GROUP_BYTES`].
    skipped: u64,
}

impl Group {
    fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > GROUP_LINES || self.bytes > GROUP_BYTES {
            let Some(first) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= first.len();
            self.skipped += 1;
        }
    }
}

impl<W: Write + Send> PlainView<W> {
    /// A view writing to `out`; with `github`, each step's log is printed as one
    /// `::group::` block when it ends, and failures add an `::error::` line.
    pub fn new(out: W, github: bool) -> Self {
        Self {
            out,
            github,
            buffered: HashMap::new(),
        }
    }

    fn flush_group(&mut self, step: &str, title: &str) {
        let group = self.buffered.remove(step).unwrap_or_default();
        let _ = writeln!(self.out, "::group::{}", github_message(title));
        if group.skipped > 0 {
            let _ = writeln!(
                self.out,
                "[{}] tanto: {} earlier lines are only in the step's log",
                shown(step),
                group.skipped
            );
        }
        for line in group.lines {
            let _ = writeln!(self.out, "{line}");
        }
        let _ = writeln!(self.out, "::endgroup::");
    }
}

impl<W: Write + Send> View for PlainView<W> {
    fn event(&mut self, stamped: &Stamped) {
        let line = match &stamped.event {
            Event::RunStarted {
                pipeline,
                steps,
                run_id,
            } => {
                format!(
                    "tanto: running `{pipeline}` ({}, run {run_id})",
                    plural(*steps, "step")
                )
            }
            Event::StepStarted {
                step,
                reason,
                shared_with: None,
            } => format!("[{}] running: {}", shown(step), shown(reason)),
            Event::StepStarted {
                step,
                reason,
                shared_with: Some(first),
            } => format!(
                "[{}] shares the run of `{}` (same key): {}",
                shown(step),
                shown(first),
                shown(reason)
            ),
            Event::StepLog { step, line, .. } => {
                let text = format!("[{}] {}", shown(step), shown(line));
                if self.github {
                    self.buffered.entry(step.clone()).or_default().push(text);
                    return;
                }
                text
            }
            Event::StepNote { step, message } => {
                format!("[{}] tanto: {}", shown(step), shown(message))
            }
            Event::RunNote { message } => format!("tanto: {}", shown(message)),
            Event::StepCached { step } => format!("[{}] cached", shown(step)),
            Event::StepFinished { step, duration_ms } => {
                if self.github {
                    let title = format!("{step} (done in {})", human_duration(*duration_ms));
                    self.flush_group(step, &title);
                }
                format!("[{}] done in {}", shown(step), human_duration(*duration_ms))
            }
            Event::StepFailed {
                step,
                duration_ms,
                error,
                log_path,
                ..
            } => {
                // The first line here; the summary at the end repeats the whole error. A first
                // line that announces the lines after it says where they are instead.
                let mut lines = error.lines();
                let first = lines.next().unwrap_or_default();
                let first = match first.strip_suffix(':') {
                    Some(head) if lines.next().is_some() => {
                        format!("{head} (in the summary at the end)")
                    }
                    _ => first.to_owned(),
                };
                if self.github {
                    let title = format!("{step} (failed after {})", human_duration(*duration_ms));
                    self.flush_group(step, &title);
                    let _ = writeln!(
                        self.out,
                        "::error title={}::{}",
                        github_property(&format!("step {step} failed")),
                        github_message(&first)
                    );
                }
                let first = shown(&first);
                let step = shown(step);
                let mut text = format!(
                    "[{step}] FAILED after {}: {first}",
                    human_duration(*duration_ms)
                );
                if let Some(path) = log_path {
                    text.push_str(&format!("\n[{step}] full log: {}", shown(path)));
                }
                text
            }
            // A stopped step's reason says it was stopped while it ran.
            Event::StepSkipped {
                step,
                reason,
                stopped: true,
            } => format!("[{}] {}", shown(step), shown(reason)),
            Event::StepSkipped { step, reason, .. } => {
                format!("[{}] skipped: {}", shown(step), shown(reason))
            }
            Event::TestReport { report, .. } if report.merged => return,
            Event::TestReport { step, report, .. } => {
                if self.github {
                    for line in annotations(step, report) {
                        let _ = writeln!(self.out, "{line}");
                    }
                }
                format!("[{}] tests: {}", shown(step), report.counts().describe())
            }
            Event::RunFinished {
                ran,
                shared,
                cached,
                failed,
                skipped,
                stopped,
                duration_ms,
            } => {
                let shared = if *shared > 0 {
                    format!("{shared} shared, ")
                } else {
                    String::new()
                };
                let stopped = if *stopped > 0 {
                    format!(", {stopped} stopped")
                } else {
                    String::new()
                };
                format!(
                    "tanto: {ran} ran, {shared}{cached} cached, {failed} failed, {skipped} skipped{stopped} in {}",
                    human_duration(*duration_ms)
                )
            }
        };
        let _ = writeln!(self.out, "{line}");
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

/// A GitHub Actions `::error` annotation for each failing test of `report`, which step `step`
/// sent, at the panic's file and line when its output names them; its title names the step,
/// so the same test failing in two cells of a matrix is two annotations apart. Everything in
/// it came from a container, so every field is escaped.
pub(crate) fn annotations(step: &str, report: &TestReport) -> Vec<String> {
    report
        .failed()
        .map(|test| {
            let title = github_property(&format!("test {} failed in {step}", test.name));
            let (mut place, mut message) = (String::new(), github_message(&test.name));
            if let Some(failure) = &test.failure {
                if let (Some(file), Some(line)) = (&failure.file, failure.line) {
                    place = format!("file={},line={line},", github_property(file));
                }
                // Its lines as the runner spells a line break in a message (`assert_eq!`'s
                // `left:` and `right:` under each other).
                let message_text = failure.message.trim_matches('\n');
                let lines: Vec<String> = message_text.lines().map(github_message).collect();
                message = lines.join("%0A");
            }
            format!("::error {place}title={title}::{message}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_step_prints_cannot_become_a_workflow_command() {
        let mut view = PlainView::new(Vec::new(), true);
        let log = |line: &str| Stamped {
            ts_us: 0,
            event: Event::StepLog {
                step: "s".into(),
                stream: crate::report::Stream::Stdout,
                line: line.into(),
            },
        };
        view.event(&log("::add-mask::hunter2"));
        view.event(&log("\u{1b}[2J::error::fake"));
        view.event(&Stamped {
            ts_us: 0,
            event: Event::StepFailed {
                step: "s".into(),
                duration_ms: 5,
                error: "exit 1\n::warning::also fake".into(),
                kind: "command_failed",
                log_path: None,
            },
        });
        view.event(&Stamped {
            ts_us: 0,
            event: Event::StepFailed {
                step: "t".into(),
                duration_ms: 5,
                error: "command `sh` exited with code 7; the last lines it printed:\nboom".into(),
                kind: "command_failed",
                log_path: None,
            },
        });
        let text = String::from_utf8(view.out).unwrap();
        assert!(
            text.contains("[t] FAILED after 5ms: command `sh` exited with code 7; the last lines it printed (in the summary at the end)\n"),
            "{text}"
        );
        let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
        assert_eq!(
            commands,
            [
                "::group::s (failed after 5ms)",
                "::endgroup::",
                "::error title=step s failed::exit 1",
                "::group::t (failed after 5ms)",
                "::endgroup::",
                "::error title=step t failed::command `sh` exited with code 7; the last lines it printed (in the summary at the end)"
            ],
            "{text}"
        );
        assert!(text.contains("[s] ::add-mask::hunter2"), "{text}");
    }
}

#[cfg(test)]
mod labels {
    use super::*;

    /// Every line the plain view prints for a step labelled `step`, under GitHub Actions or not.
    fn printed(step: &str, github: bool) -> String {
        let mut view = PlainView::new(Vec::new(), github);
        let step: Arc<str> = step.into();
        for event in [
            Event::StepStarted {
                step: step.clone(),
                reason: format!("upstream `{step}` changed"),
                shared_with: None,
            },
            Event::StepLog {
                step: step.clone(),
                stream: crate::report::Stream::Stdout,
                line: "out".into(),
            },
            Event::StepFinished {
                step: step.clone(),
                duration_ms: 5,
            },
            Event::StepCached { step: step.clone() },
            Event::StepSkipped {
                step: step.clone(),
                reason: format!("`{step}` failed"),
                stopped: false,
            },
            Event::StepFailed {
                step,
                duration_ms: 5,
                error: "exit 1".into(),
                kind: "command_failed",
                log_path: None,
            },
        ] {
            view.event(&Stamped { ts_us: 0, event });
        }
        String::from_utf8(view.out).unwrap_or_default()
    }

    #[test]
    fn a_label_from_a_flag_is_shown_on_every_line_never_obeyed() {
        let label = "pair[a\n::error title=injected::pwned,\u{1b}[31m1]";
        for github in [false, true] {
            let text = printed(label, github);
            assert!(!text.contains('\u{1b}'), "{text}");
            for line in text.lines() {
                assert!(
                    !line.starts_with("::error title=injected"),
                    "a label cannot start a workflow command: {text}"
                );
                if !line.starts_with("::") {
                    assert!(line.starts_with("[pair[a\\u{a}::error"), "{line}");
                }
            }
        }
        let github = printed(label, true);
        assert!(
            github.contains("[pair[a\\u{a}::error title=injected::pwned,1]] done in 5ms\n"),
            "{github}"
        );
        assert!(
            github
                .contains("::group::pair[a\\u{a}::error title=injected::pwned,1] (done in 5ms)\n"),
            "{github}"
        );
    }
}

#[cfg(test)]
mod annotations {
    use super::*;
    use crate::artifact::{TestCase, TestFailure, TestOutcome};

    #[test]
    fn a_failing_test_is_an_escaped_annotation_at_its_line() {
        let failed = |name: &str, file: Option<&str>, message: &str| TestCase {
            binary: "app".into(),
            name: name.into(),
            outcome: TestOutcome::Failed,
            duration_ms: 1,
            attempts: 1,
            failure: Some(TestFailure {
                message: message.into(),
                file: file.map(Into::into),
                line: file.map(|_| 7),
                output_tail: String::new(),
            }),
        };
        let report = TestReport::new(
            "nextest",
            vec![
                failed("a::plain", Some("src/lib.rs"), "100% wrong\n  left: 1"),
                failed("b::x,y:z", Some("src/we,ird:name.rs"), "\n::add-mask::x"),
                failed("c::nowhere", None, "boom"),
            ],
        );
        assert_eq!(
            annotations("tests[1%]", &report),
            [
                "::error file=src/lib.rs,line=7,title=test a%3A%3Aplain failed in tests[1%25]::100%25 wrong%0A  left: 1",
                "::error file=src/we%2Cird%3Aname.rs,line=7,title=test b%3A%3Ax%2Cy%3Az failed in tests[1%25]::::add-mask::x",
                "::error title=test c%3A%3Anowhere failed in tests[1%25]::boom",
            ]
        );
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn a_github_group_keeps_a_bounded_tail_of_a_long_log() {
        let mut view = PlainView::new(Vec::new(), true);
        let long = "x".repeat(1000);
        for n in 0..50_000 {
            view.event(&Stamped {
                ts_us: 0,
                event: Event::StepLog {
                    step: "s".into(),
                    stream: crate::report::Stream::Stdout,
                    line: format!("{n} {long}"),
                },
            });
        }
        view.event(&Stamped {
            ts_us: 0,
            event: Event::StepFinished {
                step: "s".into(),
                duration_ms: 5,
            },
        });
        let text = String::from_utf8(view.out).unwrap();
        assert!(text.len() < 10 << 20, "{} bytes printed", text.len());
        assert!(text.contains("49999 x"), "the last line is shown");
        assert!(text.contains("earlier lines"), "the cut is said");
    }
}
