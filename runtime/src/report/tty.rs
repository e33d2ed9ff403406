//! The terminal view: a live list of steps with their status, duration and the last lines of
//! the ones running.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{Event, Stamped, View, human_duration};

const TAIL: usize = 3;

/// Draws the run on a terminal with indicatif.
pub struct TtyView {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    tails: HashMap<String, VecDeque<String>>,
    running: ProgressStyle,
    settled: ProgressStyle,
}

impl TtyView {
    /// A view drawing on standard error.
    pub fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(12));
        let running =
            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {elapsed:.dim}{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
        let settled = ProgressStyle::with_template("{prefix}{msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Self {
            multi,
            bars: HashMap::new(),
            tails: HashMap::new(),
            running,
            settled,
        }
    }

    fn bar(&mut self, step: &str) -> ProgressBar {
        if let Some(bar) = self.bars.get(step) {
            return bar.clone();
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(self.running.clone());
        bar.set_prefix(step.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars.insert(step.to_owned(), bar.clone());
        bar
    }

    /// Adds `line` to the last lines shown under a running step.
    fn push_tail(&mut self, step: &str, mut line: String) {
        let tail = self.tails.entry(step.to_owned()).or_default();
        if tail.len() == TAIL {
            tail.pop_front();
        }
        if line.chars().count() > 100 {
            line = line.chars().take(99).chain(['…']).collect();
        }
        tail.push_back(line);
        let text: String = tail
            .iter()
            .map(|l| format!("\n    \x1b[2m{l}\x1b[0m"))
            .collect();
        self.bar(step).set_message(text);
    }

    fn settle(&mut self, step: &str, mark: &str, detail: String) {
        let bar = self.bar(step);
        bar.set_style(self.settled.clone());
        bar.set_prefix(format!("{mark} {step}"));
        bar.finish_with_message(detail);
        self.tails.remove(step);
    }
}

impl Default for TtyView {
    fn default() -> Self {
        Self::new()
    }
}

impl View for TtyView {
    fn event(&mut self, stamped: &Stamped) {
        match &stamped.event {
            Event::StepStarted { step, reason, .. } => {
                let bar = self.bar(step);
                let reason = super::text::shown(reason);
                bar.set_message(format!("  \x1b[2m{reason}\x1b[0m"));
            }
            Event::StepLog { step, line, .. } => self.push_tail(step, super::text::shown(line)),
            Event::StepNote { step, message } => {
                self.push_tail(step, format!("tanto: {}", super::text::shown(message)));
            }
            Event::StepCached { step } => {
                self.settle(step, "\x1b[34m●\x1b[0m", "  \x1b[2mcached\x1b[0m".into())
            }
            Event::StepFinished { step, duration_ms } => {
                self.settle(
                    step,
                    "\x1b[32m✓\x1b[0m",
                    format!("  {}", human_duration(*duration_ms)),
                );
            }
            Event::StepFailed {
                step, duration_ms, ..
            } => self.settle(
                step,
                "\x1b[31m✗\x1b[0m",
                format!(
                    "  \x1b[31mfailed\x1b[0m after {}",
                    human_duration(*duration_ms)
                ),
            ),
            Event::StepSkipped { step, reason } => {
                self.settle(
                    step,
                    "\x1b[33m-\x1b[0m",
                    format!("  \x1b[2mskipped: {reason}\x1b[0m"),
                );
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
        let _ = self.multi.clear();
        // Leave the final state on screen: re-print the settled lines once, statically.
    }
}
