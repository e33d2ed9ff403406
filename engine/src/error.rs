//! The error type of the runtime: each message says what happened and what to do next.

use std::sync::Arc;
use std::time::Duration;

/// A result with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while planning or running a pipeline.
///
/// Step code returns it with `?`: an [`std::io::Error`], a parse error of the standard library
/// or a `serde_json::Error` converts by itself, and [`Error::other`] wraps any other error.
/// Clones share the underlying error, so one failure can reach every view of a run.
///
/// ```
/// use tanto::prelude::*;
///
/// fn version(text: &str) -> Result<u32> {
///     let major: u32 = text.trim().split('.').next().unwrap_or_default().parse()?;
///     if major == 0 {
///         return Err(Error::other(format!("`{text}` is not a released version")));
///     }
///     Ok(major)
/// }
/// assert_eq!(version("1.95.0").unwrap(), 1);
/// assert!(version("x").is_err());
/// assert_eq!(version("0.1").unwrap_err().to_string(), "`0.1` is not a released version");
/// ```
#[derive(Clone, thiserror::Error)]
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
    /// The daemon went away in the middle of a run: it stopped, crashed or restarted.
    #[error(
        "the Docker daemon at {endpoint} went away while tanto was trying to {doing} ({cause}); start it again and re-run (nothing was cached as a failure)"
    )]
    DaemonLost {
        /// Where the daemon was.
        endpoint: String,
        /// What tanto was asking it to do.
        doing: String,
        /// What the connection said.
        cause: String,
    },
    /// The daemon answered with an error.
    #[error("docker: {0}")]
    Docker(String),
    /// An image is missing locally and could not be pulled.
    #[error(
        "image `{image}` is not present and could not be pulled: {cause}; build or load it locally{}, map it to one this machine has (`tanto::cli().image_alias(\"{image}\", \"LOCAL\")`, or `Ctx::standalone_with_aliases` in a test), or check that its registry is reachable",
        test_image_hint(.image)
    )]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        cause: String,
    },
    /// A command in a container exited with a code the step did not allow.
    #[error("command `{}` exited with code {code}{}", short_command(.command), format_tail(.tail))]
    CommandFailed {
        /// The command, as a shell-like string.
        command: String,
        /// Its exit code.
        code: i64,
        /// The last lines it printed, of its standard output and standard error in the order
        /// they came.
        tail: String,
    },
    /// A path that a step asked to capture is not in its container.
    #[error("step `{step}`: no `{path}` in its container; check that its commands create it")]
    MissingPath {
        /// The step's label.
        step: String,
        /// The path in the container.
        path: String,
    },
    /// A path that a step captured holds more than the step's limit.
    #[error(
        "step `{step}`: `{path}` in its container comes to more than {limit}, the most a capture may take (hard links count in full); write less there, or raise the limit with `Container::with_max_output`"
    )]
    OutputTooLarge {
        /// The step's label.
        step: String,
        /// The path in the container.
        path: String,
        /// The limit, as people read it (`2 GiB`).
        limit: String,
    },
    /// A step ran past its timeout and was killed. The message leaves the step's label to
    /// where it is shown: the views, the summary and the events each name the step.
    #[error("timed out after {}s{} and was killed; raise the step's `timeout` if it needs longer{}", .after.as_secs(), during(.command.as_deref(), .tail), cut_tail(.command.is_some(), .tail))]
    Timeout {
        /// The step's label.
        step: String,
        /// The limit that was hit.
        after: Duration,
        /// The command that was running in the step's container when the limit was hit, as a
        /// shell-like string; `None` when none was (the step's own code was).
        command: Option<String>,
        /// The last lines that command printed, of its standard output and standard error in
        /// the order they came; empty when it printed nothing or none was running.
        tail: String,
    },
    /// A service that a step binds was not ready within its timeout: its `kind` is `timeout`.
    #[error("{0}")]
    ServiceNotReady(String),
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
    #[error("{context}: {source}{}", full_disk(source))]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
    /// The cache store could not be used.
    #[error("cache: {0}")]
    Store(String),
    /// An error of a step's own code, converted by `?` or [`Error::other`].
    #[error("{0}")]
    Step(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

/// Where an image of tanto's own tests comes from, for the error that says it is missing.
fn test_image_hint(image: &str) -> &'static str {
    if image.starts_with("tanto-test/") {
        " (the `tanto-test/` images are made offline by `cargo xtask images` in a clone of tanto)"
    } else {
        ""
    }
}

