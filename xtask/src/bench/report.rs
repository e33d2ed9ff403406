//! The rows' results and their rendering as `BENCHMARKS.md`.

use super::measure::{Samples, duration};

/// What a measurement must reach.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// For context only.
    None,
    /// tanto's median at most this many times the baseline's.
    Ratio(f64),
    /// tanto's median below this many ms.
    Under(f64),
}

/// One measurement: tanto's figure, optionally against a baseline, and its target.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// What was measured.
    pub(crate) what: String,
    /// The baseline's name and figure.
    pub(crate) baseline: Option<(String, Samples)>,
    /// tanto's figure.
    pub(crate) tanto: Samples,
    /// The goal.
    pub(crate) target: Target,
}

impl Line {
    /// A line against a baseline.
    pub(crate) fn versus(
        what: impl Into<String>,
        tanto: &Samples,
        baseline: impl Into<String>,
        figure: &Samples,
        target: Target,
    ) -> Self {
        Self {
            what: what.into(),
            baseline: Some((baseline.into(), figure.clone())),
            tanto: tanto.clone(),
            target,
        }
    }

    /// A line with an absolute target.
    pub(crate) fn alone(what: impl Into<String>, tanto: &Samples, under_ms: f64) -> Self {
        Self {
            what: what.into(),
            baseline: None,
            tanto: tanto.clone(),
            target: Target::Under(under_ms),
        }
    }

    /// tanto's median over the baseline's.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .map(|(_, b)| self.tanto.median() / b.median())
    }

    /// Whether the target is met; `None` for a line without one.
    pub(crate) fn met(&self) -> Option<bool> {
        match self.target {
            Target::None => None,
            Target::Ratio(r) => self.ratio().map(|x| x <= r),
            Target::Under(ms) => Some(self.tanto.median() < ms),
        }
    }
}

/// One row of the table: a workload and its measurements.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Its number in the list.
    pub(crate) id: u8,
    /// A short title.
    pub(crate) title: &'static str,
    /// The workload, in a sentence or two.
    pub(crate) workload: String,
    /// The measurements.
    pub(crate) lines: Vec<Line>,
    /// Where the time goes, from a profile; required when a target is missed.
    pub(crate) notes: Vec<String>,
}

impl Row {
    /// Whether every line with a target meets it.
    pub(crate) fn all_met(&self) -> bool {
        self.lines.iter().all(|l| l.met() != Some(false))
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn table_line(row: Option<&Row>, line: &Line) -> String {
    let (baseline, figure) = match &line.baseline {
        Some((name, s)) => (cell(name), s.to_string()),
        None => ("—".to_owned(), "—".to_owned()),
    };
    let ratio = line.ratio().map_or("—".to_owned(), |r| format!("{r:.2}×"));
    let target = match line.target {
        Target::None => "—".to_owned(),
        Target::Ratio(r) => format!("≤ {r}×"),
        Target::Under(ms) => format!("< {}", duration(ms)),
    };
    let met = match line.met() {
        None => "—",
        Some(true) => "**met**",
        Some(false) => "**missed**",
    };
    let row = row.map_or(String::new(), |r| format!("{}. {}", r.id, r.title));
    format!(
        "| {row} | {} | {baseline} | {figure} | {} | {ratio} | {target} | {met} |\n",
        cell(&line.what),
        line.tanto
    )
}

/// The whole `BENCHMARKS.md`: `header`, the table, then each row's workload and notes.
pub(crate) fn markdown(header: &str, rows: &[Row]) -> String {
    let mut out = String::from(header);
    out.push_str(
        "\n| Row | Measurement | Baseline | Baseline figure | tanto | Ratio | Target | Met |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        for (i, line) in row.lines.iter().enumerate() {
            out.push_str(&table_line((i == 0).then_some(row), line));
        }
    }
    for row in rows {
        out.push_str(&format!(
            "\n## {}. {}\n\n{}\n",
            row.id, row.title, row.workload
        ));
        if !row.notes.is_empty() {
            out.push('\n');
            for note in &row.notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
    }
    out
}
