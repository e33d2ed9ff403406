//! Running commands in a step's container: streaming their output to the step's log,
//! checking exit codes, bounding them by the step's deadline and cancellation, and capturing
//! files and folders out of the container.

use std::future::Future;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;

use crate::backend::{ExecSpec, PARENT_ENV, Parent, archive};
use crate::error::{Error, Result};
use crate::report::human_bytes;
use crate::step::container::Container;
use crate::step::lines::{Finished, KEEP, LogLines};
use crate::step::live::{Gone, Need, Slot};

/// What a command printed and how it exited.
///
/// Each stream is kept up to its first 16 MiB ([`ExecOutput::KEEP`]); past that,
/// [`truncated`](Self::truncated) is set, and the rest is only in the step's log. A step that
/// needs more writes the output to a file in the container and captures it with
/// [`Container::file`](crate::Container::file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code.
    pub exit_code: i64,
    /// What was written to standard output, up to its first 16 MiB (invalid UTF-8 replaced).
    pub stdout: String,
    /// What was written to standard error, up to its first 16 MiB (invalid UTF-8 replaced).
    pub stderr: String,
    /// Whether standard output or standard error wrote more than [`ExecOutput::KEEP`] bytes,
    /// so that [`stdout`](Self::stdout) or [`stderr`](Self::stderr) holds only the first ones.
    pub truncated: bool,
}

impl ExecOutput {
    /// How many bytes of each stream are kept: 16 MiB.
    pub const KEEP: usize = KEEP;

    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl Container {
    /// Runs `argv` (shown as `command` in errors) and checks its exit code.
    pub(super) async fn run(&self, argv: Vec<String>, command: String) -> Result<ExecOutput> {
        let finished = self
            .guarded(async {
                let mut spec = ExecSpec {
                    argv,
                    env: self.spec.env.clone(),
                    workdir: self.spec.workdir.clone(),
                    user: self.spec.user.clone(),
                    secret_env: self.spec.secret_env.clone(),
                };
                let state = self.ctx.container_state();
                let opened = self.open(Need::Command(&spec)).await?;
                let single = opened.started.is_some();
                if let Some(dir) = &opened.scratch {
                    // A `docker_socket` step: what it starts through the socket is its own.
                    spec.env
                        .push(("TMPDIR".to_owned(), dir.display().to_string()));
                    let parent = Parent::value(&self.ctx.run().run_id, &opened.id);
                    spec.env.push((PARENT_ENV.to_owned(), parent));
                }
                state.commands.fetch_add(1, Ordering::Relaxed);
                *state
                    .last
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((spec.clone(), command.clone()));
                let backend = &self.ctx.run().backend;
                let mut started = match opened.started {
                    Some(started) => started,
                    None => backend.exec(&opened.id, &spec).await?,
                };
                let mut log = LogLines::new(&self.ctx, &command);
                while let Some(chunk) = started.output.next().await {
                    let (stream, bytes) = chunk?;
                    log.push(stream, &bytes);
                }
                let code = if single {
                    backend.exit_code(&started.id).await?
                } else {
                    backend.exec_exit_code(&started.id).await?
                };
                Ok(log.finish(code))
            })
            .await
            .inspect_err(|e| {
                // Only a timeout names the command it cut short.
                if !matches!(e, Error::Timeout { .. }) {
                    self.ctx
                        .container_state()
                        .cut
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                }
            })?;
        let Finished {
            output,
            tail,
            dropped,
        } = finished;
        for (stream, dropped) in ["standard output", "standard error"].iter().zip(dropped) {
            if dropped > 0 {
                self.ctx.note(format!(
                    "`{command}` wrote {} more than the 16 MiB of its {stream} that its result keeps; the step's log has every line",
                    human_bytes(dropped)
                ));
            }
        }
        let allowed = self.spec.allowed.as_deref().unwrap_or(&[0]);
        if allowed.contains(&output.exit_code) {
            return Ok(output);
        }
        Err(Error::CommandFailed {
            command,
            code: output.exit_code,
            tail,
        })
    }

    /// Runs `work` within the step's deadline and cancellation: when either fires first, the
    /// container is removed at once (which stops whatever runs in it).
    pub(super) async fn guarded<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        enum Outcome<T> {
            Done(Result<T>),
            Cancelled,
            TimedOut,
        }
        let cancel = self.ctx.cancel_token().clone();
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let deadline = self.ctx.deadline();
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Outcome::Cancelled,
            () = timer => Outcome::TimedOut,
            r = work => Outcome::Done(r),
        };
        let state = self.ctx.container_state();
        match outcome {
            Outcome::Done(r) => r,
            Outcome::Cancelled => {
                if let Err(e) = state.remove(Slot::Gone(Gone::Cancelled)).await {
                    tracing::warn!("step `{}`: {e}", self.ctx.label());
                }
                Err(Error::Cancelled)
            }
            Outcome::TimedOut => {
                if let Err(e) = state.remove(Slot::Gone(Gone::TimedOut)).await {
                    tracing::warn!("step `{}`: {e}", self.ctx.label());
                }
                Err(self.ctx.timeout_error())
            }
        }
    }

    /// Downloads `path` from the container and unpacks it as it streams into a staging folder
    /// of the store; returns the folder (removed when dropped) and the unpacked entry. Stops,
    /// with [`Error::OutputTooLarge`], as soon as the archive or the files it holds pass the
    /// builder's `max_output`: nothing past the limit is read or written.
    pub(super) async fn capture(
        &self,
        path: &str,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        let path = &capture_path(self.ctx.label(), path)?;
        // What the daemon's archive never holds, though the container shows it.
        let unseen = [
            ("/proc", "`/proc` and `/sys` are the kernel's views"),
            ("/sys", "`/proc` and `/sys` are the kernel's views"),
            (
                "/dev",
                "`/dev` is the container's own device folder, a tmpfs",
            ),
        ];
        let under = |top: &str| path == top || path.starts_with(&format!("{top}/"));
        if let Some((_, what)) = unseen.iter().find(|(top, _)| under(top)) {
            return Err(Error::Usage(format!(
                "step `{}`: cannot capture `{path}`: {what}, which the daemon does not copy out; copy what you need to a file first (`cat {path} > /tmp/copy`) and capture that",
                self.ctx.label()
            )));
        }
        if let Some(secret) = self.secret_under(path) {
            return Err(Error::Usage(format!(
                "step `{}`: cannot capture `{path}`: it holds the secret file `{secret}`; capture a folder without secrets",
                self.ctx.label()
            )));
        }
        let id = self.open(Need::Files).await?.id;
        let limit = self
            .spec
            .max_output
            .unwrap_or(self.ctx.step().settings.max_output);
        let too_large = || Error::OutputTooLarge {
            step: self.ctx.label().to_owned(),
            path: path.to_owned(),
            limit: human_bytes(limit),
        };
        let staging = self.ctx.run().store.temp_dir()?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        // The staging folder goes with the unpacker, so that a capture abandoned half way (a
        // deadline, a cancellation) is removed only after the unpacker stopped writing to it.
        let unpacker = tokio::task::spawn_blocking(move || {
            let dest = staging.path().join("root");
            let top = archive::unpack_single(archive::ChannelReader::new(rx), &dest, limit);
            (staging, top)
        });
        let mut stream = self.ctx.run().backend.download(&id, path);
        let mut streamed: u64 = 0;
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(Error::MissingPath { path, .. }) => {
                    failed = Some(Error::MissingPath {
                        step: self.ctx.label().to_owned(),
                        path,
                    });
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            streamed += chunk.len() as u64;
            if streamed > limit {
                failed = Some(too_large());
                break;
            }
            // Closed when the unpacker stopped; its own result says why.
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        // The end of the data, and of the download's connection.
        drop((stream, tx));
        let (staging, top) = unpacker
            .await
            .map_err(|e| Error::Other(format!("unpacking a capture panicked: {e}")))?;
        if let Some(e) = failed {
            return Err(e);
        }
        match top {
            Ok(top) => Ok((staging, top)),
            Err(archive::Unpack::TooLarge) => Err(too_large()),
            Err(archive::Unpack::Special) => Err(Error::Usage(format!(
                "step `{}`: `{path}` in its container is a fifo or a device file, which has no content to capture",
                self.ctx.label()
            ))),
            // The archive's entries start at `path`'s last part, unpacked under `root`.
            Err(archive::Unpack::Failed(e)) => {
                let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
                Err(e.relocated(&staging.path().join("root"), parent))
            }
        }
    }
}

