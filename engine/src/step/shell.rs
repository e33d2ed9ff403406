//! `-i`: a shell, on the user's terminal, in the container of a step that failed, as the step
//! left it (same mounts, env, working directory and user as its last command).

use std::process::{Command, Stdio};

use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::backend::{Backend, ExecSpec};
use crate::error::{Error, Result};
use crate::report::Hold;
use crate::report::say;
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
            one: tokio::sync::Mutex::new(()),
        }
    }
}

/// Opens a shell in the container of the step of `ctx`, which failed with `failure`, and
/// returns when the person exits it. Failures to open it are printed, not returned: the step's
/// own failure is what the run reports.
pub(crate) async fn open(ctx: &Ctx, interactive: &Interactive, failure: &Error) {
    let _one = interactive.one.lock().await;
    if !interactive.keep_going {
        // Fail-fast: the others stop now, not after the shell.
        ctx.run().cancel.cancel();
    }
    let _held = interactive.hold.hold().await;
    let label = ctx.label();
    let state = ctx.container_state();
    let Some(id) = state.live_id() else {
        say!("tanto: `{label}` has no container left to open a shell in ({failure})");
        return;
    };
    let last = state
        .last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let redact = |text: &str| ctx.run().events.redact(text);
    let first = failure.to_string();
    let first = first.lines().next().unwrap_or_default();
    say!("\ntanto: step `{label}` failed: {}", redact(first));
    let spec = match last {
        Some((spec, command)) => {
            say!("tanto: the command was: {}", redact(&command));
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
    if let Err(e) = attach(ctx.run().backend.as_ref(), &id, &spec).await {
        say!("tanto: the shell could not run: {}", redact(&e.to_string()));
    }
}

/// Opens `shell` on this terminal in the container of `container` (created now, with its
/// mounts and copies), with its env, working directory and user; returns when the person
/// exits it. For `BIN PIPELINE shell STEP`.
pub(crate) async fn attach_shell(container: &Container, shell: &str) -> Result<()> {
    let (id, _) = container.live().await?;
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

/// Runs `spec` in container `id` on this terminal, put in raw mode for the while, and resizes
/// the command's terminal with this one.
async fn attach(backend: &dyn Backend, id: &str, spec: &ExecSpec) -> Result<()> {
    let raw = RawTerminal::enter()?;
    let mut exec = backend.exec_interactive(id, spec, terminal_size()).await?;
    let mut input = exec.input;
    // Keys go to the shell as they are typed. The read of standard input cannot be cancelled
    // (it blocks a thread); at worst it takes one more key after the shell ends.
    let keys = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 || input.write_all(&buf[..n]).await.is_err() || input.flush().await.is_err() {
                break;
            }
        }
    });
    let mut stdout = tokio::io::stdout();
    let mut resized = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .map_err(|e| Error::io("watch the terminal's size", e))?;
    loop {
        tokio::select! {
            chunk = exec.output.next() => match chunk {
                Some(Ok(bytes)) => {
                    let _ = stdout.write_all(&bytes).await;
                    let _ = stdout.flush().await;
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
        }
    }
    keys.abort();
    drop(raw);
    Ok(())
}

/// This terminal in raw mode (keys go through as typed, nothing echoed by the host), restored
/// when dropped, whatever happens meanwhile.
struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    fn enter() -> Result<Self> {
        let saved = stty(&["-g"])?;
        stty(&["raw", "-echo"])?;
        Ok(Self {
            saved: saved.trim().to_owned(),
        })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = stty(&[self.saved.as_str()]);
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
