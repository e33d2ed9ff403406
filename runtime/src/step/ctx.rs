//! The step context: what a step body uses to start containers and report progress.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::backend::Stream;
use crate::error::Result;
use crate::graph::StepInfo;
use crate::report::Event;
use crate::step::container::Container;
use crate::step::live::{Gone, Slot, StepContainer};
use crate::step::run::RunContext;

/// The context a step receives as its first parameter.
///
/// It knows the step's settings (image, env, caches…) and starts its container with
/// [`Ctx::container`]. Clones share the step's container.
#[derive(Clone)]
pub struct Ctx {
    run: Arc<RunContext>,
    step: StepInfo,
    label: String,
    cancel: CancellationToken,
    started: Instant,
    container: Arc<StepContainer>,
}

impl Ctx {
    /// The context of step `step`, labelled `label` in the run. The step's timeout counts from
    /// here.
    #[doc(hidden)]
    pub fn new(run: Arc<RunContext>, step: StepInfo, label: impl Into<String>) -> Self {
        let cancel = run.cancel.child_token();
        let container = Arc::new(StepContainer::new(
            Arc::clone(&run.backend),
            run.containers.clone(),
        ));
        Self {
            run,
            step,
            label: label.into(),
            cancel,
            started: Instant::now(),
            container,
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
    pub(crate) fn step(&self) -> &StepInfo {
        &self.step
    }

    /// What every step of the run shares.
    pub(crate) fn run(&self) -> &Arc<RunContext> {
        &self.run
    }

    /// Cancelled when the step must stop.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// When the step's `timeout` runs out, if it has one. Container commands stop at this
    /// instant by themselves (the container is killed and they return
    /// [`Error::Timeout`](crate::Error::Timeout)); the scheduler bounds the rest of the step's
    /// future with it too.
    pub fn deadline(&self) -> Option<Instant> {
        self.step.settings.timeout.map(|t| self.started + t)
    }

    /// Reports one line of the step's output.
    pub fn log(&self, stream: Stream, line: impl Into<String>) {
        self.run.events.send(Event::StepLog {
            step: self.label.clone(),
            stream,
            line: line.into(),
        });
    }

    /// Removes the step's container. The scheduler calls this when the step's future ends,
    /// however it ended; afterwards the step cannot run commands. Calling it again does
    /// nothing. (If the future is dropped instead, the container is removed in the
    /// background when the last clone of this context goes.)
    pub async fn close(&self) -> Result<()> {
        self.container.remove(Slot::Gone(Gone::Closed)).await
    }

    pub(crate) fn container_state(&self) -> &StepContainer {
        &self.container
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("run_id", &self.run.run_id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}
