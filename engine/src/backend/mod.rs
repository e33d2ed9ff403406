//! The engine interface: the [`Backend`] trait, tar archives in and out of containers, and
//! this process's identity. Its Docker implementation (bollard) is the `tanto` crate's, which
//! plugs it in through [`Connect`]: this crate never names bollard, so it compiles beside it.
//!
//! The trait is deliberately low level (start, upload, exec, download, remove) and knows
//! nothing of steps; everything a step sees (lazy creation, mounts, copies, streaming logs,
//! exit-code checks, timeouts and cancellation) lives in the `step` layer and works the same
//! on every backend.

pub mod archive;
mod image;
mod network;
mod process;
mod reference;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use image::{ImageBackend, ImageContent, ImageSettings, LayerFile, Reclaimed};
pub use network::{ServiceSpec, ServiceState};
pub use process::{Liveness, Owner, PARENT_ENV, Parent, host_name, pid_alive};
pub use reference::{ReferenceUse, check_reference};

use crate::artifact::Secret;
use crate::error::Result;

/// The label that holds the run id on every container.
pub const LABEL_RUN: &str = "tanto.run";
/// The label that holds the step's label on every container.
pub const LABEL_STEP: &str = "tanto.step";
/// The label that holds the owner process's pid on every container.
pub const LABEL_PID: &str = "tanto.pid";
/// The label that holds the owner's host name on every container.
pub const LABEL_HOST: &str = "tanto.host";
/// The label that names the owner process on every container (`BOOT:PIDNS:PID:START`, see
/// [`Owner`]): what reaping trusts, where the host name and pid are for people.
pub const LABEL_OWNER: &str = "tanto.owner";
/// The label that holds, on the containers of a nested run, the run id of the step that
/// started it (from [`PARENT_ENV`]); the parent run removes them when it ends.
pub const LABEL_PARENT_RUN: &str = "tanto.parent.run";
/// The label that holds, on the containers of a nested run, the container id of the step
/// that started it (from [`PARENT_ENV`]); the parent removes them when that step ends.
pub const LABEL_PARENT_STEP: &str = "tanto.parent.step";
/// The label that holds, on a service container, the service's definition digest.
pub const LABEL_SERVICE: &str = "tanto.service";

/// Which output stream of a command a chunk or a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// An image's content id (`sha256:…`), what cache keys record instead of a tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(String);

impl ImageId {
    /// Wraps an id as the daemon reports it.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id, `sha256:` and 64 hex characters for Docker and Podman.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A folder of the daemon's host, bind mounted.
    Bind {
        /// The folder on the daemon's host.
        host: PathBuf,
        /// Whether the container may only read it.
        read_only: bool,
    },
    /// A named volume, created by the daemon on first use.
    Volume {
        /// The volume's name.
        name: String,
    },
    /// An empty, read-only folder (a tmpfs) laid over what the image or an outer mount has at
    /// the target: how a folder a `Dir` input leaves out is hidden inside its mount.
    EmptyDir,
    /// An empty folder in memory (a tmpfs, mode 0755) that the container may write: where
    /// secret files live, never on a disk and never in a captured output.
    Memory,
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The absolute path in the container.
    pub target: String,
    /// What is mounted there.
    pub source: MountSource,
}

/// Everything a container is created with. Per-command settings live in [`ExecSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// The image, already resolved.
    pub image: ImageId,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Mounts, in declaration order.
    pub mounts: Vec<Mount>,
    /// Whether the container has a network.
    pub network: bool,
    /// A memory limit, in bytes.
    pub memory: Option<u64>,
    /// A CPU limit, in thousandths of a CPU.
    pub millicpus: Option<u32>,
}

/// One command to run in a started container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Variables added to the container's environment.
    pub env: Vec<(String, String)>,
    /// The working directory; the image's when `None`.
    pub workdir: Option<String>,
    /// The user (`name`, `uid` or `uid:gid`); the image's when `None`.
    pub user: Option<String>,
    /// Variables whose values are secrets: given to this command only (never to the
    /// container's configuration, which `docker inspect` shows), and never in `Debug`.
    pub secret_env: Vec<(String, Secret)>,
}

