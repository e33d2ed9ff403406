//! How a run ended: each step's outcome, the counts, and the outputs of what finished.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::artifact::Artifact;
use crate::graph::Plan;

/// How a node ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StepStatus {
    /// It ran and succeeded.
    Done,
    /// Its outputs came from the cache.
    Cached,
    /// It ran as part of another node's run with the same key.
    Shared,
    /// It failed.
    Failed {
        /// What went wrong.
        message: String,
        /// The failure's [`Error::kind`](crate::Error::kind).
        kind: &'static str,
    },
    /// It did not run, for this reason: something it needs failed, or the run was cancelled
    /// before it started.
    Skipped(String),
    /// It started, and a failure elsewhere or Ctrl-C stopped it while it ran, for this reason.
    Stopped(String),
}

/// One node's result in a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The node's label.
    pub label: Arc<str>,
    /// How it ended.
    pub status: StepStatus,
    /// How long it ran (zero unless it ran).
    pub duration: Duration,
}

/// How many steps of a run ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Ran in a container of their own.
    pub ran: usize,
    /// Shared the run of another step with the same key.
    pub shared: usize,
    /// Came from the cache.
    pub cached: usize,
    /// Failed.
    pub failed: usize,
    /// Did not run.
    pub skipped: usize,
    /// Started, and were stopped while they ran.
    pub stopped: usize,
}

/// The result of a whole run.
#[derive(Debug)]
pub struct RunSummary {
    /// One entry per step node, in plan order.
    pub steps: Vec<Outcome>,
    /// The outputs of every node that finished, by node index.
    pub outputs: HashMap<usize, Vec<Artifact>>,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// How long the run took.
    pub duration: Duration,
}

impl RunSummary {
    /// Whether every step succeeded or was cached.
    pub fn success(&self) -> bool {
        !self.interrupted
            && self.steps.iter().all(|s| {
                matches!(
                    s.status,
                    StepStatus::Done | StepStatus::Shared | StepStatus::Cached
                )
            })
    }

    /// How many steps ended each way.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            match s.status {
                StepStatus::Done => c.ran += 1,
                StepStatus::Shared => c.shared += 1,
                StepStatus::Cached => c.cached += 1,
                StepStatus::Failed { .. } => c.failed += 1,
                StepStatus::Skipped(_) => c.skipped += 1,
                StepStatus::Stopped(_) => c.stopped += 1,
            }
        }
        c
    }

    /// The kinds of the failures, in plan order.
    pub fn failure_kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.steps.iter().filter_map(|s| match s.status {
            StepStatus::Failed { kind, .. } => Some(kind),
            _ => None,
        })
    }

    /// The artifacts of the plan's final outputs, when they were produced.
    pub fn final_outputs(&self, plan: &Plan) -> Option<Vec<Artifact>> {
        plan.outputs
            .iter()
            .map(|(node, part)| self.outputs.get(&node.index())?.get(*part).cloned())
            .collect()
    }
}
