//! One run of a pipeline: bind its inputs, connect, schedule its steps in parallel (skipping
//! cached ones), report, export, and exit with a code that says how it went.

mod cache_cmd;
mod cache_images;
mod engine;
mod guards;
mod images;
mod job;
mod log;
mod named;
mod options;
mod outputs;
mod plan;
mod remote;
mod runner;
mod scheduler;
mod secrets;
mod shell_cmd;
mod signals;
mod summary;
mod upstream;
mod views;

pub use cache_cmd::cache_command;
pub use engine::execute;
pub use options::{
    EXIT_DAEMON, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Progress, RunOptions,
    default_jobs,
};
pub use plan::{Explained, Hit};
pub use runner::StepRunner;
pub use scheduler::{NodeRunner, Prepared, Scheduler};
pub use shell_cmd::{ShellRequest, shell_command};
pub use summary::{Counts, Outcome, RunSummary, StepStatus};
