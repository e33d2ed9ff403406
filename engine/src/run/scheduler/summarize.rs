//! How a run ends: each step's outcome, settled by the runner, and the event that says so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{NodeRunner, Scheduler, State, Walk};
use crate::report::Event;
use crate::run::summary::{Counts, Outcome, RunSummary, StepStatus};

impl Scheduler {
    /// The run's summary, settled by `runner`, and the event that ends the run.
    pub(super) fn summarize(
        &self,
        walk: Walk<'_>,
        started: Instant,
        runner: &dyn NodeRunner,
    ) -> RunSummary {
        let Walk {
            plan,
            state,
            mut outcomes,
            first_failure,
            ..
        } = walk;
        let mut outputs = HashMap::new();
        for (index, s) in state.into_iter().enumerate() {
            if let State::Finished(artifacts) = s {
                outputs.insert(index, artifacts);
            }
        }
        let steps: Vec<Outcome> = plan
            .nodes
            .iter()
            .filter(|node| node.step().is_some())
            .map(|node| {
                outcomes[node.id.index()].take().unwrap_or_else(|| Outcome {
                    label: node.label.clone(),
                    status: StepStatus::Skipped("not reached".to_owned()),
                    duration: Duration::ZERO,
                })
            })
            .collect();
        let interrupted = self.cancel.is_cancelled() && first_failure.is_none();
        let mut summary = RunSummary {
            steps,
            outputs,
            interrupted,
            duration: started.elapsed(),
        };
        runner.settle(&mut summary);
        let Counts {
            ran,
            shared,
            cached,
            failed,
            skipped,
            stopped,
        } = summary.counts();
        self.events.send(Event::RunFinished {
            ran,
            shared,
            cached,
            failed,
            skipped,
            stopped,
            duration_ms: u64::try_from(summary.duration.as_millis()).unwrap_or(u64::MAX),
        });
        summary
    }
}