impl ExecSpec {
    /// The command's environment as the daemon takes it, `NAME=VALUE`: the plain variables,
    /// then the secret ones with their values. Only for the request that starts the command.
    pub fn daemon_env(&self) -> Vec<String> {
        let plain = self.env.iter().map(|(k, v)| (k, v.as_str()));
        let secrets = self.secret_env.iter().map(|(k, s)| (k, s.expose()));
        plain
            .chain(secrets)
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// A command that runs: its id and its output as it comes.
pub struct StartedExec {
    /// The backend's id of the command, for [`Backend::exec_exit_code`].
    pub id: String,
    /// Chunks of output in the order they were written; ends when the command exits.
    pub output: BoxStream<'static, Result<(Stream, Bytes)>>,
}

impl fmt::Debug for StartedExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedExec")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A command with a terminal: what it writes, and where to write what it reads.
pub struct InteractiveExec {
    /// The backend's id of the command, for [`Backend::resize_exec`] and
    /// [`Backend::exec_exit_code`].
    pub id: String,
    /// What the command writes to its terminal; ends when it exits.
    pub output: BoxStream<'static, Result<Bytes>>,
    /// The command's terminal input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl fmt::Debug for InteractiveExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractiveExec")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Connects to a container engine: how the `tanto` crate plugs its Docker backend into the
/// engine. The `#[step]` and `#[pipeline]` expansions name it (`Step::BACKEND`,
/// `Pipeline::BACKEND`), so a run, a shell and a standalone context connect to the backend
/// of the crate the macros point at.
pub type Connect = fn() -> BoxFuture<'static, Result<Arc<dyn Backend>>>;

/// A tar archive as a stream of chunks, for uploads.
pub type TarStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Called with each line of progress of a long operation, such as an image pull.
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// A container engine: the primitives that [`Container`](crate::Container) builds steps from.
///
/// Object safe, so a run holds an `Arc<dyn Backend>`; the `tanto` crate's `DockerBackend`
/// The most of a service container's log that [`Backend::logs`] keeps: its last 16 MiB.
pub const LOG_KEEP: usize = 16 << 20;

/// talks to Docker or to Podman's Docker-compatible socket.
pub trait Backend: Send + Sync + fmt::Debug + ImageBackend {
    /// Where the engine is, for messages: `unix:///var/run/docker.sock`, `tcp://host:2375`.
    fn endpoint(&self) -> &str;

    /// Whether the engine shares this machine's file system, so host folders can be bind
    /// mounted instead of uploaded.
    fn is_local(&self) -> bool;

    /// The host path of the engine's API socket when it is a local Unix socket, for steps that
    /// ask for `docker_socket`.
    fn socket_path(&self) -> Option<&str>;

    /// The id of image `reference`, pulling it first when it is missing; pull progress goes to
    /// `progress`. A missing image that cannot be pulled is
    /// [`Error::ImageUnavailable`](crate::Error::ImageUnavailable).
    fn resolve_image<'a>(
        &'a self,
        reference: &'a str,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<ImageId>>;

    /// Creates and starts a container that stays up (doing nothing) until it is removed or
    /// this process goes, and returns its id.
    fn start<'a>(&'a self, spec: &'a ContainerSpec) -> BoxFuture<'a, Result<String>>;

    /// Creates, without starting it, a container that runs `command` as its own process
    /// (PID 1) and exits with it, and returns its id: one exec fewer than [`start`] and
    /// [`exec`], and nothing to end afterwards, for a step that runs one command. The
    /// container does not remove itself: its files and exit code stay readable after it
    /// exits, until [`remove`](Self::remove). `command` must have no secret variables (the
    /// container's configuration would show them); it is an error.
    ///
    /// [`start`]: Self::start
    /// [`exec`]: Self::exec
    fn create_command<'a>(
        &'a self,
        spec: &'a ContainerSpec,
        command: &'a ExecSpec,
    ) -> BoxFuture<'a, Result<String>>;

    /// Starts container `id`, made by [`create_command`](Self::create_command), with its
    /// output attached from its first byte; the output ends when the command exits. The
    /// returned id is the container's, for [`exit_code`](Self::exit_code).
    fn start_command<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<StartedExec>>;

    /// The exit code of container `id`'s command, once it has exited (waits for that).
    fn exit_code<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<i64>>;

    /// Extracts the tar archive `tar` at `/` in container `id`.
    fn upload<'a>(&'a self, id: &'a str, tar: TarStream) -> BoxFuture<'a, Result<()>>;

    /// Starts a command in container `id`.
    fn exec<'a>(&'a self, id: &'a str, spec: &'a ExecSpec) -> BoxFuture<'a, Result<StartedExec>>;

    /// The exit code of a command whose output has ended.
    fn exec_exit_code<'a>(&'a self, exec_id: &'a str) -> BoxFuture<'a, Result<i64>>;

    /// Starts a command in container `id` on a terminal of `rows` × `cols`, with its input
    /// attached: a shell for a person.
    fn exec_interactive<'a>(
        &'a self,
        id: &'a str,
        spec: &'a ExecSpec,
        size: (u16, u16),
    ) -> BoxFuture<'a, Result<InteractiveExec>>;

