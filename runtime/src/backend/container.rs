//! The container builder that step bodies use: mounts, copies, env, and the commands run.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;

use crate::backend::archive::{self, CopyEntry, CopySource};
use crate::backend::dir_view;
use crate::backend::process::host_name;
use crate::backend::{
    ContainerSpec, ExecSpec, ImageId, LABEL_HOST, LABEL_PID, LABEL_RUN, LABEL_STEP, Mount,
    MountSource,
};
use crate::error::{Error, Result};
use crate::report::Stream;
use crate::{Ctx, Dir, File};

/// Where `docker_socket` mounts the daemon's socket in the container.
const SOCKET_TARGET: &str = "/var/run/docker.sock";

/// Where Debian-like systems keep the CA bundle, on the host and in the container.
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How many lines of stderr a [`Error::CommandFailed`] carries.
const TAIL_LINES: usize = 50;

/// Gives each copy an identity, so the step's container receives it once.
static NEXT_COPY: AtomicU64 = AtomicU64::new(0);

/// A step's container, as a builder: each `with_*` returns a new value and leaves `self` as
/// it was; clones are cheap.
///
/// A step has one container. It is created from the step's image at the first command
/// ([`exec`](Self::exec), [`sh`](Self::sh), [`dir`](Self::dir), [`file`](Self::file)) with
/// the mounts declared so far, kept for the step's other commands, and removed when the step
/// ends. Mounts are fixed once it runs; copies, env, working directory and user apply to each
/// command of the builder they were declared on.
///
/// ```no_run
/// use tanto::prelude::*;
///
/// async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
///     let c = ctx
///         .container()
///         .with_dir("/src", &src) // a private, writable copy
///         .with_workdir("/src")
///         .with_env("CARGO_TERM_COLOR", "never");
///     c.exec(["cargo", "build", "--release"]).await?;
///     c.dir("/src/target/release").await
/// }
/// ```
#[derive(Clone)]
pub struct Container {
    ctx: Ctx,
    spec: Arc<Spec>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("step", &self.ctx.label())
            .field("spec", &self.spec)
            .finish()
    }
}

#[derive(Debug, Clone, Default)]
struct Spec {
    image: Option<String>,
    mounts: Vec<MountDecl>,
    copies: Vec<CopyDecl>,
    env: Vec<(String, String)>,
    workdir: Option<String>,
    user: Option<String>,
    allowed: Option<Vec<i64>>,
    /// Mistakes in `with_*` calls, reported by the first command.
    problems: Vec<String>,
}

/// A mount as declared; what it becomes depends on the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountDecl {
    target: String,
    kind: MountKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MountKind {
    /// A read-only folder: bind mounted when the daemon is local, uploaded once otherwise.
    Dir(Dir),
    /// A named volume.
    Cache(String),
    /// The daemon's own API socket.
    DockerSocket,
}

#[derive(Debug, Clone)]
struct CopyDecl {
    id: u64,
    entry: CopyEntry,
}

/// What a step's container is, seen from its [`Ctx`].
pub(crate) enum Slot {
    /// Not created yet.
    Empty,
    /// Up.
    Live(Live),
    /// Removed; the step cannot use a container any more.
    Gone(Gone),
}

pub(crate) struct Live {
    pub(crate) id: String,
    image: String,
    mounts: Vec<MountDecl>,
    applied: HashSet<u64>,
    /// With `docker_socket`: a host folder mounted at the same path and made the container's
    /// `TMPDIR`, so bind mounts that the container asks the daemon for resolve on the host.
    /// Removed with the container.
    scratch: Option<tempfile::TempDir>,
}

/// Why a step's container was removed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gone {
    Closed,
    TimedOut,
    Cancelled,
}

/// What a command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code.
    pub exit_code: i64,
    /// Everything written to standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Everything written to standard error (invalid UTF-8 replaced).
    pub stderr: String,
}

