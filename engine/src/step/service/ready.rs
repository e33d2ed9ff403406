//! Whether a service is ready: its readiness check polled until it passes, its container
//! stops, its probe turns out not to be in its image, or its timeout ends.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use super::{Ready, Service};
use crate::backend::{Backend, ExecSpec};

/// Why a service is not ready: its timeout ended, or something else (it exited, its probe
/// cannot run).
pub(super) struct NotReady {
    pub(super) timed_out: bool,
    pub(super) why: String,
}

impl NotReady {
    fn other(why: String) -> Self {
        Self {
            timed_out: false,
            why,
        }
    }
}

/// Polls `service`'s readiness check until it passes, the container stops, its probe turns out
/// not to be in the image, or the timeout ends.
pub(super) async fn wait_ready(
    backend: &dyn Backend,
    id: &str,
    network: &str,
    service: &Service,
) -> std::result::Result<(), NotReady> {
    let deadline = Instant::now() + service.timeout();
    // The last probe that ended, for the error.
    let mut last: Option<Probe> = None;
    loop {
        let state = backend
            .service_state(id, network)
            .await
            .map_err(|e| NotReady::other(e.to_string()))?;
        if !state.running {
            let code = state.exit_code.map_or("?".to_owned(), |c| c.to_string());
            return Err(NotReady::other(format!(
                "exited with code {code} before it was ready"
            )));
        }
        let ready = match service.ready() {
            None => true,
            Some(Ready::Port(port)) => match &state.ip {
                Some(ip) => {
                    let connect = tokio::net::TcpStream::connect((ip.as_str(), port));
                    matches!(
                        tokio::time::timeout(Duration::from_secs(1), connect).await,
                        Ok(Ok(_))
                    )
                }
                None => false,
            },
            // A probe that hangs is cut off at the deadline (at least a second).
            Some(Ready::Exec(argv)) => {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_secs(1));
                match tokio::time::timeout(left, probe(backend, id, &argv)).await {
                    Ok(ran) if ran.cannot_run() => {
                        return Err(NotReady::other(format!(
                            "cannot be checked: its readiness probe `{}` cannot run in its container{}; use a command its image has",
                            argv.join(" "),
                            ran.said()
                        )));
                    }
                    Ok(ran) => {
                        let passed = ran.code == Some(0);
                        last = Some(ran);
                        passed
                    }
                    Err(_) => false,
                }
            }
            Some(Ready::Log(text)) => backend
                .logs(id)
                .await
                .is_ok_and(|log| log.lines().any(|l| l.contains(&text))),
        };
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let what = match service.ready() {
                Some(Ready::Port(p)) => format!("port {p} never accepted connections"),
                Some(Ready::Exec(argv)) => format!(
                    "`{}` never exited with 0{}",
                    argv.join(" "),
                    last.as_ref().map(Probe::said).unwrap_or_default()
                ),
                Some(Ready::Log(text)) => format!("it never wrote a line containing `{text}`"),
                None => "it never ran".to_owned(),
            };
            return Err(NotReady {
                timed_out: true,
                why: format!(
                    "was not ready after {}s: {what}",
                    service.timeout().as_secs_f64()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How a readiness probe ended: its exit code (`None` when it could not be asked for) and
/// the start of what it printed.
struct Probe {
    code: Option<i64>,
    output: String,
}

/// The most of a probe's output an error shows.
const PROBE_OUTPUT_MAX: usize = 512;

impl Probe {
    /// Whether the probe's program is not in the image: a shell's 127 (or 126), or the
    /// runtime's word that it found no such file.
    fn cannot_run(&self) -> bool {
        matches!(self.code, Some(126 | 127))
            || self.output.contains("executable file not found")
            || self.output.contains("no such file or directory")
    }

    /// Its exit code and output, as the end of an error message.
    fn said(&self) -> String {
        let code = self.code.map_or("?".to_owned(), |c| c.to_string());
        let output = self.output.split_whitespace().collect::<Vec<_>>().join(" ");
        if output.is_empty() {
            format!(" (its last run exited with {code} and printed nothing)")
        } else {
            format!(" (its last run exited with {code}: {output})")
        }
    }
}

/// Runs `argv` in the service's container, to its end.
async fn probe(backend: &dyn Backend, id: &str, argv: &[String]) -> Probe {
    let spec = ExecSpec {
        argv: argv.to_vec(),
        env: Vec::new(),
        workdir: None,
        user: None,
        secret_env: Vec::new(),
    };
    let mut started = match backend.exec(id, &spec).await {
        Ok(started) => started,
        Err(e) => {
            return Probe {
                code: None,
                output: e.to_string(),
            };
        }
    };
    let mut output = Vec::new();
    while let Some(chunk) = started.output.next().await {
        if let Ok((_, bytes)) = chunk
            && output.len() < PROBE_OUTPUT_MAX
        {
            output.extend_from_slice(&bytes[..bytes.len().min(PROBE_OUTPUT_MAX - output.len())]);
        }
    }
    Probe {
        code: backend.exec_exit_code(&started.id).await.ok(),
        output: String::from_utf8_lossy(&output).into_owned(),
    }
}
