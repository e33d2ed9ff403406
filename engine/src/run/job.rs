//! Runs a step's job for the scheduler: inline when its first poll finishes it, else as a
//! task of its own; a panic becomes the step's error.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::artifact::Artifact;
use crate::error::{Error, Result};

/// Runs a step's job: at once if its first poll finishes it, else as a task of its own, so
/// jobs that wait on the daemon or hash their outputs use every worker.
pub(super) async fn run_job(
    mut job: BoxFuture<'static, Result<Vec<Artifact>>>,
    label: &str,
) -> Result<Vec<Artifact>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| (&mut job).now_or_never())) {
        Ok(Some(result)) => return result,
        Ok(None) => {}
        Err(panic) => return Err(panicked(label, &*panic)),
    }
    let mut task = AbortOnDrop(tokio::spawn(job));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(panicked(label, &*e.into_panic())),
        // Only an abort ends a task without a value, and only dropping the run aborts.
        Err(_) => Err(Error::Cancelled),
    }
}

/// A spawned job that is aborted when the run that awaits it is dropped.
struct AbortOnDrop(JoinHandle<Result<Vec<Artifact>>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The error for a step whose code panicked.
pub(super) fn panicked(label: &str, panic: &(dyn std::any::Any + Send)) -> Error {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned());
    Error::Other(format!("step `{label}` panicked: {message}"))
}
