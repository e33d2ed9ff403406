//! Running commands in a step's container: streaming their output to the step's log,
//! checking exit codes, bounding them by the step's deadline and cancellation, and capturing
//! files and folders out of the container.

use std::future::Future;

use futures_util::StreamExt;

use crate::backend::{ExecSpec, PARENT_ENV, Parent, Stream, archive};
use crate::error::{Error, Result};
use crate::step::container::Container;
use crate::step::ctx::Ctx;
use crate::step::live::{Gone, Slot};

/// How many lines of stderr a [`Error::CommandFailed`] carries.
const TAIL_LINES: usize = 50;

/// What a command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code.
    pub exit_code: i64,
    /// Everything written to standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Everything written to standard error (invalid UTF-8 replaced).
    pub stderr: String,
}

impl ExecOutput {
    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl Container {
    /// Runs `argv` (shown as `command` in errors) and checks its exit code.
    pub(super) async fn run(&self, argv: Vec<String>, command: String) -> Result<ExecOutput> {
        let output = self
            .guarded(async {
                let (id, scratch) = self.live().await?;
                let mut env = self.spec.env.clone();
                if let Some(dir) = scratch {
                    // A `docker_socket` step: what it starts through the socket is its own.
                    env.push(("TMPDIR".to_owned(), dir.display().to_string()));
                    let parent = Parent::value(&self.ctx.run().run_id, &id);
                    env.push((PARENT_ENV.to_owned(), parent));
                }
                let spec = ExecSpec {
                    argv,
                    env,
                    workdir: self.spec.workdir.clone(),
                    user: self.spec.user.clone(),
                    secret_env: self.spec.secret_env.clone(),
                };
                *self
                    .ctx
                    .container_state()
                    .last
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((spec.clone(), command.clone()));
                let backend = &self.ctx.run().backend;
                let mut started = backend.exec(&id, &spec).await?;
                let mut log = LogLines::new(&self.ctx);
                while let Some(chunk) = started.output.next().await {
                    let (stream, bytes) = chunk?;
                    log.push(stream, &bytes);
                }
                let code = backend.exec_exit_code(&started.id).await?;
                Ok(log.finish(code))
            })
            .await?;
        let allowed = self.spec.allowed.as_deref().unwrap_or(&[0]);
        if allowed.contains(&output.exit_code) {
            return Ok(output);
        }
        // `docker exec` reports a missing program on stdout.
        let tail_of = if output.stderr.trim().is_empty() {
            &output.stdout
        } else {
            &output.stderr
        };
        Err(Error::CommandFailed {
            command,
            code: output.exit_code,
            stderr_tail: tail(tail_of, TAIL_LINES),
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
                Err(self.timeout_error())
            }
        }
    }

    pub(super) fn timeout_error(&self) -> Error {
        Error::Timeout {
            step: self.ctx.label().to_owned(),
            after: self.ctx.step().settings.timeout.unwrap_or_default(),
        }
    }

    /// Downloads `path` from the container and unpacks it into a staging folder of the store;
    /// returns the folder (removed when dropped) and the unpacked entry.
    pub(super) async fn capture(
        &self,
        path: &str,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        if let Some(secret) = self.secret_under(path) {
            return Err(Error::Usage(format!(
                "step `{}`: cannot capture `{path}`: it holds the secret file `{secret}`; capture a folder without secrets",
                self.ctx.label()
            )));
        }
        let (id, _) = self.live().await?;
        let staging = self.ctx.run().store.temp_dir()?;
        let tar_path = staging.path().join("capture.tar");
        let mut out = tokio::fs::File::create(&tar_path)
            .await
            .map_err(|e| Error::io(format!("create {}", tar_path.display()), e))?;
        let mut stream = self.ctx.run().backend.download(&id, path);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match e {
                Error::MissingPath { path, .. } => Error::MissingPath {
                    step: self.ctx.label().to_owned(),
                    path,
                },
                other => other,
            })?;
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
                .await
                .map_err(|e| Error::io(format!("write {}", tar_path.display()), e))?;
        }
        // tokio finishes a write in the background; without this flush the reader below
        // could see the archive short, or empty.
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|e| Error::io(format!("write {}", tar_path.display()), e))?;
        drop(out);
        let dest = staging.path().join("root");
        let top = blocking(move || archive::unpack_single(&tar_path, &dest)).await?;
        Ok((staging, top))
    }
}

/// Runs blocking file work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Other(format!("a file operation panicked: {e}")))?
}

/// Splits a command's output into lines for the step's log, and keeps all of it.
struct LogLines<'a> {
    ctx: &'a Ctx,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Where the unfinished line of each stream starts.
    pending: [usize; 2],
}

impl<'a> LogLines<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Self {
            ctx,
            stdout: Vec::new(),
            stderr: Vec::new(),
            pending: [0, 0],
        }
    }

    fn push(&mut self, stream: Stream, bytes: &[u8]) {
        let (all, start) = match stream {
            Stream::Stdout => (&mut self.stdout, &mut self.pending[0]),
            Stream::Stderr => (&mut self.stderr, &mut self.pending[1]),
        };
        all.extend_from_slice(bytes);
        while let Some(nl) = all[*start..].iter().position(|&b| b == b'\n') {
            let line = &all[*start..*start + nl];
            self.ctx.log(stream, clean_line(line));
            *start += nl + 1;
        }
    }

    fn finish(self, exit_code: i64) -> ExecOutput {
        for (stream, all, start) in [
            (Stream::Stdout, &self.stdout, self.pending[0]),
            (Stream::Stderr, &self.stderr, self.pending[1]),
        ] {
            if start < all.len() {
                self.ctx.log(stream, clean_line(&all[start..]));
            }
        }
        ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
        }
    }
}

fn clean_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `argv` as a shell would read it back: plain words bare, others in single quotes.
pub(super) fn shell_words<S: AsRef<str>>(argv: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty() && a.chars().all(plain) {
                a.to_owned()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
