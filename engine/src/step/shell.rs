//! `-i`: a shell, on the user's terminal, in the container of a step that failed, as the step
//! left it (same mounts, env, working directory and user as its last command).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::backend::{Backend, ExecSpec};
use crate::error::{Error, Result};
use crate::report::Hold;
use crate::report::{say, shown};
use crate::step::Ctx;
use crate::step::container::Container;

/// How a run opens shells into its failed steps.
#[derive(Debug)]
pub struct Interactive {
    /// The shell to run, `sh` by default.
    pub shell: String,
    /// Whether the other steps go on while a shell is open (`--keep-going`); otherwise they are
    /// cancelled when it opens.
    pub keep_going: bool,
    /// Holds the views back while the shell has the terminal.
    pub hold: Hold,
    /// What the shells tell the run's scheduler (`Scheduler::with_shells`).
    pub log: Arc<ShellLog>,
    /// One shell at a time.
    one: tokio::sync::Mutex<()>,
}

impl Interactive {
    /// Opens `shell` into failed steps; `hold` is the run's views' hold.
    pub fn new(shell: impl Into<String>, keep_going: bool, hold: Hold) -> Self {
        Self {
            shell: shell.into(),
            keep_going,
            hold,
            log: Arc::default(),
            one: tokio::sync::Mutex::new(()),
        }
    }
}

/// What a run's `-i` shells tell its scheduler: its job goes on while a failed step's shell
/// is open, so the scheduler learns here why the others stopped and how long the shell kept
/// the job.
#[derive(Debug, Default)]
pub struct ShellLog {
    /// Under fail-fast, the label of the failed step whose shell cancelled the other steps,
    /// set before it cancels them, so the steps cancelled meanwhile say that its failure
    /// stopped them, not an interruption.
    early_failure: OnceLock<Arc<str>>,
    /// How long each step's job waited on a shell (its own, or another's first): the
    /// person's time, not the step's.
    open_for: Mutex<HashMap<Arc<str>, Duration>>,
}

impl ShellLog {
    /// The failed step whose shell stopped the run, under fail-fast.
    pub fn early_failure(&self) -> Option<&Arc<str>> {
        self.early_failure.get()
    }

    /// How long the job of the step labelled `label` waited on a shell, forgotten once read.
    pub fn take_open_for(&self, label: &str) -> Duration {
        let mut open_for = self.open_for.lock().unwrap_or_else(PoisonError::into_inner);
        open_for.remove(label).unwrap_or_default()
    }
}

/// Opens a shell in the container of the step of `ctx`, which failed with `failure`, and
/// returns when the person exits it. Failures to open it are printed, not returned: the step's
/// own failure is what the run reports. The time it takes is logged as the person's
/// ([`ShellLog`]).
pub(crate) async fn open(ctx: &Ctx, interactive: &Interactive, failure: &Error) {
    let started = Instant::now();
    open_shell(ctx, interactive, failure).await;
    let mut open_for = (interactive.log.open_for.lock()).unwrap_or_else(PoisonError::into_inner);
    *open_for.entry(Arc::from(ctx.label())).or_default() += started.elapsed();
}

