//! The Docker Engine API backend, through bollard; Podman's Docker-compatible socket works too.
//! The engine (`tanto-engine`) knows it only as a `dyn Backend` that [`connect`] makes: the
//! `#[step]` and `#[pipeline]` expansions name that fn, so every run connects through it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};

use crate::docker::cleanup::{CLEANUP_TIMEOUT, Unclaimed};
use crate::docker::lease::{Leases, orphaned};
use crate::docker::request::{
    create_body, docker_error, exec_options, image_id, server_message, status,
};
use crate::engine::backend::{
    Backend, ContainerSpec, ExecSpec, ImageId, InteractiveExec, LABEL_RUN, Progress, ServiceSpec,
    ServiceState, StartedExec, Stream, TarStream,
};
use tanto_engine::{Error, Result};

mod cleanup;
mod connect;
mod create;
mod http;
mod image;
mod inspect;
mod layered;
mod lease;
mod network;
mod pid1;
mod ping;
mod request;
mod transfer;
mod tty;
mod whole;

/// The socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long connecting may take before the daemon counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The limit on each API request until its response starts; long uploads count in full.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a container whose keep-alive was let go may take to remove itself before it is
/// removed by force: far longer than a loaded daemon takes.
const END_WAIT: Duration = Duration::from_secs(5);

// `end` spends what is left of a removal's time after this wait on the removal itself.
const _: () = assert!(END_WAIT.as_secs() * 2 <= CLEANUP_TIMEOUT.as_secs());

/// Connects to the daemon named by `DOCKER_HOST`, or to [`DEFAULT_HOST`]: the engine's
/// [`Connect`](crate::engine::backend::Connect) for Docker, which the macros' expansions name.
pub fn connect() -> BoxFuture<'static, Result<Arc<dyn Backend>>> {
    async { Ok(Arc::new(DockerBackend::connect().await?) as Arc<dyn Backend>) }.boxed()
}

/// A Docker (or Podman) daemon, reached through its API socket.
///
/// ```no_run
/// # async fn demo() -> tanto::Result<()> {
/// use tanto::__internal::backend::{Backend, DockerBackend};
///
/// let docker = DockerBackend::connect().await?; // DOCKER_HOST, or the local socket
/// let id = docker.resolve_image("tanto-test/busybox:latest", &|line| println!("{line}")).await?;
/// assert!(id.as_str().starts_with("sha256:"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DockerBackend {
    pub(super) docker: Docker,
    pub(super) endpoint: String,
    socket: Option<String>,
    local: bool,
    /// The stdin connections that keep this process's containers up.
    leases: Leases,
    /// Until when cleanup requests fail at once, after one went unanswered.
    pub(super) stuck_until: Arc<Mutex<Option<Instant>>>,
    /// Whether the daemon is Podman's Docker-compatible socket, which ignores container links.
    pub(super) podman: bool,
}

impl Backend for DockerBackend {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_local(&self) -> bool {
        self.local
    }

    fn socket_path(&self) -> Option<&str> {
        self.socket.as_deref()
    }