impl ExecOutput {
    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl Container {
    pub(crate) fn for_step(ctx: &Ctx) -> Self {
        let settings = &ctx.step().settings;
        let mut spec = Spec {
            image: settings.image.map(str::to_owned),
            env: settings
                .env
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            workdir: settings.workdir.map(str::to_owned),
            user: settings.user.map(str::to_owned),
            ..Spec::default()
        };
        for &(path, volume) in settings.caches {
            spec.mount(path, MountKind::Cache(volume.to_owned()));
        }
        if settings.docker_socket {
            spec.mount(SOCKET_TARGET, MountKind::DockerSocket);
        }
        Self {
            ctx: ctx.clone(),
            spec: Arc::new(spec),
        }
    }

    fn with(&self, change: impl FnOnce(&mut Spec)) -> Self {
        let mut spec = Spec::clone(&self.spec);
        change(&mut spec);
        Self {
            ctx: self.ctx.clone(),
            spec: Arc::new(spec),
        }
    }

    /// Runs the container from `image` instead of the step's `image` attribute.
    pub fn with_image(&self, image: impl Into<String>) -> Self {
        let image = image.into();
        self.with(|s| s.image = Some(image))
    }

    /// Mounts `dir` read-only at `path`: a bind mount of the folder when the daemon is local
    /// (nothing is copied), one upload when it is remote.
    ///
    /// The container sees only what `dir`'s digest covers. When a host folder leaves entries
    /// out (ignored by `.gitignore`, `.git`, or outside `#[dir(..)]`'s globs), its *linked
    /// view* is mounted instead: a folder in the store holding a hard link to each selected
    /// file, made once per run, so nothing is copied. Where hard links cannot reach (the
    /// folder and the store on different file systems), or with
    /// [`DirViews::Masks`](crate::DirViews::Masks) (`TANTO_DIR_VIEW=masks`), each left-out
    /// entry is masked in the bind mount by an empty read-only folder or file (its name stays,
    /// its content is gone); and where that would take more than 100 masks, or a symlink or
    /// special file must be left out, the selected entries are uploaded instead.
    pub fn with_mounted_dir(&self, path: impl Into<String>, dir: &Dir) -> Self {
        let path = path.into();
        self.with(|s| s.mount(&path, MountKind::Dir(dir.clone())))
    }

    /// Puts a private, writable copy of `dir` at `path`: the entries its digest covers and
    /// nothing else. What the commands change there never reaches `dir`, the store or the host.
    pub fn with_dir(&self, path: impl Into<String>, dir: &Dir) -> Self {
        let path = path.into();
        self.with(|s| s.copy(path, CopySource::Dir(dir.clone())))
    }

    /// Puts a private, writable copy of `file` at `path`, executable if `file` is.
    pub fn with_file(&self, path: impl Into<String>, file: &File) -> Self {
        let path = path.into();
        let source = CopySource::File {
            path: file.path().to_path_buf(),
            executable: file.is_executable(),
        };
        self.with(|s| s.copy(path, source))
    }

    /// Writes `contents` to a new file at `path` (mode 644).
    pub fn with_new_file(&self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        let path = path.into();
        let bytes: Arc<[u8]> = contents.into().into();
        self.with(|s| s.copy(path, CopySource::Bytes(bytes)))
    }

    /// Copies this machine's CA bundle (`/etc/ssl/certs/ca-certificates.crt`) to the same
    /// path in the container and points `SSL_CERT_FILE` and `CARGO_HTTP_CAINFO` at it, so
    /// HTTPS works behind a proxy that re-signs traffic with its own CA. The images that
    /// `cargo xtask images` makes already hold the bundle.
    pub fn with_host_ca_bundle(&self) -> Self {
        let bundle = std::path::Path::new(HOST_CA_BUNDLE);
        self.with(|s| {
            if bundle.is_file() {
                let source = CopySource::File {
                    path: bundle.to_path_buf(),
                    executable: false,
                };
                s.copy(HOST_CA_BUNDLE.to_owned(), source);
                for key in ["SSL_CERT_FILE", "CARGO_HTTP_CAINFO"] {
                    s.env.retain(|(k, _)| k != key);
                    s.env.push((key.to_owned(), HOST_CA_BUNDLE.to_owned()));
                }
            } else {
                s.problems.push(format!(
                    "`with_host_ca_bundle`: this machine has no {HOST_CA_BUNDLE}"
                ));
            }
        })
    }

    /// Sets variable `key` to `value` for the commands.
    pub fn with_env(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.with(|s| {
            s.env.retain(|(k, _)| *k != key);
            s.env.push((key, value));
        })
    }

    /// Runs the commands in `path`.
    pub fn with_workdir(&self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.with(|s| s.workdir = Some(path))
    }

    /// Runs the commands as `user`: a name, `uid` or `uid:gid`. Copies made for a numeric
    /// user are owned by it, so it can write to them.
    pub fn with_user(&self, user: impl Into<String>) -> Self {
        let user = user.into();
        self.with(|s| s.user = Some(user))
    }

    /// Mounts the named volume `volume` at `path`. Its contents outlive the step and are
    /// outside the cache key: use it for caches such as `~/.cargo/registry`.
    pub fn with_cache(&self, path: impl Into<String>, volume: impl Into<String>) -> Self {
        let (path, volume) = (path.into(), volume.into());
        self.with(|s| s.mount(&path, MountKind::Cache(volume)))
    }

    /// Accepts these exit codes instead of just 0: a command that exits with another one fails
    /// with [`Error::CommandFailed`].
    pub fn allow_exit_codes(&self, codes: impl IntoIterator<Item = i64>) -> Self {
        let codes: Vec<i64> = codes.into_iter().collect();
        self.with(|s| s.allowed = Some(codes))
    }

    /// Runs `argv` and waits for it to exit. Its output lines go to the step's log as they
    /// come; a disallowed exit code is [`Error::CommandFailed`] with the end of its stderr.
    pub async fn exec<I, S>(&self, argv: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let argv: Vec<String> = argv.into_iter().map(|a| a.as_ref().to_owned()).collect();
        if argv.is_empty() {
            return Err(Error::Usage(format!(
                "step `{}`: `exec` needs a program to run",
                self.ctx.label()
            )));
        }
        let command = shell_words(&argv);
        self.run(argv, command).await
    }

    /// Runs `script` with `sh -c`, like [`exec`](Self::exec).
    pub async fn sh(&self, script: impl AsRef<str>) -> Result<ExecOutput> {
        let script = script.as_ref();
        let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        self.run(argv, shell_words(&["sh", "-c", script])).await
    }

    /// Captures folder `path` of the container into the store.
    pub async fn dir(&self, path: impl AsRef<str>) -> Result<Dir> {
        let path = path.as_ref().to_owned();
        self.guarded(async {
            let (staging, top) = self.capture(&path).await?;
            let store = Arc::clone(&self.ctx.run().store);
            let label = self.ctx.label().to_owned();
            blocking(move || {
                let _staging = staging;
                if !std::fs::symlink_metadata(&top).is_ok_and(|m| m.is_dir()) {
                    return Err(Error::Usage(format!(
                        "step `{label}`: `{path}` in its container is not a folder; use `file` for a file"
                    )));
                }
                store.ingest_dir(&top)
            })
            .await
        })
        .await
    }

    /// Captures file `path` of the container into the store, keeping its executable bit.
    pub async fn file(&self, path: impl AsRef<str>) -> Result<File> {
        let path = path.as_ref().to_owned();
        self.guarded(async {
            let (staging, top) = self.capture(&path).await?;
            let store = Arc::clone(&self.ctx.run().store);
            let label = self.ctx.label().to_owned();
            blocking(move || {
                let _staging = staging;
                let meta = std::fs::symlink_metadata(&top).ok().filter(|m| m.is_file());
                let Some(meta) = meta else {
                    return Err(Error::Usage(format!(
                        "step `{label}`: `{path}` in its container is not a regular file; use `dir` for a folder"
                    )));
                };
                use std::os::unix::fs::PermissionsExt;
                let executable = meta.permissions().mode() & 0o111 != 0;
                store.ingest_file(&top, executable)
            })
            .await
        })
        .await
    }

    async fn run(&self, argv: Vec<String>, command: String) -> Result<ExecOutput> {
        let output = self
            .guarded(async {
                let (id, scratch) = self.live().await?;
                let mut env = self.spec.env.clone();
                if let Some(dir) = scratch {
                    env.push(("TMPDIR".to_owned(), dir.display().to_string()));
                }
                let spec = ExecSpec {
                    argv,
                    env,
                    workdir: self.spec.workdir.clone(),
                    user: self.spec.user.clone(),
                };
                let backend = &self.ctx.run().backend;
                let mut started = backend.exec(&id, &spec).await?;
                let mut log = LogLines::new(&self.ctx);
                while let Some(chunk) = started.output.next().await {
                    let (stream, bytes) = chunk?;
                    log.push(stream, &bytes);
                }
                let code = backend.exec_exit_code(&started.id).await?;
                Ok(log.finish(code))
            })
            .await?;
        let allowed = self.spec.allowed.as_deref().unwrap_or(&[0]);
        if allowed.contains(&output.exit_code) {
            return Ok(output);
        }
        // `docker exec` reports a missing program on stdout.
        let tail_of = if output.stderr.trim().is_empty() {
            &output.stdout
        } else {
            &output.stderr
        };
        Err(Error::CommandFailed {
            command,
            code: output.exit_code,
            stderr_tail: tail(tail_of, TAIL_LINES),
        })
    }

    /// Runs `work` within the step's deadline and cancellation: when either fires first, the
    /// container is removed at once (which stops whatever runs in it).
    async fn guarded<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        enum Outcome<T> {
            Done(Result<T>),
            Cancelled,
            TimedOut,
        }
        let cancel = self.ctx.cancel_token().clone();
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let deadline = self.ctx.deadline();
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Outcome::Cancelled,
            () = timer => Outcome::TimedOut,
            r = work => Outcome::Done(r),
        };
        let state = self.ctx.container_state();
        match outcome {
            Outcome::Done(r) => r,
            Outcome::Cancelled => {
                if let Err(e) = state.remove(Slot::Gone(Gone::Cancelled)).await {
                    tracing::warn!("step `{}`: {e}", self.ctx.label());
                }
                Err(Error::Cancelled)
            }
            Outcome::TimedOut => {
                if let Err(e) = state.remove(Slot::Gone(Gone::TimedOut)).await {
                    tracing::warn!("step `{}`: {e}", self.ctx.label());
                }
                Err(self.timeout_error())
            }
        }
    }

    fn timeout_error(&self) -> Error {
        Error::Timeout {
            step: self.ctx.label().to_owned(),
            after: self.ctx.step().settings.timeout.unwrap_or_default(),
        }
    }

    /// The step's container, created on first use, with this builder's copies in it, and its
    /// shared scratch folder if it has one.
    async fn live(&self) -> Result<(String, Option<std::path::PathBuf>)> {
        let label = self.ctx.label();
        if let Some(problem) = self.spec.problems.first() {
            return Err(Error::Usage(format!("step `{label}`: {problem}")));
        }
        let image = self.spec.image.as_deref().ok_or_else(|| {
            Error::Usage(format!(
                "step `{label}` has no image: set `#[step(image = \"..\")]` or call `with_image`"
            ))
        })?;
        let state = self.ctx.container_state();
        let mut slot = state.slot.lock().await;
        if let Slot::Empty = &*slot {
            let live = self.create(image).await?;
            *slot = Slot::Live(live);
        }
        let live = match &mut *slot {
            Slot::Live(live) => live,
            Slot::Gone(Gone::Closed) => {
                return Err(Error::Usage(format!(
                    "step `{label}` has ended and its container is gone; keep every command inside the step"
                )));
            }
            Slot::Gone(Gone::TimedOut) => return Err(self.timeout_error()),
            Slot::Gone(Gone::Cancelled) | Slot::Empty => return Err(Error::Cancelled),
        };
        if live.image != image {
            return Err(Error::Usage(format!(
                "step `{label}` already runs its container from `{}`; a step has one container, so `with_image(\"{image}\")` must come before its first command",
                live.image
            )));
        }
        if let Some(m) = self.spec.mounts.iter().find(|m| !live.mounts.contains(m)) {
            return Err(Error::Usage(format!(
                "step `{label}`: cannot mount `{}` after its container started; declare every mount before the first command",
                m.target
            )));
        }
        let pending: Vec<&CopyDecl> = self
            .spec
            .copies
            .iter()
            .filter(|c| !live.applied.contains(&c.id))
            .collect();
        if !pending.is_empty() {
            let entries = pending.iter().map(|c| c.entry.clone()).collect();
            let tar = archive::copies_tar(entries, owner_of(self.spec.user.as_deref()));
            self.ctx.run().backend.upload(&live.id, tar).await?;
            live.applied.extend(pending.iter().map(|c| c.id));
        }
        let scratch = live.scratch.as_ref().map(|d| d.path().to_path_buf());
        Ok((live.id.clone(), scratch))
    }

    async fn create(&self, image: &str) -> Result<Live> {
        let run = self.ctx.run();
        let backend = &run.backend;
        let settings = &self.ctx.step().settings;
        let log = |line: &str| {
            tracing::info!("step `{}`: {line}", self.ctx.label());
            self.ctx.log(Stream::Stderr, line);
        };
        let image_id: ImageId = run.resolve_image(image, &log).await?;

        let mut mounts = Vec::new();
        let mut uploads = Vec::new();
        let mut scratch = None;
        for decl in &self.spec.mounts {
            let source = match &decl.kind {
                MountKind::Dir(dir) => {
                    let shown = if backend.is_local() {
                        dir_view::mounts(run, dir, &decl.target).await?
                    } else {
                        None
                    };
                    match shown {
                        Some(shown) => mounts.extend(shown),
                        None => uploads.push(CopyEntry {
                            target: decl.target.clone(),
                            source: CopySource::Dir(dir.clone()),
                        }),
                    }
                    continue;
                }
                MountKind::Cache(volume) => MountSource::Volume {
                    name: volume.clone(),
                },
                MountKind::DockerSocket => {
                    let socket = backend.socket_path().filter(|_| backend.is_local());
                    let Some(socket) = socket else {
                        return Err(Error::Usage(format!(
                            "step `{}` asks for `docker_socket`, but the daemon at {} is not a local socket",
                            self.ctx.label(),
                            backend.endpoint()
                        )));
                    };
                    let dir = tempfile::Builder::new()
                        .prefix("tanto-scratch-")
                        .tempdir()
                        .map_err(|e| {
                            Error::io("create the scratch folder of a docker_socket step", e)
                        })?;
                    let path = dir.path().display().to_string();
                    mounts.push(Mount {
                        target: path.clone(),
                        source: MountSource::Bind {
                            host: path.into(),
                            read_only: false,
                        },
                    });
                    scratch = Some(dir);
                    MountSource::Bind {
                        host: socket.into(),
                        read_only: false,
                    }
                }
            };
            mounts.push(Mount {
                target: decl.target.clone(),
                source,
            });
        }
        let mut labels = vec![
            (LABEL_HOST.to_owned(), host_name().to_owned()),
            (LABEL_PID.to_owned(), std::process::id().to_string()),
            (LABEL_RUN.to_owned(), run.run_id.clone()),
            (LABEL_STEP.to_owned(), self.ctx.label().to_owned()),
        ];
        labels.sort();
        let spec = ContainerSpec {
            image: image_id,
            labels,
            mounts,
            network: settings.network,
            memory: settings.memory,
            millicpus: settings.millicpus,
        };
        let id = backend.start(&spec).await?;
        self.ctx.container_state().started(&id, self.ctx.label());
        let live = Live {
            id,
            image: image.to_owned(),
            mounts: self.spec.mounts.clone(),
            applied: HashSet::new(),
            scratch,
        };
        if !uploads.is_empty() {
            // Remote read-only inputs: root-owned copies, made once when the container starts.
            let tar = archive::copies_tar(uploads, (0, 0));
            if let Err(e) = backend.upload(&live.id, tar).await {
                if backend.remove(&live.id).await.is_ok() {
                    self.ctx.container_state().stopped(&live.id);
                }
                return Err(e);
            }
        }
        Ok(live)
    }

    /// Downloads `path` from the container and unpacks it into a staging folder of the store;
    /// returns the folder (removed when dropped) and the unpacked entry.
    async fn capture(&self, path: &str) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        let (id, _) = self.live().await?;
        let staging = self.ctx.run().store.temp_dir()?;
        let tar_path = staging.path().join("capture.tar");
        let mut out = tokio::fs::File::create(&tar_path)
            .await
            .map_err(|e| Error::io(format!("create {}", tar_path.display()), e))?;
        let mut stream = self.ctx.run().backend.download(&id, path);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match e {
                Error::MissingPath { path, .. } => Error::MissingPath {
                    step: self.ctx.label().to_owned(),
                    path,
                },
                other => other,
            })?;
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
                .await
                .map_err(|e| Error::io(format!("write {}", tar_path.display()), e))?;
        }
        // tokio finishes a write in the background; without this flush the reader below
        // could see the archive short, or empty.
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|e| Error::io(format!("write {}", tar_path.display()), e))?;
        drop(out);
        let dest = staging.path().join("root");
        let top = blocking(move || archive::unpack_single(&tar_path, &dest)).await?;
        Ok((staging, top))
    }
}