async fn open_shell(ctx: &Ctx, interactive: &Interactive, failure: &Error) {
    let _one = interactive.one.lock().await;
    if !interactive.keep_going {
        // Fail-fast: the others stop now, not after the shell, for this failure.
        let _ = interactive.log.early_failure.set(Arc::from(ctx.label()));
        ctx.run().cancel.cancel();
    }
    let _held = interactive.hold.hold().await;
    let interrupted = ctx.run().interrupted.clone();
    if interrupted.is_cancelled() {
        return;
    }
    let label = shown(ctx.label());
    // Redacted whole, so a secret that spans lines is masked too.
    let failure = ctx.run().events.redact(&failure.to_string());
    let state = ctx.container_state();
    let Some(id) = state.live_id() else {
        // The failure may run over several lines (a service's last log lines): after a colon.
        say!("tanto: `{label}` has no container left to open a shell in; it failed:");
        for line in failure.lines() {
            say!("  {}", shown(line));
        }
        return;
    };
    let last = state
        .last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // What the step and its command printed is shown, never obeyed by the terminal.
    let shown_redacted = |text: &str| shown(&ctx.run().events.redact(text));
    // The whole failure: a failed command's message goes on with the last lines it printed.
    let mut lines = failure.lines();
    say!(
        "\ntanto: step `{label}` failed: {}",
        shown(lines.next().unwrap_or_default())
    );
    for line in lines {
        say!("{}", shown(line));
    }
    let spec = match last {
        Some((spec, command)) => {
            say!("tanto: the command was: {}", shown_redacted(&command));
            ExecSpec {
                argv: vec![interactive.shell.clone()],
                ..spec
            }
        }
        None => ExecSpec {
            argv: vec![interactive.shell.clone()],
            env: Vec::new(),
            workdir: None,
            user: None,
            secret_env: Vec::new(),
        },
    };
    say!(
        "tanto: opening `{}` in its container, as the step left it; exit the shell to go on\n",
        interactive.shell
    );
    // A signal closes the shell (its future, and with it the raw terminal, dropped first).
    let attached = tokio::select! {
        biased;
        () = interrupted.cancelled() => {
            say!("\ntanto: interrupted; closing the shell and removing the run's containers");
            return;
        }
        attached = attach(ctx.run().backend.as_ref(), &id, &spec) => attached,
    };
    if let Err(e) = attached {
        say!(
            "tanto: the shell could not run: {}",
            shown_redacted(&e.to_string())
        );
    }
}

/// Opens `shell` on this terminal in the container of `container` (created now, with its
/// mounts and copies, once its services are ready), with its env, working directory and user;
/// `up` runs once it is up, before the shell opens. Returns the shell's exit code when the
/// person exits it. For `BIN PIPELINE shell STEP`.
pub(crate) async fn attach_shell(
    container: &Container,
    shell: &str,
    up: impl FnOnce(),
) -> Result<i64> {
    let (id, _) = container.live().await?;
    up();
    let spec = ExecSpec {
        argv: vec![shell.to_owned()],
        env: container.spec.env.clone(),
        workdir: container.spec.workdir.clone(),
        user: container.spec.user.clone(),
        secret_env: container.spec.secret_env.clone(),
    };
    attach(container.ctx.run().backend.as_ref(), &id, &spec).await
}

/// The size of the terminal on standard output, rows and columns.
fn terminal_size() -> (u16, u16) {
    console::Term::stdout().size()
}

/// What the daemon writes on the command's terminal, in its place, when it cannot start it
/// (`OCI runtime exec failed: … exec: "bash": executable file not found in $PATH`).
const START_FAILED: &[u8] = b"OCI runtime exec failed";

/// The most of the command's first output held back while it may be the daemon's
/// [`START_FAILED`] message.
const HELD_AT_MOST: usize = 4096;

/// The error for a terminal that closed while the shell was open.
fn terminal_closed() -> Error {
    Error::Other("the terminal closed, so the shell was closed too".to_owned())
}

