//! The Docker Engine API backend, through bollard; Podman's Docker-compatible socket works too.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};

use crate::backend::lease::{Leases, orphaned};
use crate::backend::request::{
    connection_failure, create_body, docker_error, image_id, server_message, split_reference,
    status,
};
use crate::backend::{
    Backend, ContainerSpec, ExecSpec, ImageId, InteractiveExec, LABEL_RUN, Progress, StartedExec,
    Stream, TarStream,
};
use crate::error::{Error, Result};

/// The socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long connecting may take before the daemon counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The limit on each API request until its response starts; long uploads count in full.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

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
}

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
        let docker = if let Some(path) = &socket {
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(format!("no socket at {path}")));
            }
            Docker::connect_with_unix(
                path,
                REQUEST_TIMEOUT.as_secs(),
                bollard::API_DEFAULT_VERSION,
            )
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(
                host,
                REQUEST_TIMEOUT.as_secs(),
                bollard::API_DEFAULT_VERSION,
            )
        } else {
            return Err(Error::Usage(format!(
                "DOCKER_HOST `{host}` is not supported: use unix:///path/to/docker.sock or tcp://host:port"
            )));
        }
        .map_err(|e| unreachable(e.to_string()))?;

        let docker = match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(docker)) => docker,
            Ok(Err(e)) => {
                return Err(unreachable(
                    connection_failure(&e).unwrap_or_else(|| e.to_string()),
                ));
            }
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
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
        })
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

    async fn pull(&self, reference: &str, progress: Progress<'_>) -> Result<()> {
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
            let body = create_body(spec);
            let created = self
                .docker
                .create_container(None, body)
                .await
                .map_err(|e| docker_error(&self.endpoint, "create a container", &e))?;
            let id = created.id;
            // Attached before it starts, so its keep-alive never runs without an owner.
            let options = AttachContainerOptionsBuilder::default()
                .stdin(true)
                .stream(true)
                .build();
            match self.docker.attach_container(&id, Some(options)).await {
                Ok(attached) => self.leases.hold(&id, attached),
                Err(e) => {
                    let _ = self.remove(&id).await;
                    return Err(docker_error(&self.endpoint, "attach to a container", &e));
                }
            }
            if let Err(e) = self.docker.start_container(&id, None).await {
                let _ = self.remove(&id).await;
                return Err(docker_error(&self.endpoint, "start a container", &e));
            }
            Ok(id)
        }
        .boxed()
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
            let secrets = spec.secret_env.iter().map(|(k, s)| (k, s.expose()));
            let env: Vec<String> = (spec.env.iter().map(|(k, v)| (k, v.as_str())))
                .chain(secrets)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let options = CreateExecOptions::<String> {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(spec.argv.clone()),
                env: (!env.is_empty()).then_some(env),
                working_dir: spec.workdir.clone(),
                user: spec.user.clone(),
                ..Default::default()
            };
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
            let endpoint = self.endpoint.clone();
            let output = output.map(move |item| {
                // Dropping the write half may end the session early on some transports.
                let _keep = &input;
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message }) => {
                        Ok((Stream::Stderr, message))
                    }
                    Ok(log) => Ok((Stream::Stdout, log.into_bytes())),
                    Err(e) => Err(docker_error(&endpoint, "read a command's output", &e)),
                }
            });
            Ok(StartedExec {
                id: created.id,
                output: output.boxed(),
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
        async move {
            let secrets = spec.secret_env.iter().map(|(k, s)| (k, s.expose()));
            let env: Vec<String> = (spec.env.iter().map(|(k, v)| (k, v.as_str())))
                .chain(secrets)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let options = CreateExecOptions::<String> {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                cmd: Some(spec.argv.clone()),
                env: Some(env),
                working_dir: spec.workdir.clone(),
                user: spec.user.clone(),
                ..Default::default()
            };
            let created = self
                .docker
                .create_exec(id, options)
                .await
                .map_err(|e| docker_error(&self.endpoint, "create a shell", &e))?;
            let start = StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            };
            let started = self
                .docker
                .start_exec(&created.id, Some(start))
                .await
                .map_err(|e| docker_error(&self.endpoint, "start a shell", &e))?;
            let StartExecResults::Attached { output, input } = started else {
                return Err(Error::Docker("a shell started detached".into()));
            };
            // The size is set once it runs: a terminal opens at the daemon's default otherwise.
            let _ = self.resize_exec(&created.id, size).await;
            let endpoint = self.endpoint.clone();
            let output = output.map(move |item| match item {
                Ok(log) => Ok(log.into_bytes()),
                Err(e) => Err(docker_error(&endpoint, "read a shell's output", &e)),
            });
            Ok(InteractiveExec {
                id: created.id,
                output: output.boxed(),
                input,
            })
        }
        .boxed()
    }

    fn resize_exec<'a>(&'a self, exec_id: &'a str, size: (u16, u16)) -> BoxFuture<'a, Result<()>> {
        async move {
            let (height, width) = size;
            self.docker
                .resize_exec(exec_id, bollard::exec::ResizeExecOptions { height, width })
                .await
                .map_err(|e| docker_error(&self.endpoint, "resize a shell's terminal", &e))
        }
        .boxed()
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
        async move {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            let removed = self.docker.remove_container(id, Some(options)).await;
            // Whatever the daemon said: without its stdin the container ends by itself.
            self.leases.release(id);
            match removed {
                Ok(()) => Ok(()),
                // Gone already, or being removed by someone else (the run's cleanup, say).
                Err(e) if matches!(status(&e), Some(404 | 409)) => Ok(()),
                Err(e) => Err(docker_error(
                    &self.endpoint,
                    &format!("remove container {id}"),
                    &e,
                )),
            }
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
            Ok(reaped)
        }
        .boxed()
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

/// A container as a listing shows it.
struct Listed {
    id: String,
    labels: HashMap<String, String>,
    /// Whether it runs (or is paused, or restarting): anything but created, exited or dead.
    running: bool,
    /// When it was created, in seconds since the Unix epoch.
    created: u64,
}

impl DockerBackend {
    /// Every container, running or not, that has all of `labels` (`key` or `key=value`).
    async fn labelled(&self, labels: Vec<String>) -> Result<Vec<Listed>> {
        use bollard::models::ContainerSummaryStateEnum as State;
        let filters = HashMap::from([("label".to_owned(), labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| docker_error(&self.endpoint, "list containers", &e))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                Some(Listed {
                    id: c.id?,
                    labels: c.labels.unwrap_or_default(),
                    running: !matches!(c.state, Some(State::CREATED | State::EXITED | State::DEAD)),
                    created: c.created.and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
                })
            })
            .collect())
    }
}
