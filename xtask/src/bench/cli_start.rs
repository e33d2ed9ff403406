//! Row 5: how fast a pipeline binary answers — `fixture --list`.

use std::process::Command;

use super::Bench;
use super::measure::{self, Samples};
use super::report::{Line, Row};

/// Measures row 5.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(30);
    let list = || measure::timed(Command::new(&b.bins.fixture).arg("--list"));
    list()?;
    let mut s = Samples::default();
    for _ in 0..reps {
        s.push(list()?.0);
    }
    Ok(Row {
        id: 5,
        title: "CLI start",
        workload: "`fixture --list` (the e2e pipelines binary, release build): process start, \
                   argument parsing, listing the pipelines, exit."
            .to_owned(),
        lines: vec![Line::alone("`BIN --list`", &s, 50.0)],
        notes: Vec::new(),
    })
}