/// A command as an error shows it: whole up to 160 characters, else its start and its end,
/// where a script's own command is (a long setup before it, say), around a `…`.
fn short_command(command: &str) -> std::borrow::Cow<'_, str> {
    const HEAD: usize = 40;
    const TAIL: usize = 100;
    let count = command.chars().count();
    if count <= 160 {
        return command.into();
    }
    let head: String = command.chars().take(HEAD).collect();
    let tail: String = command.chars().skip(count - TAIL).collect();
    format!("{} … {}", head.trim_end(), tail.trim_start()).into()
}

/// What was running when a step timed out, for [`Error::Timeout`]'s message.
fn during(command: Option<&str>, tail: &str) -> String {
    match command {
        None => String::new(),
        Some(command) if tail.trim().is_empty() => {
            format!(
                " during `{}`, which printed nothing,",
                short_command(command)
            )
        }
        Some(command) => format!(" during `{}`", short_command(command)),
    }
}

/// The last lines a command that timed out printed, for [`Error::Timeout`]'s message.
fn cut_tail(running: bool, tail: &str) -> String {
    if !running || tail.trim().is_empty() {
        return String::new();
    }
    format!("; the last lines it printed:\n{}", tail.trim_end())
}

fn format_tail(tail: &str) -> String {
    if tail.trim().is_empty() {
        return " and printed nothing".to_owned();
    }
    // The container runtime's own words when the command could not start at all.
    let hint = if tail.contains("chdir to cwd") {
        "\n(the command's working directory is not in the container: make it first, with \
         `mkdir -p` in an earlier command, or mount a folder there)"
    } else if tail.contains("executable file not found in $PATH") {
        "\n(the program is not in the image: install it in the image, or give its full path)"
    } else {
        ""
    };
    format!("; the last lines it printed:\n{}{hint}", tail.trim_end())
}

/// The message, as `Display` gives it: what a test or `main` that returns `Result` prints
/// when it fails, where the variant's fields would hide the words that say what to do.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
/// What to do about an I/O error that a full disk caused; nothing for another.
fn full_disk(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            "; free space on that disk (`cache prune` shrinks tanto's store) and run again"
        }
        _ => "",
    }
}

impl Error {
    /// An I/O error with what we were doing when it happened.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// The error with each mention of the host folder `staging` in its message replaced by
    /// `to`, the folder of the container it holds a copy of: what a capture unpacked is named
    /// by its path in the container, not by tanto's staging folder.
    pub(crate) fn relocated(self, staging: &std::path::Path, to: &str) -> Self {
        let from = staging.display().to_string();
        let fix = |text: String| text.replace(&from, to);
        match self {
            Error::Io { context, source } => Error::Io {
                context: fix(context),
                source,
            },
            Error::Store(m) => Error::Store(fix(m)),
            Error::Usage(m) => Error::Usage(fix(m)),
            Error::Other(m) => Error::Other(fix(m)),
            Error::Docker(m) => Error::Docker(fix(m)),
            other => other,
        }
    }

