//! The step context: what a step body uses to start containers and report progress.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Container};
use crate::cache::Store;
use crate::graph::StepInfo;
use crate::report::{Event, EventSink, Stream};

/// What every step of one run shares.
pub struct RunContext {
    /// The run's id, put on every container's `tanto.run` label.
    pub run_id: String,
    /// Where containers run.
    pub backend: Arc<dyn Backend>,
    /// The content-addressed store that step outputs go into.
    pub store: Arc<Store>,
    /// Where events go.
    pub events: EventSink,
    /// Cancelled on Ctrl-C, SIGTERM, or fail-fast.
    pub cancel: CancellationToken,
}

/// The context a step receives as its first parameter.
///
/// It knows the step's settings (image, env, caches…) and starts its container with
/// [`Ctx::container`].
#[derive(Clone)]
pub struct Ctx {
    run: Arc<RunContext>,
    step: StepInfo,
    label: String,
    cancel: CancellationToken,
}

impl Ctx {
    /// The context of step `step`, labelled `label` in the run.
    pub fn new(run: Arc<RunContext>, step: StepInfo, label: impl Into<String>) -> Self {
        let cancel = run.cancel.child_token();
        Self {
            run,
            step,
            label: label.into(),
            cancel,
        }
    }

    /// A builder for this step's container, from the step's image and settings.
    pub fn container(&self) -> Container {
        Container::for_step(self)
    }

    /// The step's label in this run.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The step's metadata.
    pub fn step(&self) -> &StepInfo {
        &self.step
    }

    /// What every step of the run shares.
    pub fn run(&self) -> &Arc<RunContext> {
        &self.run
    }

    /// Cancelled when the step must stop.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Reports one line of the step's output.
    pub fn log(&self, stream: Stream, line: impl Into<String>) {
        self.run.events.send(Event::StepLog {
            step: self.label.clone(),
            stream,
            line: line.into(),
        });
    }
}
