//! The Markdown summary a run appends to `GITHUB_STEP_SUMMARY`: each step with its status and
//! time, the counts, and each failing and flaky test with where it failed.

use std::io::Write;
use std::path::PathBuf;

use crate::artifact::TestOutcome;
use crate::report::say;
use crate::report::text::shown;
use crate::report::{Stamped, Summary, View, human_duration};

/// Appends the run's Markdown summary to a file when the run ends (GitHub Actions shows the
/// file `GITHUB_STEP_SUMMARY` names on the job's page).
#[derive(Debug)]
pub struct StepSummary {
    path: PathBuf,
    summary: Summary,
}

impl StepSummary {
    /// A view that appends to `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            summary: Summary::new(),
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

/// The Markdown of a run's summary.
pub(crate) fn markdown(summary: &Summary) -> String {
    let mut out = format!("### tanto: {}\n\n", code(&summary.pipeline));
    out.push_str("| step | status | time |\n|---|---|---|\n");
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (step, status, ms) in &summary.rows {
        let time = ms.map_or_else(|| "-".to_owned(), human_duration);
        out.push_str(&format!("| {} | {status} | {time} |\n", code(step)));
        *counts.entry(status.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    out.push_str(&format!("\n{}\n", counts.join(", ")));
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
                (
                    f.location().map(|l| code(&l)).unwrap_or_default(),
                    plain(&lines.join(" ")),
                )
            });
            out.push_str(&format!(
                "| {} | {outcome} | {at} | {message} |\n",
                code(&format!("{} {}", test.binary, test.name))
            ));
        }
    }
    out
}

impl View for StepSummary {
    fn event(&mut self, event: &Stamped) {
        self.summary.event(event);
    }

    fn finish(&mut self) {
        let text = markdown(&self.summary);
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
            markdown(&summary),
            "### tanto: `ci`\n\n| step | status | time |\n|---|---|---|\n| `tests` | cached | - |\n\n\
             1 cached\n\n#### Tests of `tests` (cached): 1 failed\n\n\
             | test | outcome | where | message |\n|---|---|---|---|\n\
             | `app t\\|'x'` | **failed** | `src/a.rs:3` | &lt;img src=x&gt; \\| \\*\\*bold\\*\\* \\[link\\](u) |\n"
        );
    }
}
