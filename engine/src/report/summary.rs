//! The table printed at the end of a run: each step, its status and duration, then each
//! failure and each failing test. The Markdown summary and `--junit` read what it collects.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use crate::artifact::{TestOutcome, TestReport};
use crate::graph::Plan;
use crate::report::text::{columns, padded, shown_lines};
use crate::report::{Event, Stamped, View, human_duration};
use crate::shown::shown;

/// Collects each step's final status for the closing table.
#[derive(Debug, Default)]
pub struct Summary {
    /// The pipeline's name, from `run_started`.
    pub(super) pipeline: String,
    /// Each step: label, status, how long it ran.
    pub(super) rows: Vec<(String, String, Option<u64>)>,
    index: BTreeMap<String, usize>,
    /// Each step's place in the plan, by label: the table's order, when known.
    order: BTreeMap<String, usize>,
    /// When each step that started did, by label: a stopped step's time is from there.
    started_at: BTreeMap<String, u64>,
    /// Each failed step: label, error, full log.
    pub(super) failures: Vec<(Arc<str>, String, Option<String>)>,
    /// Why each skipped step was skipped (a failure upstream, stopped by Ctrl-C…), by label.
    pub(super) skips: BTreeMap<String, String>,
    /// Each step's tests (the last report it sent), in the order they came: label, whether
    /// cached, the report. Merged reports are left out: their steps' own reports are here.
    pub(super) reports: Vec<(Arc<str>, bool, TestReport)>,
}

impl Summary {
    /// An empty summary, its rows in the order the steps first show up.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty summary whose rows list the steps in `plan`'s order, whatever order they ran
    /// in, so two runs of a pipeline read alike (the table, JUnit's cases, the Markdown).
    pub fn in_plan_order(plan: &Plan) -> Self {
        let order = plan.steps().enumerate();
        Self {
            order: order.map(|(i, (n, _))| (n.label.to_string(), i)).collect(),
            ..Self::default()
        }
    }