    fn resolve_image<'a>(
        &'a self,
        reference: &'a str,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<ImageId>> {
        async move {
            match self.docker.inspect_image(reference).await {
                Ok(image) => return image_id(reference, image.id),
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => {
                    return Err(docker_error(
                        &self.endpoint,
                        &format!("inspect image {reference}"),
                        &e,
                    ));
                }
            }
            self.pull(reference, progress).await?;
            match self.docker.inspect_image(reference).await {
                Ok(image) => image_id(reference, image.id),
                Err(e) => Err(Error::ImageUnavailable {
                    image: reference.to_owned(),
                    cause: format!(
                        "the pull ended but the image is missing: {}",
                        server_message(&e)
                    ),
                }),
            }
        }
        .boxed()
    }

    fn start<'a>(&'a self, spec: &'a ContainerSpec) -> BoxFuture<'a, Result<String>> {
        async move {
            let id = self.create_named(spec, create_body(spec)).await?;
            // From here until it is returned, a container whose start is abandoned (a
            // deadline, a cancellation) is removed rather than left for the run's end.
            let unclaimed = Unclaimed {
                backend: Some(self.clone()),
                id,
            };
            let id = unclaimed.id.as_str();
            // Attached before it starts, so its keep-alive never runs without an owner.
            let options = AttachContainerOptionsBuilder::default()
                .stdin(true)
                .stream(true)
                .build();
            match self.docker.attach_container(id, Some(options)).await {
                Ok(attached) => self.leases.hold(id, attached),
                Err(e) => return Err(docker_error(&self.endpoint, "attach to a container", &e)),
            }
            if let Err(e) = self.docker.start_container(id, None).await {
                return Err(docker_error(&self.endpoint, "start a container", &e));
            }
            Ok(unclaimed.claim())
        }
        .boxed()
    }

    fn create_command<'a>(
        &'a self,
        spec: &'a ContainerSpec,
        command: &'a ExecSpec,
    ) -> BoxFuture<'a, Result<String>> {
        self.create_command_impl(spec, command).boxed()
    }

    fn start_command<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<StartedExec>> {
        self.start_command_impl(id).boxed()
    }

    fn exit_code<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<i64>> {
        self.exit_code_impl(id).boxed()
    }

    fn upload<'a>(&'a self, id: &'a str, tar: TarStream) -> BoxFuture<'a, Result<()>> {
        async move {
            let options = UploadToContainerOptionsBuilder::default().path("/").build();
            self.docker
                .upload_to_container(id, Some(options), bollard::body_try_stream(tar))
                .await
                .map_err(|e| docker_error(&self.endpoint, "copy files into the container", &e))
        }
        .boxed()
    }

    fn exec<'a>(&'a self, id: &'a str, spec: &'a ExecSpec) -> BoxFuture<'a, Result<StartedExec>> {
        async move {
            let options = exec_options(spec, false);
            let created = self
                .docker
                .create_exec(id, options)
                .await
                .map_err(|e| docker_error(&self.endpoint, "create a command", &e))?;
            let start = StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(64 * 1024),
            };
            let started = self
                .docker
                .start_exec(&created.id, Some(start))
                .await
                .map_err(|e| docker_error(&self.endpoint, "start a command", &e))?;
            let StartExecResults::Attached { output, input } = started else {
                return Err(Error::Docker("a command started detached".into()));
            };
            Ok(StartedExec {
                id: created.id,
                output: self.command_output(output, input),
            })
        }
        .boxed()
    }

    fn exec_interactive<'a>(
        &'a self,
        id: &'a str,
        spec: &'a ExecSpec,
        size: (u16, u16),
    ) -> BoxFuture<'a, Result<InteractiveExec>> {
        self.interactive(id, spec, size).boxed()
    }

    fn resize_exec<'a>(&'a self, exec_id: &'a str, size: (u16, u16)) -> BoxFuture<'a, Result<()>> {
        self.resize(exec_id, size).boxed()
    }

    fn exec_exit_code<'a>(&'a self, exec_id: &'a str) -> BoxFuture<'a, Result<i64>> {
        async move {
            // Podman may report the exit a moment after the output ends.
            for _ in 0..100 {
                let info = self
                    .docker
                    .inspect_exec(exec_id)
                    .await
                    .map_err(|e| docker_error(&self.endpoint, "inspect a command", &e))?;
                if let (Some(false) | None, Some(code)) = (info.running, info.exit_code) {
                    return Ok(code);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(Error::Docker(format!(
                "command {exec_id} ended its output but reports no exit code"
            )))
        }
        .boxed()
    }

    fn download<'a>(&'a self, id: &'a str, path: &'a str) -> BoxStream<'a, Result<Bytes>> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        self.docker
            .download_from_container(id, Some(options))
            .map_err(move |e| {
                if status(&e) == Some(404) {
                    Error::MissingPath {
                        step: id.chars().take(12).collect(),
                        path: path.to_owned(),
                    }
                } else {
                    docker_error(
                        &self.endpoint,
                        &format!("copy {path} out of the container"),
                        &e,
                    )
                }
            })
            .boxed()
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        self.remove_within(id, CLEANUP_TIMEOUT).boxed()
    }

    fn end<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            // Not kept up by this process (its start was cut short): only force ends it.
            if !self.leases.release(id) {
                return self.remove(id).await;
            }
            let started = Instant::now();
            let ended = tokio::time::timeout(END_WAIT, self.removed(id)).await;
            match ended {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => {
                    tracing::debug!("cannot wait for container {id} to remove itself: {e}")
                }
                Err(_) => tracing::debug!(
                    "container {id} did not remove itself within {}s",
                    END_WAIT.as_secs()
                ),
            }
            // The wait counts: a daemon that does not answer keeps an interrupted run waiting
            // one cleanup's time in all.
            let left = CLEANUP_TIMEOUT.saturating_sub(started.elapsed());
            self.remove_within(id, left).await
        }
        .boxed()
    }

    fn remove_run<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, Result<usize>> {
        async move { self.remove_labelled(&format!("{LABEL_RUN}={run_id}")).await }.boxed()
    }

    fn remove_labelled<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<usize>> {
        async move {
            let containers = self.labelled(vec![label.to_owned()]).await?;
            let removals = containers.iter().map(|c| self.remove(&c.id));
            let results = futures_util::future::join_all(removals).await;
            results.into_iter().collect::<Result<Vec<()>>>()?;
            Ok(containers.len())
        }
        .boxed()
    }

    fn reap_orphans(&self) -> BoxFuture<'_, Result<usize>> {
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut reaped = 0;
            for c in self.labelled(vec![LABEL_RUN.to_owned()]).await? {
                let age = Duration::from_secs(now.saturating_sub(c.created));
                if let Some(why) = orphaned(&c.labels, c.running, age) {
                    tracing::info!("removing container {}: {why}", c.id);
                    self.remove(&c.id).await?;
                    reaped += 1;
                }
            }
            // Networks after containers: one in use cannot go.
            reaped += self.reap_networks().await?;
            Ok(reaped)
        }
        .boxed()
    }

    fn create_network<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<()>> {
        self.create_network_impl(name, labels).boxed()
    }

    fn connect_network<'a>(
        &'a self,
        network: &'a str,
        container: &'a str,
        links: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<()>> {
        self.connect_network_impl(network, container, links).boxed()
    }

    fn remove_networks<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<usize>> {
        self.remove_networks_impl(label).boxed()
    }

    fn start_service<'a>(&'a self, spec: &'a ServiceSpec) -> BoxFuture<'a, Result<String>> {
        self.start_service_impl(spec).boxed()
    }

    fn service_state<'a>(
        &'a self,
        id: &'a str,
        network: &'a str,
    ) -> BoxFuture<'a, Result<ServiceState>> {
        self.service_state_impl(id, network).boxed()
    }

    fn logs<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<String>> {
        self.logs_impl(id).boxed()
    }

    fn remove_volume<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            let options = RemoveVolumeOptionsBuilder::default().force(true).build();
            match self.docker.remove_volume(name, Some(options)).await {
                Ok(()) => Ok(()),
                Err(e) if status(&e) == Some(404) => Ok(()),
                Err(e) => Err(docker_error(
                    &self.endpoint,
                    &format!("remove volume {name}"),
                    &e,
                )),
            }
        }
        .boxed()
    }
}

