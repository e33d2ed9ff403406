//! The error type of the runtime: each message says what happened and what to do next.

use std::time::Duration;

/// A result with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while planning or running a pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Docker daemon could not be reached.
    #[error(
        "cannot reach Docker at {endpoint}: {cause}; is the daemon running? set DOCKER_HOST to use another"
    )]
    DaemonUnreachable {
        /// Where we looked for the daemon.
        endpoint: String,
        /// What failed.
        cause: String,
    },
    /// The daemon answered with an error.
    #[error("docker: {0}")]
    Docker(String),
    /// An image is missing locally and could not be pulled.
    #[error(
        "image `{image}` is not present and could not be pulled: {cause}; build or load it locally (for the test images run `cargo xtask images`), or check that its registry is reachable"
    )]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        cause: String,
    },
    /// A command in a container exited with a code the step did not allow.
    #[error("command `{command}` exited with code {code}{}", format_tail(.stderr_tail))]
    CommandFailed {
        /// The command, as a shell-like string.
        command: String,
        /// Its exit code.
        code: i64,
        /// The last lines of its standard error (of its standard output when it wrote nothing
        /// to standard error).
        stderr_tail: String,
    },
    /// A path that a step asked to capture is not in its container.
    #[error("step `{step}`: no `{path}` in its container; check that its commands create it")]
    MissingPath {
        /// The step's label.
        step: String,
        /// The path in the container.
        path: String,
    },
    /// A step ran past its timeout and was killed.
    #[error("step `{step}` timed out after {}s and was killed; raise `timeout` on the step if it needs longer", .after.as_secs())]
    Timeout {
        /// The step's label.
        step: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The run was cancelled (Ctrl-C, SIGTERM, or another step's failure).
    #[error("cancelled")]
    Cancelled,
    /// A value reached a step parameter of another kind.
    #[error("{0}")]
    Wiring(String),
    /// The command line or the pipeline's configuration is wrong.
    #[error("{0}")]
    Usage(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The cache store could not be used.
    #[error("cache: {0}")]
    Store(String),
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

fn format_tail(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; the last lines it printed:\n{}", tail.trim_end())
    }
}

impl Error {
    /// An I/O error with what we were doing when it happened.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