    fn set(&mut self, step: &str, status: &str, duration_ms: Option<u64>) {
        let row = (step.to_owned(), status.to_owned(), duration_ms);
        match self.index.get(step) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.index.insert(step.to_owned(), self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// The rows in the plan's order when it is known (a step the plan does not list keeps
    /// its place after those it does), else in the order the steps first showed up.
    pub(super) fn ordered_rows(&self) -> Vec<&(String, String, Option<u64>)> {
        let mut rows: Vec<&(String, String, Option<u64>)> = self.rows.iter().collect();
        rows.sort_by_key(|r| self.order.get(&r.0).copied().unwrap_or(usize::MAX));
        rows
    }

    /// The table as text.
    pub fn render(&self) -> String {
        let rows = self.ordered_rows();
        let steps: Vec<String> = rows.iter().map(|r| shown(&r.0)).collect();
        let width = steps.iter().map(|s| columns(s)).max().unwrap_or(4).max(4);
        let mut out = format!("{}  {:<8}  {}\n", padded("STEP", width), "STATUS", "TIME");
        for (step, (_, status, ms)) in steps.iter().zip(rows) {
            let time = ms.map(human_duration).unwrap_or_else(|| "-".to_owned());
            out.push_str(&format!("{}  {status:<8}  {time}\n", padded(step, width)));
        }
        out
    }

    /// The table, then each step's tests with each failing test, then each failure with its
    /// error and the path of its full log.
    pub fn render_with_failures(&self) -> String {
        let mut out = self.render();
        for (step, _, report) in &self.reports {
            out.push_str(&format!(
                "\ntests of `{}`: {}\n",
                shown(step),
                report.counts().describe()
            ));
            for test in &report.tests {
                let what = match test.outcome {
                    TestOutcome::Failed => "FAILED",
                    TestOutcome::Flaky => "flaky ",
                    _ => continue,
                };
                out.push_str(&format!("  {what} {}", shown(&test.full_name())));
                if let Some(failure) = &test.failure {
                    if let Some(at) = failure.location() {
                        out.push_str(&format!(" at {}", shown(&at)));
                    }
                    let message = shown_lines(&failure.message).replace('\n', "\n    ");
                    out.push_str(&format!(": {message}"));
                }
                if test.outcome == TestOutcome::Flaky {
                    out.push_str(&format!(" (passed on try {})", test.attempts));
                }
                out.push('\n');
            }
        }
        for (step, error, log) in &self.failures {
            // Each line of the error on its own: the tail of what the command printed is shown,
            // never obeyed. An error that starts by naming the step does not name it twice.
            let error = error
                .strip_prefix(&format!("step `{step}`: "))
                .unwrap_or(error);
            out.push_str(&format!(
                "\nstep `{}` failed: {}\n",
                shown(step),
                shown_lines(error)
            ));
            if let Some(log) = log {
                out.push_str(&format!("full log: {}\n", shown(log)));
            }
        }
        out
    }
}

impl View for Summary {
    fn event(&mut self, stamped: &Stamped) {
        match &stamped.event {
            Event::RunStarted { pipeline, .. } => self.pipeline.clone_from(pipeline),
            Event::TestReport {
                step,
                cached,
                report,
            } if !report.merged => {
                let entry = (step.clone(), *cached, report.clone());
                match self.reports.iter_mut().find(|(s, ..)| s == step) {
                    Some(old) => *old = entry,
                    None => self.reports.push(entry),
                }
            }
            Event::StepStarted {
                step, shared_with, ..
            } => {
                let status = if shared_with.is_some() {
                    "shared"
                } else {
                    "running"
                };
                self.started_at.insert(step.to_string(), stamped.ts_us);
                self.set(step, status, None);
            }
            Event::StepCached { step } => self.set(step, "cached", None),
            Event::StepFinished { step, duration_ms } => {
                let shared = self
                    .index
                    .get(&**step)
                    .is_some_and(|&i| self.rows[i].1 == "shared");
                let status = if shared { "shared" } else { "done" };
                self.set(step, status, Some(*duration_ms));
            }
            Event::StepFailed {
                step,
                duration_ms,
                error,
                log_path,
                ..
            } => {
                self.set(step, "FAILED", Some(*duration_ms));
                self.failures
                    .push((step.clone(), error.clone(), log_path.clone()));
            }
            Event::StepSkipped {
                step,
                reason,
                stopped,
            } => {
                // A stopped step ran until then; a skipped one never started.
                let ran_ms = (self.started_at.get(&**step))
                    .filter(|_| *stopped)
                    .map(|&at| stamped.ts_us.saturating_sub(at) / 1000);
                self.set(step, if *stopped { "stopped" } else { "skipped" }, ran_ms);
                self.skips.insert(step.to_string(), reason.clone());
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        if !self.rows.is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err);
            let _ = err.write_all(self.render_with_failures().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_on_the_labels_as_printed() {
        let mut summary = Summary::new();
        for step in ["pair[a\n::error::x,1]", "pair[日本,1]", "fmt"] {
            summary.event(&Stamped {
                ts_us: 0,
                event: Event::StepFinished {
                    step: step.into(),
                    duration_ms: 5,
                },
            });
        }
        assert_eq!(
            summary.render(),
            "STEP                      STATUS    TIME\n\
             pair[a\\u{a}::error::x,1]  done      5ms\n\
             pair[日本,1]              done      5ms\n\
             fmt                       done      5ms\n"
        );
    }

    #[test]
    fn a_step_stopped_while_it_ran_reads_stopped_and_one_never_started_skipped() {
        let mut summary = Summary::new();
        summary.event(&Stamped {
            ts_us: 0,
            event: Event::StepStarted {
                step: "test".into(),
                reason: "first run".into(),
                shared_with: None,
            },
        });
        for (step, stopped) in [("test", true), ("publish", false)] {
            let reason = if stopped {
                "stopped while running: x"
            } else {
                "cancelled: x"
            };
            summary.event(&Stamped {
                ts_us: 6_200_000,
                event: Event::StepSkipped {
                    step: step.into(),
                    reason: reason.into(),
                    stopped,
                },
            });
        }
        assert_eq!(
            summary.render(),
            "STEP     STATUS    TIME\n\
             test     stopped   6.2s\n\
             publish  skipped   -\n"
        );
    }

    #[test]
    fn no_line_of_a_failure_can_be_a_workflow_command() {
        let mut summary = Summary::new();
        let error = "command `sh` exited with code 7; the last lines it printed:\n\
                     failing x\n::warning::injected\n  ::error::indented ##[error]legacy";
        summary
            .failures
            .push(("echo[x]".into(), error.to_owned(), None));
        let text = summary.render_with_failures();
        for line in text.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line:?} in:\n{text}");
            assert!(!line.contains("##["), "{line:?} in:\n{text}");
        }
        assert!(text.contains("\n\\u{3a}:warning::injected\n"), "{text}");
    }

    #[test]
    fn a_failure_that_names_its_step_names_it_once() {
        let mut summary = Summary::new();
        let error = "step `edge`: service name `localhost` names the step's own container";
        summary
            .failures
            .push(("edge".into(), error.to_owned(), None));
        assert_eq!(
            summary.render_with_failures().lines().last(),
            Some("step `edge` failed: service name `localhost` names the step's own container")
        );
    }

    #[test]
    fn the_table_lists_the_steps_in_the_plans_order_whatever_order_they_ended_in() {
        use crate::graph::{Builder, PipelineInfo, RunFn, StepInfo};
        let never: RunFn = |_, _| Box::pin(async { Ok(Vec::new()) });
        let mut b = Builder::new();
        for name in ["fetch", "build", "test"] {
            b.step(StepInfo::shape(name), never, Vec::new());
        }
        let info = PipelineInfo {
            name: "ci",
            path: "ci",
            doc: "",
            params: &[],
        };
        let mut summary = Summary::in_plan_order(&b.finish(info, Vec::new()));
        for (step, ms) in [("test", 3), ("fetch", 1), ("build", 2)] {
            summary.event(&Stamped {
                ts_us: 0,
                event: Event::StepFinished {
                    step: step.into(),
                    duration_ms: ms,
                },
            });
        }
        assert_eq!(
            summary.render(),
            "STEP   STATUS    TIME\n\
             fetch  done      1ms\n\
             build  done      2ms\n\
             test   done      3ms\n"
        );
        // JUnit's cases and the Markdown table too.
        for (text, quoted) in [
            (crate::report::junit::junit(&summary), "name=\"{}\""),
            (crate::report::markdown::markdown(&summary, 1 << 16), "`{}`"),
        ] {
            let places = ["fetch", "build", "test"].map(|s| text.find(&quoted.replace("{}", s)));
            assert!(
                places.is_sorted() && places.iter().all(Option::is_some),
                "{text}"
            );
        }
    }
}
