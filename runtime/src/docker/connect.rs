//! Connecting to the daemon, negotiating its API version, pulling images, and the bounded
//! waits of cleanup requests.

use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::http::Address;
use super::ping::{self, PingError};
use super::*;
use crate::docker::lease::Leases;
use crate::docker::request::{connection_failure, server_message, split_reference};
use crate::engine::backend::Progress;
use tanto_engine::{Error, Result};

impl DockerBackend {
    /// Connects to the daemon named by `DOCKER_HOST` (`unix://…`, `tcp://…`), or to
    /// [`DEFAULT_HOST`]. A daemon on a Unix socket is local (host folders are bind mounted),
    /// one on TCP is remote (they are uploaded); `TANTO_DOCKER_LOCAL=1` or `0` overrides that.
    ///
    /// Fails with [`Error::DaemonUnreachable`] within about 2 s when nothing answers.
    pub async fn connect() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let backend = Self::connect_to(&host).await?;
        Ok(match std::env::var("TANTO_DOCKER_LOCAL").as_deref() {
            Ok("1" | "true") => backend.with_local(true),
            Ok("0" | "false") => backend.with_local(false),
            _ => backend,
        })
    }

    /// Connects to the daemon at `host`: `unix:///path`, a bare socket path, `tcp://host:port`
    /// or `http://host:port`. Negotiates the API version with it (Docker 20.10 speaks 1.41).
    pub async fn connect_to(host: &str) -> Result<Self> {
        let unreachable = |cause: String| Error::DaemonUnreachable {
            endpoint: host.to_owned(),
            cause,
        };
        let socket = if let Some(path) = host.strip_prefix("unix://") {
            Some(path.to_owned())
        } else if host.starts_with('/') {
            Some(host.to_owned())
        } else {
            None
        };
        if let Some(path) = &socket
            && !std::path::Path::new(path).exists()
        {
            return Err(unreachable(format!("no socket at {path}")));
        }
        let Some(address) = Address::of(socket.as_deref(), host) else {
            return Err(Error::Usage(format!(
                "DOCKER_HOST `{host}` is not supported: use unix:///path/to/docker.sock or tcp://host:port"
            )));
        };
        // The daemon's version from one `/_ping`; `/version` only if that does not name it.
        let (pinged, podman) = match ping::api_version(&address, CONNECT_TIMEOUT).await {
            // Never newer than what bollard speaks.
            Ok(p) if p.version < *bollard::API_DEFAULT_VERSION => (Some(p.version), p.podman),
            Ok(p) => (Some(*bollard::API_DEFAULT_VERSION), p.podman),
            Err(PingError::Unreachable(cause)) => return Err(unreachable(cause)),
            Err(PingError::NoVersion) => (None, false),
        };
        let version = pinged.as_ref().unwrap_or(bollard::API_DEFAULT_VERSION);
        let docker = match &address {
            Address::Unix(path) => {
                Docker::connect_with_unix(path, REQUEST_TIMEOUT.as_secs(), version)
            }
            Address::Tcp(_) => Docker::connect_with_http(host, REQUEST_TIMEOUT.as_secs(), version),
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = match pinged {
            Some(_) => docker,
            None => Self::negotiate(docker, &unreachable).await?,
        };
        tracing::debug!(
            "connected to {host}, API {}",
            docker.client_version().to_string()
        );
        Ok(Self {
            docker,
            endpoint: host.to_owned(),
            local: socket.is_some(),
            socket,
            leases: Leases::default(),
            stuck_until: Arc::default(),
            podman,
        })
    }

    /// Asks the daemon's API version with `/version` (bollard's own negotiation).
    async fn negotiate(
        docker: Docker,
        unreachable: &(dyn Fn(String) -> Error + Sync),
    ) -> Result<Docker> {
        match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(docker)) => Ok(docker),
            Ok(Err(e)) => Err(unreachable(
                connection_failure(&e).unwrap_or_else(|| e.to_string()),
            )),
            Err(_) => Err(unreachable(format!(
                "no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The same daemon, with host folders bind mounted (`true`) or uploaded (`false`).
    pub fn with_local(mut self, local: bool) -> Self {
        self.local = local;
        self
    }

    /// The API version agreed with the daemon, such as `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    pub(super) async fn pull(&self, reference: &str, progress: Progress<'_>) -> Result<()> {
        let (name, tag) = split_reference(reference);
        let mut options = CreateImageOptionsBuilder::default().from_image(name);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        progress("pull started");
        let mut stream = self.docker.create_image(Some(options.build()), None, None);
        let mut last = String::new();
        while let Some(info) = stream.next().await {
            let info = info.map_err(|e| Error::ImageUnavailable {
                image: reference.to_owned(),
                cause: server_message(&e),
            })?;
            let Some(status) = info.status else { continue };
            let line = match &info.id {
                Some(id) => format!("{id}: {status}"),
                None => status,
            };
            // Progress bars repeat the same status many times a second; report changes only.
            if line != last {
                progress(&line);
                last = line;
            }
        }
        Ok(())
    }
}
