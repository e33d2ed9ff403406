//! Service containers and the per-run networks they share with the steps that bind them:
//! created, connected, inspected, logged and removed through the Docker API.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
};
use futures_util::StreamExt;

use crate::docker::DockerBackend;
use crate::docker::lease::orphaned;
use crate::docker::request::{docker_error, status};
use crate::engine::backend::{LABEL_RUN, LOG_KEEP, ServiceSpec, ServiceState};
use tanto_engine::Result;

impl DockerBackend {
    /// Creates network `name` with `labels`; a network of that name that exists is reused.
    pub(super) async fn create_network_impl(
        &self,
        name: &str,
        labels: &[(String, String)],
    ) -> Result<()> {
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels.iter().cloned().collect()),
            ..Default::default()
        };
        match self.docker().create_network(request).await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(409) => Ok(()),
            Err(e) => Err(docker_error(
                self.endpoint_str(),
                &format!("create network {name}"),
                &e,
            )),
        }
    }

    /// Connects `container` to `network`, where each `(target, alias)` of `links` makes
    /// container `target` reachable from it as host `alias`.
    pub(super) async fn connect_network_impl(
        &self,
        network: &str,
        container: &str,
        links: &[(String, String)],
    ) -> Result<()> {
        if self.podman && !links.is_empty() {
            // Its API accepts the links and makes no name of them: the step would find no
            // service, after each was ready.
            return Err(tanto_engine::Error::Usage(format!(
                "{} is Podman, whose Docker-compatible API ignores the container links by which a \
                 step reaches its services by name; run steps that bind services on Docker",
                self.endpoint_str()
            )));
        }
        let links = links.iter().map(|(t, a)| format!("{t}:{a}")).collect();
        let request = NetworkConnectRequest {
            container: container.to_owned(),
            endpoint_config: Some(EndpointSettings {
                links: Some(links),
                ..Default::default()
            }),
        };
        self.docker()
            .connect_network(network, request)
            .await
            .map_err(|e| {
                docker_error(
                    self.endpoint_str(),
                    &format!("connect a container to network {network}"),
                    &e,
                )
            })
    }

    /// Removes every network that carries `label` (`key=value`); one still in use or already
    /// gone is skipped. Returns how many were removed.
    pub(super) async fn remove_networks_impl(&self, label: &str) -> Result<usize> {
        // Cleanup: bounded like every other cleanup request, so a daemon that stopped answering
        // cannot hold an interrupted run.
        self.cleanup("remove the run's networks", async {
            let mut removed = 0;
            for (name, _) in self.networks(label).await? {
                if self.remove_network_named(&name).await? {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }

    /// Removes the networks of runs whose owner process is gone; call it after their
    /// containers are reaped.
    pub(super) async fn reap_networks(&self) -> Result<usize> {
        let mut reaped = 0;
        for (name, labels) in self.networks(LABEL_RUN).await? {
            if let Some(why) = orphaned(&labels, false, Duration::ZERO) {
                tracing::info!("removing network {name}: {why}");
                if self.remove_network_named(&name).await? {
                    reaped += 1;
                }
            }
        }
        Ok(reaped)
    }

    /// Creates and starts a service container.
    pub(super) async fn start_service_impl(&self, spec: &ServiceSpec) -> Result<String> {
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.as_str().to_owned()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            env: (!env.is_empty()).then_some(env),
            labels: Some(spec.labels.iter().cloned().collect()),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .docker()
            .create_container(Some(options), body)
            .await
            .map_err(|e| docker_error(self.endpoint_str(), "create a service container", &e))?;
        if let Err(e) = self.docker().start_container(&created.id, None).await {
            let _ = crate::engine::backend::Backend::remove(self, &created.id).await;
            return Err(docker_error(
                self.endpoint_str(),
                "start a service container",
                &e,
            ));
        }
        Ok(created.id)
    }

    /// Whether container `id` runs, its exit code, and its address on `network`.
    pub(super) async fn service_state_impl(&self, id: &str, network: &str) -> Result<ServiceState> {
        // Read as plain JSON: Podman's `stopped` (exited, not cleaned up yet) is no state
        // bollard's typed inspect can read.
        let info = self
            .inspect(id)
            .await
            .map_err(|e| docker_error(self.endpoint_str(), "inspect a service container", &e))?;
        Ok(ServiceState {
            running: info.running(),
            exit_code: info.exit_code(),
            ip: info.ip(network),
        })
    }

    /// What container `id` wrote to its stdout and stderr, as text: its last
    /// [`LOG_KEEP`] bytes, after a line saying how much came before them.
    pub(super) async fn logs_impl(&self, id: &str) -> Result<String> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut stream = self.docker().logs(id, Some(options));
        let mut text = Vec::new();
        let mut cut = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                docker_error(self.endpoint_str(), "read a service container's log", &e)
            })?;
            text.extend_from_slice(&chunk.into_bytes());
            // Drained in halves, so each byte moves at most twice.
            if text.len() > 2 * LOG_KEEP {
                let over = text.len() - LOG_KEEP;
                text.drain(..over);
                cut += over;
            }
        }
        if text.len() > LOG_KEEP {
            let over = text.len() - LOG_KEEP;
            text.drain(..over);
            cut += over;
        }
        let text = String::from_utf8_lossy(&text);
        Ok(if cut > 0 {
            format!("[… {cut} earlier bytes of its log cut]\n{text}")
        } else {
            text.into_owned()
        })
    }

    /// The names and labels of the networks that carry `label`.
    async fn networks(&self, label: &str) -> Result<Vec<(String, HashMap<String, String>)>> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let options = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker()
            .list_networks(Some(options))
            .await
            .map_err(|e| docker_error(self.endpoint_str(), "list networks", &e))?;
        Ok(list
            .into_iter()
            .filter_map(|n| Some((n.name?, n.labels.unwrap_or_default())))
            .collect())
    }

    /// Removes network `name`; `false` when it is gone or still has containers.
    async fn remove_network_named(&self, name: &str) -> Result<bool> {
        match self.docker().remove_network(name).await {
            Ok(()) => Ok(true),
            Err(e) if matches!(status(&e), Some(403 | 404 | 409)) => Ok(false),
            Err(e) => Err(docker_error(
                self.endpoint_str(),
                &format!("remove network {name}"),
                &e,
            )),
        }
    }
}
