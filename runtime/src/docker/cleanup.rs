//! The Docker backend's cleaning up: removals and the listings before them wait a bounded
//! time, a daemon that left one unanswered is not asked again for a while, and a container
//! whose start was abandoned is removed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
use bollard::query_parameters::WaitContainerOptionsBuilder;
use futures_util::StreamExt as _;

use crate::docker::DockerBackend;
use crate::docker::http::escape;
use crate::docker::request::{connection_failure, docker_error, status};
use crate::engine::backend::Backend;
use tanto_engine::{Error, Result};

/// How long a removal, or the listing before one, may wait for the daemon, the ping that tells
/// a busy daemon from a gone one included. A daemon that does not answer one in this time is
/// not asked to clean up again for [`STUCK_FOR`]: a run being interrupted ends in bounded time,
/// and what it leaves ends with its keep-alive.
pub(super) const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a daemon whose cleanup request went unanswered has to answer a ping, to show
/// it is busy rather than gone (at most a quarter of what is left of the cleanup's time).
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long cleanup requests fail at once after one went unanswered.
const STUCK_FOR: Duration = Duration::from_secs(60);

impl DockerBackend {
    /// Runs `request`, a step of cleaning up (`doing` says which), within [`CLEANUP_TIMEOUT`];
    /// fails at once while an earlier cleanup request is still unanswered.
    pub(super) async fn cleanup<T>(
        &self,
        doing: &str,
        request: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.cleanup_within(doing, CLEANUP_TIMEOUT, request).await
    }

    /// [`cleanup`](Self::cleanup) within `budget`, which bounds the request and the ping
    /// after an unanswered one together: what is left of a cleanup's time after a wait.
    pub(super) async fn cleanup_within<T>(
        &self,
        doing: &str,
        budget: Duration,
        request: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let stuck = |cause: String| Error::DaemonLost {
            endpoint: self.endpoint.clone(),
            doing: doing.to_owned(),
            cause,
        };
        let until = *self
            .stuck_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if until.is_some_and(|until| Instant::now() < until) {
            return Err(stuck(
                "it has left an earlier request to clean up unanswered".to_owned(),
            ));
        }
        let ping = PING_TIMEOUT.min(budget / 4);
        let wait = budget - ping;
        match tokio::time::timeout(wait, request).await {
            Ok(answer) => answer,
            // A daemon that answers a ping is busy with this request (a large container's
            // removal), not gone: it goes on with it, and later requests are still asked.
            Err(_) if self.answers(ping).await => Err(Error::Docker(format!(
                "{doing} took more than {}, and the daemon, which answers otherwise, goes on with it",
                seconds(wait)
            ))),
            Err(_) => {
                *self
                    .stuck_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + STUCK_FOR);
                Err(stuck(format!("no answer within {}", seconds(budget))))
            }
        }
    }

    /// Whether the daemon answers a ping within `within`.
    async fn answers(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.docker.ping())
            .await
            .is_ok_and(|answer| answer.is_ok())
    }

    /// Waits until container `id` no longer exists (a removal in progress ends); the caller
    /// bounds the wait.
    pub(super) async fn gone(&self, id: &str, doing: &str) -> Result<()> {
        loop {
            // Read as plain JSON, so a state bollard does not know (Podman's `stopped`) is
            // no error.
            match self.inspect(id).await {
                Err(e) if status(&e) == Some(404) => return Ok(()),
                Err(e) if connection_failure(&e).is_some() => {
                    return Err(docker_error(&self.endpoint, doing, &e));
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

impl DockerBackend {
    /// Waits until container `id`, which removes itself (`AutoRemove`), no longer exists; the
    /// caller bounds the wait.
    pub(super) async fn removed(&self, id: &str) -> Result<()> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("removed")
            .build();
        let mut wait = self.docker.wait_container(id, Some(options));
        while let Some(answer) = wait.next().await {
            match answer {
                // The daemon answers once the container is gone, with its exit code.
                Ok(_) | Err(BollardError::DockerContainerWaitError { .. }) => {}
                // Gone before the wait began.
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => {
                    return Err(docker_error(
                        &self.endpoint,
                        &format!("wait for container {id} to go"),
                        &e,
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A container being started: removed in the background if dropped before [`claim`]ed.
///
/// [`claim`]: Unclaimed::claim
pub(super) struct Unclaimed {
    pub(super) backend: Option<DockerBackend>,
    pub(super) id: String,
}

impl Unclaimed {
    /// The container's id, now the caller's to remove.
    pub(super) fn claim(mut self) -> String {
        self.backend = None;
        std::mem::take(&mut self.id)
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        let Some(backend) = self.backend.take() else {
            return;
        };
        let id = std::mem::take(&mut self.id);
        // Without a runtime the process is ending, and so is the container's keep-alive.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = backend.remove(&id).await {
                    tracing::debug!("cannot remove container {id}, whose start was abandoned: {e}");
                }
            });
        }
    }
}

/// A container as a listing shows it.
pub(super) struct Listed {
    pub(super) id: String,
    pub(super) labels: HashMap<String, String>,
    /// Whether it runs (or is paused, or restarting): anything but created, exited or dead.
    pub(super) running: bool,
    /// When it was created, in seconds since the Unix epoch.
    pub(super) created: u64,
}

impl DockerBackend {
    /// Every container, running or not, that has all of `labels` (`key` or `key=value`).
    /// The listing is read as plain JSON: bollard's typed one fails on a state it does not
    /// know, such as Podman's `stopped`.
    pub(super) async fn labelled(&self, labels: Vec<String>) -> Result<Vec<Listed>> {
        let filters = serde_json::json!({ "label": labels }).to_string();
        let path = format!("/containers/json?all=1&filters={}", escape(&filters));
        let list = self
            .cleanup("list containers", async {
                self.get_json(&path)
                    .await
                    .map_err(|e| docker_error(&self.endpoint, "list containers", &e))
            })
            .await?;
        Ok((list.as_array().into_iter().flatten())
            .filter_map(|c| {
                let labels = (c["Labels"].as_object().into_iter().flatten())
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect();
                Some(Listed {
                    id: c["Id"].as_str()?.to_owned(),
                    labels,
                    running: running(c["State"].as_str().unwrap_or_default()),
                    created: c["Created"].as_u64().unwrap_or(0),
                })
            })
            .collect())
    }
}

/// Whether a listing's state `state` is one of a container that runs (or is paused, or
/// restarting): anything but created (Podman's `configured` too), exited (Podman's `stopped`
/// too) or dead.
fn running(state: &str) -> bool {
    !matches!(
        state,
        "created" | "configured" | "exited" | "stopped" | "dead"
    )
}

/// `8s`, or `3.75s`.
fn seconds(d: Duration) -> String {
    format!("{}s", (d.as_millis() as f64 / 10.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stopped_and_configured_are_not_running() {
        for state in ["created", "configured", "exited", "stopped", "dead"] {
            assert!(!super::running(state), "{state}");
        }
        for state in [
            "running",
            "paused",
            "restarting",
            "removing",
            "stopping",
            "",
        ] {
            assert!(super::running(state), "{state}");
        }
    }
}
