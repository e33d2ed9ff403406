//! One run of a pipeline: bind its inputs, connect, schedule its steps in parallel (skipping
//! cached ones), report, export, and exit with a code that says how it went.

mod cache_cmd;
mod engine;
mod options;
mod outputs;
mod plan;
mod recheck;
mod runner;
mod scheduler;

pub use cache_cmd::cache_command;
pub use engine::execute;
pub use options::{
    EXIT_DAEMON, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Progress, RunOptions,
};
pub use plan::{Explained, Hit};
pub use runner::StepRunner;
pub use scheduler::{Counts, NodeRunner, Outcome, Prepared, RunSummary, Scheduler, StepStatus};