impl DockerBackend {
    /// A command's `output`, as the daemon attached it, each chunk named by its stream.
    /// `input`, the connection's write half, lives as long as the output: dropping it may end
    /// the session early on some transports.
    pub(super) fn command_output<I: Send + 'static>(
        &self,
        output: impl futures_util::Stream<
            Item = std::result::Result<bollard::container::LogOutput, bollard::errors::Error>,
        > + Send
        + 'static,
        input: I,
    ) -> BoxStream<'static, Result<(Stream, Bytes)>> {
        let endpoint = self.endpoint.clone();
        output
            .map(move |item| {
                let _keep = &input;
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message }) => {
                        Ok((Stream::Stderr, message))
                    }
                    Ok(log) => Ok((Stream::Stdout, log.into_bytes())),
                    Err(e) => Err(docker_error(&endpoint, "read a command's output", &e)),
                }
            })
            .boxed()
    }

    /// The bollard client, for the other modules of the backend.
    fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Where the daemon is, for errors.
    fn endpoint_str(&self) -> &str {
        &self.endpoint
    }
}

impl DockerBackend {
    /// Removes container `id` by force, waiting for the daemon at most `budget`.
    async fn remove_within(&self, id: &str, budget: Duration) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let doing = format!("remove container {id}");
        let removed = self
            .cleanup_within(&doing, budget, async {
                match self.docker.remove_container(id, Some(options)).await {
                    Ok(()) => Ok(()),
                    // Gone already.
                    Err(e) if status(&e) == Some(404) => Ok(()),
                    // Being removed by someone else (its keep-alive ended, or another
                    // cleanup): removed means gone, so wait for that removal.
                    Err(e) if status(&e) == Some(409) => self.gone(id, &doing).await,
                    Err(e) => Err(docker_error(&self.endpoint, &doing, &e)),
                }
            })
            .await;
        // Whatever the daemon said: without its stdin the container ends by itself.
        self.leases.release(id);
        removed
    }
}
