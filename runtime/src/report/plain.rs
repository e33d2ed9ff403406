//! The plain view for logs that are not a terminal: `[step]` prefixes, no escape codes, and
//! GitHub Actions groups and error annotations when running there.

use std::collections::HashMap;
use std::io::Write;

use crate::report::{Event, Stamped, View, human_duration};

/// Prints events as plain lines.
pub struct PlainView<W: Write + Send> {
    out: W,
    github: bool,
    buffered: HashMap<String, Vec<String>>,
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
        let lines = self.buffered.remove(step).unwrap_or_default();
        let _ = writeln!(self.out, "::group::{title}");
        for line in lines {
            let _ = writeln!(self.out, "{line}");
        }
        let _ = writeln!(self.out, "::endgroup::");
    }
}

/// Removes ANSI escape sequences that a tool inside a container may print.
pub(crate) fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

impl<W: Write + Send> View for PlainView<W> {
    fn event(&mut self, stamped: &Stamped) {
        let line = match &stamped.event {
            Event::RunStarted {
                pipeline,
                steps,
                run_id,
            } => {
                format!("tanto: running `{pipeline}` ({steps} steps, run {run_id})")
            }
            Event::StepStarted { step, reason } => format!("[{step}] running: {reason}"),
            Event::StepLog { step, line, .. } => {
                let text = format!("[{step}] {}", strip_ansi(line));
                if self.github {
                    self.buffered.entry(step.clone()).or_default().push(text);
                    return;
                }
                text
            }
            Event::StepCached { step } => format!("[{step}] cached"),
            Event::StepFinished { step, duration_ms } => {
                if self.github {
                    let title = format!("{step} (done in {})", human_duration(*duration_ms));
                    self.flush_group(step, &title);
                }
                format!("[{step}] done in {}", human_duration(*duration_ms))
            }
            Event::StepFailed {
                step,
                duration_ms,
                error,
                log_path,
                ..
            } => {
                if self.github {
                    let title = format!("{step} (failed after {})", human_duration(*duration_ms));
                    self.flush_group(step, &title);
                    let first = strip_ansi(error.lines().next().unwrap_or_default());
                    let _ = writeln!(self.out, "::error title=step {step} failed::{first}");
                }
                // The first line here; the summary at the end repeats the whole error.
                let first = strip_ansi(error.lines().next().unwrap_or_default());
                let mut text = format!(
                    "[{step}] FAILED after {}: {first}",
                    human_duration(*duration_ms)
                );
                if let Some(path) = log_path {
                    text.push_str(&format!("\n[{step}] full log: {path}"));
                }
                text
            }
            Event::StepSkipped { step, reason } => format!("[{step}] skipped: {reason}"),
            Event::RunFinished {
                ran,
                cached,
                failed,
                skipped,
                duration_ms,
            } => format!(
                "tanto: {ran} ran, {cached} cached, {failed} failed, {skipped} skipped in {}",
                human_duration(*duration_ms)
            ),
        };
        let _ = writeln!(self.out, "{line}");
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(strip_ansi("\u{1b}[1;31merror\u{1b}[0m: x\r"), "error: x");
    }
}