impl Spec {
    fn check_target(&mut self, what: &str, target: &str) {
        let bad =
            !target.starts_with('/') || target == "/" || target.split('/').any(|part| part == "..");
        if bad {
            self.problems.push(format!(
                "{what} target `{target}` must be an absolute path below `/` without `..`"
            ));
        }
    }

    fn mount(&mut self, target: &str, kind: MountKind) {
        self.check_target("mount", target);
        self.mounts.retain(|m| m.target != target);
        self.mounts.push(MountDecl {
            target: target.to_owned(),
            kind,
        });
    }

    fn copy(&mut self, target: String, source: CopySource) {
        self.check_target("copy", &target);
        self.copies.push(CopyDecl {
            id: NEXT_COPY.fetch_add(1, Ordering::Relaxed),
            entry: CopyEntry { target, source },
        });
    }
}

/// Owner of copied files: the numeric user the commands run as, root otherwise.
fn owner_of(user: Option<&str>) -> (u64, u64) {
    let Some(user) = user else { return (0, 0) };
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    match (uid.parse(), gid.parse()) {
        (Ok(uid), Ok(gid)) => (uid, gid),
        _ => (0, 0),
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Other(format!("a file operation panicked: {e}")))?
}

/// Splits a command's output into lines for the step's log, and keeps all of it.
struct LogLines<'a> {
    ctx: &'a Ctx,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Where the unfinished line of each stream starts.
    pending: [usize; 2],
}