    /// Wraps any error, or a message, as a step's failure: `Error::other(e)`,
    /// `Error::other("no binary was built")`.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Step(Arc::from(error.into()))
    }

    /// The variant's name in `snake_case`, as the `kind` of a `step_failed` event (a
    /// service's readiness timeout is a `timeout` too).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::DaemonUnreachable { .. } => "daemon_unreachable",
            Error::DaemonLost { .. } => "daemon_lost",
            Error::Docker(_) => "docker",
            Error::ImageUnavailable { .. } => "image_unavailable",
            Error::CommandFailed { .. } => "command_failed",
            Error::MissingPath { .. } => "missing_path",
            Error::OutputTooLarge { .. } => "output_too_large",
            Error::Timeout { .. } | Error::ServiceNotReady(_) => "timeout",
            Error::Cancelled => "cancelled",
            Error::Wiring(_) => "wiring",
            Error::Usage(_) => "usage",
            Error::Io { .. } => "io",
            Error::Store(_) => "store",
            Error::Step(_) => "step",
            Error::Other(_) => "other",
        }
    }
}

/// `?` on these errors in step code makes an [`Error::Step`].
macro_rules! from_std {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(error: $t) -> Self {
                Error::Step(Arc::new(error))
            }
        }
    )*};
}

from_std!(
    std::io::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::fmt::Error,
    serde_json::Error,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_says_what_to_do() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(
            Error::io("write /store/trees/ab", full).to_string(),
            "write /store/trees/ab: no storage space; free space on that disk (`cache prune` shrinks tanto's store) and run again"
        );
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            Error::io("write /x", denied).to_string(),
            "write /x: permission denied"
        );
    }

    #[test]
    fn only_a_test_image_is_said_to_come_from_cargo_xtask_images() {
        let missing = |image: &str| {
            Error::ImageUnavailable {
                image: image.into(),
                cause: "no such host".into(),
            }
            .to_string()
        };
        assert_eq!(
            missing("acme/app:1"),
            "image `acme/app:1` is not present and could not be pulled: no such host; build or load it locally, map it to one this machine has (`tanto::cli().image_alias(\"acme/app:1\", \"LOCAL\")`, or `Ctx::standalone_with_aliases` in a test), or check that its registry is reachable"
        );
        assert!(
            missing("tanto-test/busybox:latest").contains(
                "locally (the `tanto-test/` images are made offline by `cargo xtask images` in a clone of tanto), map it"
            )
        );
    }

    #[test]
    fn a_long_command_shows_its_start_and_its_end() {
        let setup = "export CARGO_HOME=/cargo-home; ".repeat(8);
        let script = format!("sh -c '{setup}cargo clippy --locked --workspace -- -D warnings'");
        let failed = Error::CommandFailed {
            command: script,
            code: 101,
            tail: String::new(),
        };
        assert_eq!(
            failed.to_string(),
            "command `sh -c 'export CARGO_HOME=/cargo-home; ex … O_HOME=/cargo-home; export \
             CARGO_HOME=/cargo-home; cargo clippy --locked --workspace -- -D warnings'` exited \
             with code 101 and printed nothing"
        );
        let short = Error::CommandFailed {
            command: "sh -c 'exit 3'".into(),
            code: 3,
            tail: String::new(),
        };
        assert_eq!(
            short.to_string(),
            "command `sh -c 'exit 3'` exited with code 3 and printed nothing"
        );
    }

    #[test]
    fn a_command_that_could_not_start_says_why_in_words() {
        let failed = |tail: &str| {
            Error::CommandFailed {
                command: "ls".into(),
                code: 126,
                tail: tail.into(),
            }
            .to_string()
        };
        // Docker 20.10's words for a working directory the image lacks.
        let cwd = "OCI runtime exec failed: exec failed: container_linux.go:380: starting \
                   container process caused: chdir to cwd (\"/data\") set in config.json \
                   failed: no such file or directory: unknown";
        assert!(
            failed(cwd).ends_with(
                "unknown\n(the command's working directory is not in the container: make it \
                 first, with `mkdir -p` in an earlier command, or mount a folder there)"
            ),
            "{}",
            failed(cwd)
        );
        let path = "OCI runtime exec failed: exec failed: container_linux.go:380: starting \
                    container process caused: exec: \"nope\": executable file not found in \
                    $PATH: unknown";
        assert!(failed(path).ends_with(
            "(the program is not in the image: install it in the image, or give its full path)"
        ));
        assert!(failed("boom").ends_with("printed:\nboom"));
    }
}