    /// Resizes the terminal of an interactive command to `rows` × `cols`.
    fn resize_exec<'a>(&'a self, exec_id: &'a str, size: (u16, u16)) -> BoxFuture<'a, Result<()>>;

    /// A tar archive of `path` in container `id`, whose single top-level entry is the path's
    /// last component. A missing path is [`Error::MissingPath`](crate::Error::MissingPath).
    fn download<'a>(&'a self, id: &'a str, path: &'a str) -> BoxStream<'a, Result<Bytes>>;

    /// Kills and removes container `id` with its anonymous volumes; a container that is
    /// already gone is not an error.
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Ends container `id`, which [`start`](Self::start) started, and waits until it is gone
    /// with its anonymous volumes: its keep-alive is let go, so the container stops with
    /// everything running in it and removes itself, and one that has not gone within a
    /// bounded time is removed by force. A container that is already gone is not an error.
    fn end<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        self.remove(id)
    }

    /// Removes every container labelled with run `run_id`, and returns how many there were.
    fn remove_run<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, Result<usize>>;

    /// Removes every container that carries `label` (`key=value`), and returns how many there
    /// were. Tries them all, then reports the first failure.
    fn remove_labelled<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<usize>>;

    /// Removes the containers whose owner process is gone (a `kill -9`, a crash) and returns
    /// how many there were. An owner that cannot be judged from here (another machine, an
    /// earlier boot, another pid namespace) keeps its running containers, so a shared daemon
    /// is safe.
    fn reap_orphans(&self) -> BoxFuture<'_, Result<usize>>;

    /// Removes the named volume `name`; a missing volume is not an error.
    fn remove_volume<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Creates network `name` with `labels` (a run's network: labelled like its containers);
    /// one of that name that exists is reused.
    fn create_network<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (name, labels);
        Box::pin(async { Err(no_services(self.endpoint())) })
    }

    /// Connects `container` to `network`; each `(target, alias)` of `links` makes container
    /// `target` reachable from it as host `alias`.
    fn connect_network<'a>(
        &'a self,
        network: &'a str,
        container: &'a str,
        links: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (network, container, links);
        Box::pin(async { Err(no_services(self.endpoint())) })
    }

    /// Removes the networks that carry `label` (`key=value`) and have no container left;
    /// returns how many were removed.
    fn remove_networks<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<usize>> {
        let _ = label;
        Box::pin(async { Ok(0) })
    }

    /// Creates and starts a service container, which runs its own command, and returns its id.
    fn start_service<'a>(&'a self, spec: &'a ServiceSpec) -> BoxFuture<'a, Result<String>> {
        let _ = spec;
        Box::pin(async { Err(no_services(self.endpoint())) })
    }

    /// Whether container `id` runs, its exit code, and its address on `network`.
    fn service_state<'a>(
        &'a self,
        id: &'a str,
        network: &'a str,
    ) -> BoxFuture<'a, Result<ServiceState>> {
        let _ = (id, network);
        Box::pin(async { Err(no_services(self.endpoint())) })
    }

    /// What container `id` wrote to its stdout and stderr: all of it, or its last
    /// [`LOG_KEEP`] bytes after a line that says the rest was cut.
    fn logs<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<String>> {
        let _ = id;
        Box::pin(async { Err(no_services(self.endpoint())) })
    }
}

/// The value of `secret`, for a backend to hand to the daemon in the one request that needs
/// it (a push's auth header): never for a log, a key, an event or a container's configuration.
pub fn expose(secret: &Secret) -> &str {
    secret.expose()
}

/// What a backend without services says when a step binds one.
fn no_services(endpoint: &str) -> crate::Error {
    crate::Error::Docker(format!("the engine at {endpoint} cannot run services"))
}
