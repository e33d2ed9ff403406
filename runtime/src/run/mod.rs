//! The scheduler: runs a plan's steps in parallel, skipping cached ones.

mod scheduler;

pub use scheduler::{NodeRunner, Outcome, Prepared, RunSummary, Scheduler, StepStatus};
mod tmp_stub;
pub use tmp_stub::{cache_command, execute};
