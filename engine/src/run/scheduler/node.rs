//! One node's futures as the scheduler starts them: its lookup, and its job in its slot, from
//! the event that starts it to the one that ends it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

use std::panic::AssertUnwindSafe;

use super::queue::Queued;
use super::reports::{Upstream, send_test_reports};
use super::{Finish, Prepared, Progress, Scheduler};
use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::report::Event;
use crate::run::job::{panicked, run_job};

impl Scheduler {
    /// A node's lookup: its end if it ends at once (most do: a cache hit, an input, a
    /// literal, a miss found in the store), else the future that waits for it or for the run's
    /// cancellation.
    pub(super) fn lookup(
        &self,
        index: usize,
        label: &str,
        mut prepare: BoxFuture<'static, Result<Prepared>>,
    ) -> std::result::Result<Progress, BoxFuture<'static, Progress>> {
        let looked = move |prepared| Progress::Looked { index, prepared };
        if self.cancel.is_cancelled() {
            return Ok(looked(Err(Error::Cancelled)));
        }
        // A lookup that panics fails its node.
        match std::panic::catch_unwind(AssertUnwindSafe(|| (&mut prepare).now_or_never())) {
            Ok(Some(prepared)) => Ok(looked(prepared)),
            Err(panic) => Ok(looked(Err(panicked(label, &*panic)))),
            Ok(None) => {
                let cancel = self.cancel.clone();
                let label = label.to_owned();
                let wait = async move {
                    let prepared = tokio::select! {
                        biased;
                        () = cancel.cancelled() => Err(Error::Cancelled),
                        prepared = AssertUnwindSafe(prepare).catch_unwind() => {
                            prepared.unwrap_or_else(|panic| Err(panicked(&label, &*panic)))
                        }
                    };
                    looked(prepared)
                };
                Err(wait.boxed())
            }
        }
    }

    /// Runs a queued step's job in its slot, from its start event to its end event.
    pub(super) async fn run_queued(
        self: Arc<Self>,
        queued: Queued,
        label: Arc<str>,
        is_step: bool,
        slot: bool,
        upstream: Upstream,
    ) -> Progress {
        // A step's time is its own: from its slot, not from its wait for one.
        let started = Instant::now();
        let shared = queued.shared_with.is_some();
        self.events.send(Event::StepStarted {
            step: label.clone(),
            reason: queued.reason,
            shared_with: queued.shared_with,
        });
        let result = run_job(queued.job, &label).await;
        // An `-i` shell kept the job going: the person's time, not the step's.
        let duration = (started.elapsed()).saturating_sub(self.shells.take_open_for(&label));
        self.report_end(
            &label,
            is_step,
            duration,
            &result.as_ref().map(|o| o.as_slice()),
            &upstream,
        );
        Progress::Ran(Finish {
            index: queued.index,
            slot,
            cached: false,
            shared,
            duration,
            result,
        })
    }

    /// Sends the event that ends a node that ran or failed (a cached one's was sent), and
    /// stops the run at a failure unless it keeps going.
    pub(super) fn report_end(
        &self,
        label: &Arc<str>,
        is_step: bool,
        duration: Duration,
        result: &std::result::Result<&[Artifact], &Error>,
        upstream: &Upstream,
    ) {
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(outputs) if is_step => {
                send_test_reports(&self.events, label, false, outputs, upstream);
                self.events.send(Event::StepFinished {
                    step: Arc::clone(label),
                    duration_ms,
                });
            }
            Err(e) if !matches!(e, Error::Cancelled) => {
                let log_path = self.log_dir.as_ref().map(|dir| {
                    crate::report::LogFiles::path_for(dir, label)
                        .display()
                        .to_string()
                });
                self.events.send(Event::StepFailed {
                    step: Arc::clone(label),
                    duration_ms,
                    error: e.to_string(),
                    kind: e.kind(),
                    log_path,
                });
                if !self.keep_going {
                    self.cancel.cancel();
                }
            }
            _ => {}
        }
    }
}
