//! The live view's picture of a run: every step of the pipeline in a tree (nested pipelines
//! as branches) with its state, drawn as lines that fit the terminal. Pure: events go in,
//! lines come out, so the layout is tested without a terminal.

use std::collections::VecDeque;
use std::sync::Arc;

use console::{Style, measure_text_width, truncate_str};

use crate::graph::Plan;
use crate::report::{Event, human_duration, shown};

/// How many of its last output lines a running step shows.
const TAIL: usize = 3;

/// The braille spinner, one frame per tenth of a second.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What a step is doing, as far as the events have said.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting,
    Running {
        since_us: u64,
    },
    Cached,
    Done {
        ms: u64,
    },
    Failed {
        ms: u64,
    },
    Skipped {
        reason: String,
    },
    /// Started, then stopped by a failure elsewhere or Ctrl-C: `reason` says so.
    Stopped {
        reason: String,
    },
}

#[derive(Debug)]
struct Row {
    label: Arc<str>,
    /// The labels of the steps it takes inputs from.
    waits_on: Vec<Arc<str>>,
    state: State,
    tail: VecDeque<String>,
}

/// Every step of a run and its state.
#[derive(Debug)]
pub(crate) struct Board {
    pipeline: String,
    rows: Vec<Row>,
    started_us: Option<u64>,
    colors: bool,
}

impl Board {
    /// A board of `plan`'s steps, all waiting; `colors` for a terminal that shows them.
    pub(crate) fn new(plan: &Plan, colors: bool) -> Self {
        let rows = plan
            .steps()
            .map(|(node, _)| Row {
                label: node.label.clone(),
                waits_on: node
                    .deps()
                    .iter()
                    .map(|d| &plan.nodes[d.index()])
                    .filter(|d| d.step().is_some())
                    .map(|d| d.label.clone())
                    .collect(),
                state: State::Waiting,
                tail: VecDeque::new(),
            })
            .collect();
        Self {
            pipeline: plan.pipeline.name.to_owned(),
            rows,
            started_us: None,
            colors,
        }
    }