impl<'a> LogLines<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Self {
            ctx,
            stdout: Vec::new(),
            stderr: Vec::new(),
            pending: [0, 0],
        }
    }

    fn push(&mut self, stream: Stream, bytes: &[u8]) {
        let (all, start) = match stream {
            Stream::Stdout => (&mut self.stdout, &mut self.pending[0]),
            Stream::Stderr => (&mut self.stderr, &mut self.pending[1]),
        };
        all.extend_from_slice(bytes);
        while let Some(nl) = all[*start..].iter().position(|&b| b == b'\n') {
            let line = &all[*start..*start + nl];
            self.ctx.log(stream, clean_line(line));
            *start += nl + 1;
        }
    }

    fn finish(self, exit_code: i64) -> ExecOutput {
        for (stream, all, start) in [
            (Stream::Stdout, &self.stdout, self.pending[0]),
            (Stream::Stderr, &self.stderr, self.pending[1]),
        ] {
            if start < all.len() {
                self.ctx.log(stream, clean_line(&all[start..]));
            }
        }
        ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
        }
    }
}

fn clean_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `argv` as a shell would read it back: plain words bare, others in single quotes.
fn shell_words<S: AsRef<str>>(argv: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty() && a.chars().all(plain) {
                a.to_owned()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_back_like_a_shell() {
        assert_eq!(
            shell_words(&["cargo", "build", "--profile", "release"]),
            "cargo build --profile release"
        );
        assert_eq!(
            shell_words(&["sh", "-c", "echo 'hi' there"]),
            r#"sh -c 'echo '\''hi'\'' there'"#
        );
        assert_eq!(shell_words(&[""]), "''");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn numeric_users_own_their_copies() {
        assert_eq!(owner_of(Some("1000")), (1000, 1000));
        assert_eq!(owner_of(Some("1000:50")), (1000, 50));
        assert_eq!(owner_of(Some("nobody")), (0, 0));
        assert_eq!(owner_of(None), (0, 0));
    }

    #[test]
    fn relative_targets_are_reported() {
        let mut spec = Spec::default();
        spec.mount("src", MountKind::Cache("v".into()));
        spec.copy("/a/../b".into(), CopySource::Bytes(Arc::from(&b""[..])));
        spec.copy("/ok".into(), CopySource::Bytes(Arc::from(&b""[..])));
        assert_eq!(spec.problems.len(), 2, "{:?}", spec.problems);
    }
}