/// Runs `spec` in container `id` on this terminal, put in raw mode for the while, and resizes
/// the command's terminal with this one; returns the command's exit code. A command that
/// cannot start is an error that says so, in place of the daemon's message on the terminal;
/// a terminal that closes (its input ends or fails, or writing to it fails) ends it with an
/// error.
async fn attach(backend: &dyn Backend, id: &str, spec: &ExecSpec) -> Result<i64> {
    let raw = RawTerminal::enter()?;
    let mut exec = backend.exec_interactive(id, spec, terminal_size()).await?;
    let mut input = exec.input;
    // Keys go to the shell as they are typed; the task ends `true` when the terminal's input
    // ended (in raw mode Ctrl-D is a key, so only a closed terminal ends it). The read of
    // standard input cannot be cancelled (it blocks a thread); at worst it takes one more key
    // after the shell ends.
    let mut keys = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            let n = match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => n,
            };
            if input.write_all(&buf[..n]).await.is_err() || input.flush().await.is_err() {
                return false;
            }
        }
    });
    let mut keys_open = true;
    let mut stdout = tokio::io::stdout();
    let mut resized = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .map_err(|e| Error::io("watch the terminal's size", e))?;
    // The command's first output, held back while it may be the daemon's message instead.
    let mut held: Option<Vec<u8>> = Some(Vec::new());
    loop {
        tokio::select! {
            chunk = exec.output.next() => match chunk {
                Some(Ok(bytes)) => {
                    let bytes = match held.as_mut() {
                        Some(first) => {
                            first.extend_from_slice(&bytes);
                            if may_be_start_failure(first) {
                                continue;
                            }
                            held.take().unwrap_or_default()
                        }
                        None => bytes.to_vec(),
                    };
                    if stdout.write_all(&bytes).await.is_err() || stdout.flush().await.is_err() {
                        keys.abort();
                        return Err(terminal_closed());
                    }
                }
                Some(Err(e)) => {
                    keys.abort();
                    drop(raw);
                    return Err(e);
                }
                None => break,
            },
            _ = resized.recv() => {
                let _ = backend.resize_exec(&exec.id, terminal_size()).await;
            }
            ended = &mut keys, if keys_open => {
                keys_open = false;
                if ended.unwrap_or(true) {
                    return Err(terminal_closed());
                }
            }
        }
    }
    keys.abort();
    match held {
        Some(said) if said.starts_with(START_FAILED) => {
            drop(raw);
            Err(start_failed(&spec.argv[0], &String::from_utf8_lossy(&said)))
        }
        first => {
            // Short output that only began like the daemon's message is the command's own.
            if let Some(first) = first {
                let _ = stdout.write_all(&first).await;
                let _ = stdout.flush().await;
            }
            drop(raw);
            backend.exec_exit_code(&exec.id).await
        }
    }
}

/// Whether `first`, the command's output so far, may still be the daemon's message that it
/// could not start the command.
fn may_be_start_failure(first: &[u8]) -> bool {
    first.len() <= HELD_AT_MOST
        && (START_FAILED.starts_with(first) || first.starts_with(START_FAILED))
}

/// The error for a shell that could not start, from what the daemon said: what happened, and
/// which flag to pass.
fn start_failed(shell: &str, said: &str) -> Error {
    let other = if shell == "sh" {
        "pass --shell with a shell it has (`--shell bash`, say)"
    } else {
        "pass --shell with a shell it has, such as `--shell sh`"
    };
    if said.contains("executable file not found") || said.contains("no such file or directory") {
        Error::Usage(format!(
            "`{}` cannot start in the container: its image has no `{}`; {other}",
            shown(shell),
            shown(shell)
        ))
    } else {
        let said = said
            .trim()
            .strip_prefix("OCI runtime exec failed: ")
            .unwrap_or(said.trim());
        Error::Usage(format!(
            "`{}` cannot start in the container: {}; {other}",
            shown(shell),
            shown(said)
        ))
    }
}

/// The settings of the terminal that a [`RawTerminal`] changed, while it is in raw mode: what
/// [`restore_terminal`] puts back when tanto exits at once.
static SAVED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// This terminal in raw mode (keys go through as typed, nothing echoed by the host), restored
/// when dropped, whatever happens meanwhile.
struct RawTerminal;

impl RawTerminal {
    fn enter() -> Result<Self> {
        let saved = stty(&["-g"])?;
        stty(&["raw", "-echo"])?;
        *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved.trim().to_owned());
        Ok(Self)
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Puts the terminal back as it was before a shell put it in raw mode, if one did: for a
/// second signal, which exits at once, while a shell may be open.
pub(crate) fn restore_terminal() {
    let saved = SAVED.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(saved) = saved {
        let _ = stty(&[saved.as_str()]);
    }
}

/// Runs `stty` on the controlling terminal.
fn stty(args: &[&str]) -> Result<String> {
    let tty = std::fs::File::open("/dev/tty")
        .map_err(|e| Error::io("open the terminal (-i needs one)", e))?;
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty))
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("run stty", e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Other(format!(
            "stty {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
