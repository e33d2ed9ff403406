//! A container's inspection (`GET /containers/{id}/json`) read as plain JSON, not through
//! bollard's typed model, whose state enum knows Docker's states only: Podman reports a
//! container whose process has ended, before its cleanup, as `stopped`, which bollard cannot
//! read, so its typed inspect fails on Podman exactly when a container exits. bollard sends
//! no request of our choosing, so this one goes through [`http::get`], like the ping, and its
//! failures are dressed as bollard's so they are told apart the same way (a 404 is a gone
//! container; a failed connection a lost daemon).

use std::collections::HashMap;

use bollard::errors::Error as BollardError;
use serde_json::Value;

use crate::docker::DockerBackend;
use crate::docker::http::{self, Address, escape};

/// A container as the daemon's inspection describes it.
#[derive(Debug, Clone)]
pub(super) struct Inspected(Value);

impl Inspected {
    /// The image it was created from, by id.
    pub(super) fn image(&self) -> &str {
        self.0["Image"].as_str().unwrap_or_default()
    }

    /// The labels it was created with.
    pub(super) fn labels(&self) -> HashMap<String, String> {
        (self.0["Config"]["Labels"].as_object().into_iter().flatten())
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    }

    /// Whether its process runs (paused and restarting count as running, as Docker says).
    pub(super) fn running(&self) -> bool {
        self.0["State"]["Running"].as_bool().unwrap_or(false)
    }

    /// Its process's exit code, when the daemon names one.
    pub(super) fn exit_code(&self) -> Option<i64> {
        self.0["State"]["ExitCode"].as_i64()
    }

    /// Its address on `network`, when it has one.
    pub(super) fn ip(&self, network: &str) -> Option<String> {
        let ip = self.0["NetworkSettings"]["Networks"][network]["IPAddress"].as_str()?;
        (!ip.is_empty()).then(|| ip.to_owned())
    }
}

impl DockerBackend {
    /// Inspects container `id`. Fails as bollard would: `DockerResponseServerError` with the
    /// daemon's status and message when it refuses (404: no such container), `IOError` when
    /// the connection fails, `RequestTimeoutError` past the request timeout.
    pub(super) async fn inspect(&self, id: &str) -> Result<Inspected, BollardError> {
        let value = self
            .get_json(&format!("/containers/{}/json", escape(id)))
            .await?;
        Ok(Inspected(value))
    }

    /// The JSON answer to `GET path` (with its query, escaped) of the daemon's API, at the
    /// API version agreed with it. Fails as [`inspect`](Self::inspect) does.
    pub(super) async fn get_json(&self, path: &str) -> Result<Value, BollardError> {
        let path = format!("/v{}{path}", self.docker.client_version());
        let address = Address::of(self.socket.as_deref(), &self.endpoint)
            .ok_or_else(|| std::io::Error::other(format!("no address in {}", self.endpoint)))?;
        let http::Answer { status, body, .. } =
            tokio::time::timeout(super::REQUEST_TIMEOUT, http::get(&address, &path))
                .await
                .map_err(|_| BollardError::RequestTimeoutError)??;
        if !(200..300).contains(&status) {
            let said = serde_json::from_slice::<Value>(&body).ok();
            let message = match said.as_ref().and_then(|v| v["message"].as_str()) {
                Some(message) => message.to_owned(),
                None => String::from_utf8_lossy(&body).into_owned(),
            };
            return Err(BollardError::DockerResponseServerError {
                status_code: status,
                message,
            });
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_stopped_state_is_read() {
        let inspected = Inspected(serde_json::json!({
            "Image": "sha256:ab",
            "Config": { "Labels": { "tanto.run": "r" } },
            "State": { "Status": "stopped", "Running": false, "ExitCode": 7 },
            "NetworkSettings": { "Networks": { "n": { "IPAddress": "10.0.0.2" } } },
        }));
        assert!(!inspected.running());
        assert_eq!(inspected.exit_code(), Some(7));
        assert_eq!(inspected.image(), "sha256:ab");
        assert_eq!(inspected.labels()["tanto.run"], "r");
        assert_eq!(inspected.ip("n").as_deref(), Some("10.0.0.2"));
        assert_eq!(inspected.ip("other"), None);
    }
}