/// `argv` as a shell would read it back, on one line: plain words bare, others in single
/// quotes, and one holding a control character (a script's newlines) in bash's `$'..'` form,
/// so that an error's first line names the whole command.
pub(super) fn shell_words<S: AsRef<str>>(argv: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty() && a.chars().all(plain) {
                a.to_owned()
            } else if a.chars().any(char::is_control) {
                ansi_c_quoted(a)
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` in bash's `$'..'` quotes: `\`, `'` and control characters escaped.
fn ansi_c_quoted(text: &str) -> String {
    let mut out = String::from("$'");
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `path` as the daemon is asked for it: without `.` parts and repeated or trailing slashes,
/// since the archive of `X/.` holds X's content with no folder around it. A `..`, whose end
/// the container's links decide, and the root itself, whose archive names every entry from
/// `/`, are refused.
fn capture_path(label: &str, path: &str) -> Result<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Error::Usage(format!(
            "step `{label}`: cannot capture `{path}`: name it without `..`, whose end the container's links decide"
        )));
    }
    if parts.is_empty() {
        return Err(Error::Usage(format!(
            "step `{label}`: cannot capture `{path}`, the container's root folder: capture a folder under it"
        )));
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    Ok(format!("{lead}{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_back_like_a_shell() {
        assert_eq!(
            shell_words(&["cargo", "build", "--profile", "release"]),
            "cargo build --profile release"
        );
        assert_eq!(
            shell_words(&["sh", "-c", "echo 'hi' there"]),
            r#"sh -c 'echo '\''hi'\'' there'"#
        );
        assert_eq!(shell_words(&[""]), "''");
        assert_eq!(
            shell_words(&["sh", "-c", "echo 'a'\nexit 7\t\\", "x\u{1b}"]),
            r"sh -c $'echo \'a\'\nexit 7\t\\' $'x\u001b'"
        );
    }
}
