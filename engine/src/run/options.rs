//! What a run is asked to do: the flags of a pipeline run, and the exit codes it ends with.

use std::path::PathBuf;

use crate::backend::Connect;

/// Exit code: every step succeeded or was cached.
pub const EXIT_OK: u8 = 0;
/// Exit code: a step failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command line or the configuration is wrong, or an image is missing.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the Docker daemon went away during the run (it stopped, crashed or restarted).
pub const EXIT_DAEMON: u8 = 3;
/// Exit code: interrupted by Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The default `-j`: the CPU count plus two. A step spends much of its time waiting on the
/// daemon (creating, starting and removing its container, each a request the daemon works
/// on while the step's own CPU idles), so with one slot per CPU the CPUs idle between
/// commands; two more slots fill those gaps without doubling the memory that CPU-bound steps
/// (compilers) hold at once. Measured by row 2 of `BENCHMARKS.md` (`-j` sweep).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) + 2
}

/// How the run shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A live view on a terminal, plain lines otherwise or when `CI` is set.
    Auto,
    /// The live terminal view.
    Tty,
    /// Plain `[step]`-prefixed lines.
    Plain,
    /// JSON lines on standard output.
    Json,
}

/// The flags of a pipeline run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Connects to the container engine: the pipeline's (`Pipeline::BACKEND`).
    pub connect: Connect,
    /// `--plan`: show what would run and why, run nothing.
    pub plan: bool,
    /// `--plan STEP..`: the steps whose keys `--plan` shows part by part (and only them).
    pub plan_steps: Vec<String>,
    /// `--require-cache`: every step must be cached (side effects excepted); otherwise exit
    /// with [`EXIT_USAGE`] and the plan's reason for each step that would run.
    pub require_cache: bool,
    /// `--no-cache [STEP..]`: `Some(empty)` forces every step, `Some(steps)` those.
    pub no_cache: Option<Vec<String>>,
    /// `-j N`: at most this many steps at once.
    pub jobs: usize,
    /// `--keep-going`: finish independent branches after a failure.
    pub keep_going: bool,
    /// `--progress`.
    pub progress: Progress,
    /// `--trace FILE`: write a Chrome Trace Event timeline.
    pub trace: Option<PathBuf>,
    /// `--junit FILE`: write a JUnit XML of the run, its steps and their test reports.
    pub junit: Option<PathBuf>,
    /// `--out DIR`: export the pipeline's final outputs there.
    pub out: Option<PathBuf>,
    /// `--remote-cache URL`: the shared cache (else `TANTO_REMOTE_CACHE`).
    pub remote_cache: Option<String>,
    /// `--remote-upload`: write results to the shared cache (else `TANTO_REMOTE_UPLOAD`).
    pub remote_upload: bool,
    /// `--remote-token SOURCE`: where the shared cache's bearer token comes from (else
    /// `TANTO_REMOTE_TOKEN`, the token itself).
    pub remote_token: Option<std::ffi::OsString>,
    /// `-i`: open this shell in the container of a step that fails (`--shell`, `sh` by
    /// default).
    pub interactive: Option<String>,
}
