//! The scheduler: runs a plan's steps in parallel, skipping cached ones.

mod engine;
mod runner;
mod scheduler;

pub use engine::{cache_command, execute};
pub use runner::{Explained, StepRunner};
pub use scheduler::{NodeRunner, Outcome, Prepared, RunSummary, Scheduler, StepStatus};