    fn row(&mut self, label: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| *r.label == *label)
    }

    /// Takes in one event that happened at `ts_us`.
    pub(crate) fn apply(&mut self, ts_us: u64, event: &Event) {
        let (step, state) = match event {
            Event::RunStarted { .. } => {
                self.started_us = Some(ts_us);
                return;
            }
            Event::StepStarted { step, .. } => (step, State::Running { since_us: ts_us }),
            Event::StepLog { step, line, .. } => return self.push_tail(step, shown(line)),
            Event::StepNote { step, message } => {
                return self.push_tail(step, format!("tanto: {}", shown(message)));
            }
            Event::StepCached { step } => (step, State::Cached),
            Event::StepFinished { step, duration_ms } => (step, State::Done { ms: *duration_ms }),
            Event::StepFailed {
                step, duration_ms, ..
            } => (step, State::Failed { ms: *duration_ms }),
            Event::StepSkipped {
                step,
                reason,
                stopped: false,
            } => (
                step,
                State::Skipped {
                    reason: shown(reason),
                },
            ),
            Event::StepSkipped { step, reason, .. } => (
                step,
                State::Stopped {
                    reason: shown(reason),
                },
            ),
            _ => return,
        };
        if let Some(row) = self.row(step) {
            row.state = state;
            if !matches!(row.state, State::Running { .. }) {
                row.tail.clear();
            }
        }
    }

    fn push_tail(&mut self, step: &str, line: String) {
        if let Some(row) = self.row(step) {
            if row.tail.len() == TAIL {
                row.tail.pop_front();
            }
            row.tail.push_back(line);
        }
    }

    fn style(&self, style: Style) -> Style {
        if self.colors { style } else { Style::new() }
    }

    /// The header line: the pipeline, how many steps are in each state, and the time so far.
    fn header(&self, now_us: u64) -> String {
        let count = |f: fn(&State) -> bool| self.rows.iter().filter(|r| f(&r.state)).count();
        let running = count(|s| matches!(s, State::Running { .. }));
        let waiting = count(|s| matches!(s, State::Waiting));
        let done = count(|s| matches!(s, State::Done { .. }));
        let cached = count(|s| matches!(s, State::Cached));
        let failed = count(|s| matches!(s, State::Failed { .. }));
        let skipped = count(|s| matches!(s, State::Skipped { .. }));
        let stopped = count(|s| matches!(s, State::Stopped { .. }));
        let elapsed = self
            .started_us
            .map_or(0, |start| now_us.saturating_sub(start) / 1000);
        let mut parts = vec![
            format!("{running} running"),
            format!("{waiting} waiting"),
            format!("{done} done"),
            format!("{cached} cached"),
            format!("{failed} failed"),
        ];
        if skipped > 0 {
            parts.push(format!("{skipped} skipped"));
        }
        if stopped > 0 {
            parts.push(format!("{stopped} stopped"));
        }
        format!(
            "{} {} · {} · {}",
            self.style(Style::new().bold()).apply_to("tanto"),
            self.pipeline,
            parts.join(" · "),
            human_duration(elapsed)
        )
    }

    /// The mark and the detail of a row.
    fn describe(&self, row: &Row, now_us: u64) -> (String, String) {
        let dim = self.style(Style::new().dim());
        match &row.state {
            State::Waiting => {
                let detail = match row.waits_on.as_slice() {
                    [] => "waiting for a slot".to_owned(),
                    deps => {
                        let deps: Vec<String> = deps.iter().map(|d| shown(d)).collect();
                        format!("waiting on {}", deps.join(", "))
                    }
                };
                ("·".to_owned(), dim.apply_to(detail).to_string())
            }
            State::Running { since_us } => {
                let ms = now_us.saturating_sub(*since_us) / 1000;
                let frame = SPINNER[usize::try_from(now_us / 100_000).unwrap_or(0) % SPINNER.len()];
                (
                    self.style(Style::new().cyan()).apply_to(frame).to_string(),
                    human_duration(ms),
                )
            }
            State::Cached => (
                self.style(Style::new().blue()).apply_to("●").to_string(),
                dim.apply_to("cached").to_string(),
            ),
            State::Done { ms } => (
                self.style(Style::new().green()).apply_to("✓").to_string(),
                human_duration(*ms),
            ),
            State::Failed { ms } => (
                self.style(Style::new().red()).apply_to("✗").to_string(),
                format!(
                    "{} after {}",
                    self.style(Style::new().red()).apply_to("failed"),
                    human_duration(*ms)
                ),
            ),
            State::Skipped { reason } => (
                self.style(Style::new().yellow()).apply_to("-").to_string(),
                dim.apply_to(format!("skipped: {reason}")).to_string(),
            ),
            // The reason reads "stopped while running: …".
            State::Stopped { reason } => (
                self.style(Style::new().yellow()).apply_to("■").to_string(),
                dim.apply_to(reason).to_string(),
            ),
        }
    }

    /// The picture at `now_us`, at most `height` lines of at most `width` columns. When the
    /// whole tree does not fit, finished steps fold into one line first, then running steps
    /// lose their output lines, then the last rows are cut with a count of what is hidden.
    pub(crate) fn render(&self, now_us: u64, width: usize, height: usize) -> Vec<String> {
        let height = height.max(2);
        let finished = |r: &Row| {
            matches!(
                r.state,
                State::Done { .. } | State::Cached | State::Skipped { .. } | State::Stopped { .. }
            )
        };
        let mut lines = self.tree(now_us, &|_| true, true);
        if lines.len() + 1 > height {
            let folded = self.rows.iter().filter(|r| finished(r)).count();
            lines = self.tree(now_us, &|r| !finished(r), true);
            if folded > 0 {
                lines.insert(
                    0,
                    format!("✓ {folded} finished (folded to fit the terminal)"),
                );
            }
            if lines.len() + 1 > height {
                let kept = self.tree(now_us, &|r| !finished(r), false);
                lines = kept;
                if folded > 0 {
                    lines.insert(
                        0,
                        format!("✓ {folded} finished (folded to fit the terminal)"),
                    );
                }
            }
            if lines.len() + 1 > height {
                let room = height - 2;
                let hidden = lines.len() - room;
                lines.truncate(room);
                lines.push(format!("… {hidden} more lines"));
            }
        }
        let mut out = Vec::with_capacity(lines.len() + 1);
        out.push(self.header(now_us));
        out.extend(lines);
        out.into_iter()
            .map(|l| {
                if measure_text_width(&l) > width {
                    truncate_str(&l, width, "…").into_owned()
                } else {
                    l
                }
            })
            .collect()
    }

    /// The tree of the rows that `keep` keeps, nested pipelines (`checks/fmt`) as branches;
    /// with `tails`, each running step's last output lines under it.
    fn tree(&self, now_us: u64, keep: &dyn Fn(&Row) -> bool, tails: bool) -> Vec<String> {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| keep(r)).collect();
        let mut lines = Vec::new();
        let mut open: Vec<String> = Vec::new();
        for row in rows {
            let label = shown(&row.label);
            let path: Vec<&str> = label.split('/').collect();
            let (branches, name) = path.split_at(path.len() - 1);
            let common = open
                .iter()
                .zip(branches)
                .take_while(|(a, b)| a.as_str() == **b)
                .count();
            open.truncate(common);
            for branch in &branches[common..] {
                lines.push(format!("{}▸ {branch}", "  ".repeat(open.len())));
                open.push((*branch).to_owned());
            }
            let indent = "  ".repeat(open.len());
            let (mark, detail) = self.describe(row, now_us);
            lines.push(format!("{indent}{mark} {}  {detail}", name[0]));
            if tails && matches!(row.state, State::Running { .. }) {
                let dim = self.style(Style::new().dim());
                for line in &row.tail {
                    lines.push(format!("{indent}    {}", dim.apply_to(line)));
                }
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Stream;
    use crate::graph::StepInfo;

    /// The run fn of a step that is never run.
    const NEVER: crate::graph::RunFn = |_, _| Box::pin(async { Ok(Vec::new()) });

    fn plan() -> Plan {
        use crate::graph::{Arg, Builder, PipelineInfo};
        let never = NEVER;
        let pipeline = |name| PipelineInfo {
            name,
            path: name,
            doc: "",
            params: &[],
        };
        let mut b = Builder::new();
        let fmt = b.step(StepInfo::shape("fmt"), never, Vec::new());
        let test = b.nested(pipeline("checks"), |b| {
            b.step(StepInfo::shape("test"), never, Vec::new())
        });
        b.step(
            StepInfo::shape("package"),
            never,
            vec![
                Arg::Handle { node: fmt, part: 0 },
                Arg::Handle {
                    node: test,
                    part: 0,
                },
            ],
        );
        b.finish(pipeline("ci"), Vec::new())
    }

    fn log(step: &str, line: &str) -> Event {
        Event::StepLog {
            step: step.into(),
            stream: Stream::Stdout,
            line: line.into(),
        }
    }

    #[test]
    fn the_tree_shows_every_step_with_its_state() {
        let mut board = Board::new(&plan(), false);
        board.apply(
            0,
            &Event::RunStarted {
                run_id: "r".into(),
                pipeline: "ci".into(),
                steps: 3,
            },
        );
        board.apply(1_000_000, &Event::StepCached { step: "fmt".into() });
        board.apply(
            1_000_000,
            &Event::StepStarted {
                step: "checks/test".into(),
                reason: "first run".into(),
                shared_with: None,
            },
        );
        for n in 1..=4 {
            board.apply(2_000_000, &log("checks/test", &format!("line {n}\x1b[31m")));
        }
        let lines = board.render(3_500_000, 80, 20);
        assert_eq!(
            lines,
            [
                "tanto ci · 1 running · 1 waiting · 0 done · 1 cached · 0 failed · 3.5s",
                "● fmt  cached",
                "▸ checks",
                "  ⠴ test  2.5s",
                "      line 2",
                "      line 3",
                "      line 4",
                "· package  waiting on fmt, checks/test",
            ]
        );
    }

    #[test]
    fn labels_are_shown_never_obeyed() {
        use crate::graph::{Builder, PipelineInfo};
        let (info, never) = (StepInfo::shape("pair"), NEVER);
        let mut b = Builder::new();
        b.enter_item("a\n::error::x\u{1b}[31m");
        let first = b.step(info, never, Vec::new());
        b.leave_item();
        b.step(
            info,
            never,
            vec![crate::graph::Arg::Handle {
                node: first,
                part: 0,
            }],
        );
        let plan = b.finish(
            PipelineInfo {
                name: "ci",
                path: "ci",
                doc: "",
                params: &[],
            },
            Vec::new(),
        );
        let lines = Board::new(&plan, false).render(0, 200, 20);
        assert_eq!(
            lines[1..],
            [
                "· pair[a\\u{a}::error::x]  waiting for a slot",
                "· pair  waiting on pair[a\\u{a}::error::x]",
            ]
        );
    }

    #[test]
    fn a_small_terminal_folds_finished_steps_then_tails() {
        let mut board = Board::new(&plan(), false);
        board.apply(
            0,
            &Event::StepFinished {
                step: "fmt".into(),
                duration_ms: 1200,
            },
        );
        board.apply(
            0,
            &Event::StepStarted {
                step: "checks/test".into(),
                reason: "r".into(),
                shared_with: None,
            },
        );
        board.apply(0, &log("checks/test", "compiling"));
        let lines = board.render(1_000_000, 80, 5);
        assert_eq!(
            lines,
            [
                "tanto ci · 1 running · 1 waiting · 1 done · 0 cached · 0 failed · 0ms",
                "✓ 1 finished (folded to fit the terminal)",
                "▸ checks",
                "  ⠋ test  1.0s",
                "· package  waiting on fmt, checks/test",
            ]
        );
        let narrow = board.render(1_000_000, 20, 3);
        assert!(
            narrow.iter().all(|l| measure_text_width(l) <= 20),
            "{narrow:?}"
        );
        assert_eq!(narrow.len(), 3, "{narrow:?}");
        assert!(narrow[2].starts_with('…'), "{narrow:?}");
    }
}
