//! The Markdown summary a run appends to `GITHUB_STEP_SUMMARY`: each step with its status and
//! time, the counts, and each failing and flaky test with where it failed.

use std::io::Write;
use std::path::PathBuf;

use crate::artifact::TestOutcome;
use crate::graph::Plan;
use crate::report::say;
use crate::report::{Stamped, Summary, View, human_duration};
use crate::shown::shown;

/// Appends the run's Markdown summary to a file when the run ends (GitHub Actions shows the
/// file `GITHUB_STEP_SUMMARY` names on the job's page).
#[derive(Debug)]
pub struct StepSummary {
    path: PathBuf,
    summary: Summary,
}

impl StepSummary {
    /// A view that appends to `path`, its steps in `plan`'s order.
    pub fn new(path: PathBuf, plan: &Plan) -> Self {
        Self {
            path,
            summary: Summary::in_plan_order(plan),
        }
    }
}

/// `text` as it may stand inside a Markdown table's code span: shown on one line, with no
/// backtick to end the span and no `|` to end the cell.
fn code(text: &str) -> String {
    let text = shown(text).replace('`', "'").replace('|', "\\|");
    format!("`{text}`")
}

/// `text` as plain Markdown on one line: shown, with what Markdown or HTML would act on
/// escaped.
fn plain(text: &str) -> String {
    let mut out = String::new();
    for c in shown(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The most bytes of Markdown one step of a GitHub Actions job may leave in
/// `GITHUB_STEP_SUMMARY`: the runner drops the whole summary of a step that writes more.
const GITHUB_LIMIT: usize = 1024 * 1024;

/// The most characters of a failing test's message in its row.
const MAX_MESSAGE: usize = 1000;

/// What the note about rows left out may take, kept free under a budget.
const NOTE_ROOM: usize = 512;

/// The Markdown of a run's summary, in at most `budget` bytes: rows of failing and flaky tests
/// that do not fit are counted in a note instead.
pub(crate) fn markdown(summary: &Summary, budget: usize) -> String {
    let mut out = format!("### tanto: {}\n\n", code(&summary.pipeline));
    out.push_str("| step | status | time |\n|---|---|---|\n");
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (step, status, ms) in summary.ordered_rows() {
        let time = ms.map_or_else(|| "-".to_owned(), human_duration);
        out.push_str(&format!("| {} | {status} | {time} |\n", code(step)));
        *counts.entry(status.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    out.push_str(&format!("\n{}\n", counts.join(", ")));
    let mut left_out = 0;
    for (step, cached, report) in &summary.reports {
        let cached = if *cached { " (cached)" } else { "" };
        out.push_str(&format!(
            "\n#### Tests of {}{cached}: {}\n",
            code(step),
            report.counts().describe()
        ));
        let listed: Vec<_> = report
            .tests
            .iter()
            .filter(|t| matches!(t.outcome, TestOutcome::Failed | TestOutcome::Flaky))
            .collect();
        if listed.is_empty() {
            continue;
        }
        out.push_str("\n| test | outcome | where | message |\n|---|---|---|---|\n");
        for test in listed {
            let outcome = match test.outcome {
                TestOutcome::Flaky => format!("flaky (passed on try {})", test.attempts),
                _ => "**failed**".to_owned(),
            };
            let (at, message) = test.failure.as_ref().map_or_else(Default::default, |f| {
                let lines: Vec<&str> = f.message.lines().map(str::trim).collect();
                let mut message = lines.join(" ");
                if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE) {
                    message.truncate(cut);
                    message.push('…');
                }
                (
                    f.location().map(|l| code(&l)).unwrap_or_default(),
                    plain(&message),
                )
            });
            let row = format!(
                "| {} | {outcome} | {at} | {message} |\n",
                code(&test.full_name())
            );
            if left_out > 0 || out.len() + row.len() + NOTE_ROOM > budget {
                left_out += 1;
            } else {
                out.push_str(&row);
            }
        }
    }
    if left_out > 0 {
        out.push_str(&format!(
            "\n{left_out} more failing or flaky tests are not listed: a step's summary on GitHub \
             holds at most 1 MiB. The run's log and `--junit` list them all.\n"
        ));
    }
    out
}

impl View for StepSummary {
    fn event(&mut self, event: &Stamped) {
        self.summary.event(event);
    }

    fn finish(&mut self) {
        // The file may hold what earlier commands of the job's step wrote.
        let used = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        let budget = GITHUB_LIMIT.saturating_sub(usize::try_from(used).unwrap_or(usize::MAX));
        let text = markdown(&self.summary, budget);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            say!(
                "warning: cannot append the run's summary to GITHUB_STEP_SUMMARY (`{}`): {e}",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{TestCase, TestFailure, TestReport};
    use crate::report::Event;

    #[test]
    fn what_tests_print_cannot_break_the_table_or_add_markup() {
        let report = TestReport::new(
            "nextest",
            vec![TestCase {
                binary: "app".into(),
                name: "t|`x`".into(),
                outcome: TestOutcome::Failed,
                duration_ms: 1,
                attempts: 1,
                failure: Some(TestFailure {
                    message: "<img src=x> | **bold**\n[link](u)".into(),
                    file: Some("src/a.rs".into()),
                    line: Some(3),
                    output_tail: String::new(),
                }),
            }],
        );
        let mut summary = Summary::new();
        for event in [
            Event::RunStarted {
                run_id: "r".into(),
                pipeline: "ci".into(),
                steps: 1,
            },
            Event::TestReport {
                step: "tests".into(),
                cached: true,
                report,
            },
            Event::StepCached {
                step: "tests".into(),
            },
        ] {
            summary.event(&Stamped { ts_us: 0, event });
        }
        assert_eq!(
            markdown(&summary, GITHUB_LIMIT),
            "### tanto: `ci`\n\n| step | status | time |\n|---|---|---|\n| `tests` | cached | - |\n\n\
             1 cached\n\n#### Tests of `tests` (cached): 1 failed\n\n\
             | test | outcome | where | message |\n|---|---|---|---|\n\
             | `app t\\|'x'` | **failed** | `src/a.rs:3` | &lt;img src=x&gt; \\| \\*\\*bold\\*\\* \\[link\\](u) |\n"
        );
    }

    #[test]
    fn failing_tests_beyond_githubs_limit_are_counted_not_listed() {
        let failed = |i: usize| TestCase {
            binary: "app".into(),
            name: format!("t{i}"),
            outcome: TestOutcome::Failed,
            duration_ms: 1,
            attempts: 1,
            failure: Some(TestFailure {
                message: "x".repeat(1500),
                file: None,
                line: None,
                output_tail: String::new(),
            }),
        };
        let report = TestReport::new("nextest", (0..3000).map(failed).collect());
        let mut summary = Summary::new();
        let step = Event::TestReport {
            step: "tests".into(),
            cached: false,
            report,
        };
        summary.event(&Stamped {
            ts_us: 0,
            event: step,
        });
        let text = markdown(&summary, GITHUB_LIMIT);
        assert!(text.len() <= GITHUB_LIMIT, "{}", text.len());
        let rows = text.lines().filter(|l| l.starts_with("| `app t")).count();
        assert!(rows > 500, "{rows}");
        assert!(
            text.ends_with(&format!(
                "\n{} more failing or flaky tests are not listed: a step's summary on GitHub holds \
                 at most 1 MiB. The run's log and `--junit` list them all.\n",
                3000 - rows
            )),
            "{}",
            &text[text.len() - 300..]
        );
        assert!(text.contains(&format!("| {}… |", "x".repeat(MAX_MESSAGE))));
        // A smaller budget, as when the file already holds other steps' summaries.
        assert!(markdown(&summary, 10_000).len() <= 10_000);
    }
}
