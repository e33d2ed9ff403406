//! Row 4: the scheduler's own overhead — a 10k-node DAG with a no-op runner, no containers.

use std::process::Command;

use super::measure::{self, Samples, duration, fields};
use super::report::{Line, Row};
use super::{Bench, profile};

const NODES: usize = 10_000;

/// Measures row 4.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(15);
    let out = measure::run(
        Command::new(&b.bins.sched)
            .arg(NODES.to_string())
            .arg(reps.to_string()),
    )?;
    let mut runs = Samples::default();
    for ms in fields(&out, "ms") {
        runs.push(ms);
    }
    if runs.len() != reps {
        return Err(format!(
            "bench_sched printed {} timings, not {reps}:\n{out}",
            runs.len()
        ));
    }
    let plan = fields(&out, "plan_ms").first().copied().unwrap_or(f64::NAN);
    let line = Line::alone("10k-node run, scheduler only", &runs, 10.0);
    let mut notes = Vec::new();
    if line.met() == Some(false) {
        b.say("  profiling the scheduler");
        let data = b.work.join("sched.perf");
        let profile = profile::perf_top(&b.bins.sched, &[&NODES.to_string(), "5"], &data, 4)
            .unwrap_or_else(|e| e);
        notes.push(format!("Profile of a `bench_sched` run, {profile}."));
    }
    Ok(Row {
        id: 4,
        title: "Scheduler, 10k no-op nodes",
        workload: format!(
            "`Scheduler::run` over a hand-built plan of {NODES} step nodes in 100 layers of \
             100, each node reading two of the layer before (`bench_sched`), with a runner \
             whose jobs return at once, and its events read as a run's views read them (the run's \
             bounded queue and `report::drive`, one view counting them); in process, after \
             one warm-up run. Building the plan itself took {}.",
            duration(plan)
        ),
        lines: vec![line],
        notes,
    })
}
