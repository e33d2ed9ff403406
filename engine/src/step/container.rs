//! The container builder that step bodies use: mounts, copies, env, and the commands run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::artifact::{Dir, File, Secret};
use crate::cache::blocking;
use crate::error::{Error, Result};
use crate::step::ctx::Ctx;
use crate::step::exec::{ExecOutput, shell_words};
use crate::step::image::ImageDecl;
use crate::step::mount::SOCKET_TARGET;
use crate::step::service::Service;

/// Where Debian-like systems keep the CA bundle, on the host and in the container.
pub(super) const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

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
/// When the last run of the step's code ran exactly one command, the first command runs as
/// the container's own process (PID 1) instead of an exec in a keep-alive container, which
/// saves an exec and the keep-alive's end. A step that then runs a second command goes on in
/// a keep-alive container made from the first one's files: a process the first command left
/// running in the background is gone, and the first command's variables stay set for later
/// commands that do not set them. Secrets, `docker_socket` and `-i` never run this way.
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
    pub(super) ctx: Ctx,
    pub(super) spec: Arc<Spec>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("step", &self.ctx.label())
            .field("spec", &self.spec)
            .finish()
    }
}

/// What a builder declares: the container's image and mounts, and each command's copies and
/// settings.
#[derive(Debug, Clone, Default)]
pub(super) struct Spec {
    pub(super) image: Option<String>,
    pub(super) mounts: Vec<MountDecl>,
    pub(super) copies: Vec<CopyDecl>,
    pub(super) env: Vec<(String, String)>,
    pub(super) workdir: Option<String>,
    pub(super) user: Option<String>,
    pub(super) allowed: Option<Vec<i64>>,
    /// Variables whose values are secrets, for each command.
    pub(super) secret_env: Vec<(String, Secret)>,
    /// Secret files, written into their in-memory folders when the container starts.
    pub(super) secret_files: Vec<(String, Secret)>,
    /// The most a capture may take, when it is not the step's `max_output`.
    pub(super) max_output: Option<u64>,
    /// Mistakes in `with_*` calls, reported by the first command.
    pub(super) problems: Vec<String>,
    /// Services the container reaches, by the host name it reaches each by.
    pub(super) services: Vec<(String, Service)>,
    /// What [`Container::snapshot`] gives the image beyond env, workdir and user.
    pub(super) image_config: ImageDecl,
}

/// A mount as declared; what it becomes depends on the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MountDecl {
    pub(super) target: String,
    pub(super) kind: MountKind,
}

/// What a declared mount holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MountKind {
    /// A read-only folder: bind mounted when the daemon is local, uploaded once otherwise.
    Dir(Dir),
    /// A named volume.
    Cache(String),
    /// The daemon's own API socket.
    DockerSocket,
    /// An in-memory folder for secret files.
    Secrets,
}

/// One copy into the container, as declared: `source` at absolute path `target`.
#[derive(Debug, Clone)]
pub(super) struct CopyDecl {
    pub(super) id: u64,
    pub(super) target: String,
    pub(super) source: CopyFrom,
}

/// What a copy puts into the container.
#[derive(Debug, Clone)]
pub(super) enum CopyFrom {
    /// A folder: the entries its digest covers.
    Dir(Dir),
    /// A file artifact: its content, and the executable bits if it has them.
    File(File),
    /// This machine's CA bundle ([`Container::with_host_ca_bundle`]), as it is at the copy.
    HostCaBundle,
    /// Bytes given by the step.
    Bytes(Arc<[u8]>),
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

    pub(super) fn with(&self, change: impl FnOnce(&mut Spec)) -> Self {
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
    /// `ViewMode::Masks` (`TANTO_DIR_VIEW=masks`), each left-out
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
        self.with(|s| s.copy(path, CopyFrom::Dir(dir.clone())))
    }

    /// Puts a private, writable copy of `file` at `path`, executable if `file` is.
    pub fn with_file(&self, path: impl Into<String>, file: &File) -> Self {
        let path = path.into();
        self.with(|s| s.copy(path, CopyFrom::File(file.clone())))
    }

    /// Writes `contents` to a new file at `path` (mode 644).
    pub fn with_new_file(&self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        let path = path.into();
        let bytes: Arc<[u8]> = contents.into().into();
        self.with(|s| s.copy(path, CopyFrom::Bytes(bytes)))
    }

    /// Copies this machine's CA bundle (`/etc/ssl/certs/ca-certificates.crt`) to the same
    /// path in the container and points `SSL_CERT_FILE` and `CARGO_HTTP_CAINFO` at it, so
    /// HTTPS works behind a proxy that re-signs traffic with its own CA. The images that
    /// `cargo xtask images` makes already hold the bundle.
    pub fn with_host_ca_bundle(&self) -> Self {
        let bundle = std::path::Path::new(HOST_CA_BUNDLE);
        self.with(|s| {
            if bundle.is_file() {
                s.copy(HOST_CA_BUNDLE.to_owned(), CopyFrom::HostCaBundle);
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

    /// Binds `service`: a container of this binding's own is started before the container's
    /// first command and is ready by then (a [`Service::shared`] one that is up in this run
    /// is joined instead); the commands reach it as host `name`. It goes when the step ends
    /// (a shared one, when the last step that binds it ends). See [`Service`].
    pub fn with_service(&self, name: impl Into<String>, service: &Service) -> Self {
        let (name, service) = (name.into(), service.clone());
        self.with(|s| {
            if s.services.iter().any(|(n, _)| *n == name) {
                s.problems.push(format!(
                    "service `{name}` is bound twice; give each service its own name"
                ));
            } else if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                s.problems.push(format!(
                    "service name `{name}` is not a host name: use letters, digits, `-` and `.`"
                ));
            } else if name.trim_end_matches('.').eq_ignore_ascii_case("localhost") {
                s.problems.push(format!(
                    "service name `{name}` names the step's own container, so the service can never be reached by it: give it another name, such as `db`"
                ));
            } else if service.image().trim().is_empty() {
                s.problems.push(format!(
                    "service `{name}` has no image: give `Service::new` an image reference, such as `tanto-test/postgres:15`"
                ));
            } else {
                s.services.push((name, service));
            }
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

    /// Lets a capture ([`dir`](Self::dir), [`file`](Self::file)) of this builder take up to
    /// `bytes` instead of the step's limit (2 GiB by default): both the archive streamed from
    /// the container and the files it holds, each hard link counted in full. A capture past
    /// it fails with [`Error::OutputTooLarge`] as soon as it gets there.
    pub fn with_max_output(&self, bytes: u64) -> Self {
        self.with(|s| s.max_output = Some(bytes))
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

    /// Captures folder `path` of the container into the store. `path` is read without its `.`
    /// parts and repeated slashes (`/out/.` is `/out`); a `..` in it, or the root `/`, is
    /// refused.
    pub async fn dir(&self, path: impl AsRef<str>) -> Result<Dir> {
        let path = path.as_ref().to_owned();
        self.guarded(async {
            let (staging, top) = self.capture(&path).await?;
            let store = Arc::clone(&self.ctx.run().store);
            let label = self.ctx.label().to_owned();
            blocking(move || {
                let _staging = staging;
                if !std::fs::symlink_metadata(&top).is_ok_and(|m| m.is_dir()) {
                    let why = not_a(&top, "folder", "is not a folder; use `file` for a file");
                    return Err(Error::Usage(format!(
                        "step `{label}`: `{path}` in its container {why}"
                    )));
                }
                store.ingest_dir(&top).map_err(|e| e.relocated(&top, &path))
            })
            .await
        })
        .await
    }

    /// Captures file `path` of the container into the store, keeping its executable bit and
    /// its name (the last component of `path`, which `--out` writes it as). `path` is read as
    /// [`dir`](Self::dir) reads it.
    pub async fn file(&self, path: impl AsRef<str>) -> Result<File> {
        let path = path.as_ref().to_owned();
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.guarded(async {
            let (staging, top) = self.capture(&path).await?;
            let store = Arc::clone(&self.ctx.run().store);
            let label = self.ctx.label().to_owned();
            blocking(move || {
                let _staging = staging;
                let meta = std::fs::symlink_metadata(&top).ok();
                let Some(meta) = meta.clone().filter(|m| m.is_file()) else {
                    let why = not_a(
                        &top,
                        "file",
                        "is not a regular file; use `dir` for a folder",
                    );
                    return Err(Error::Usage(format!(
                        "step `{label}`: `{path}` in its container {why}"
                    )));
                };
                use std::os::unix::fs::PermissionsExt;
                let executable = meta.permissions().mode() & 0o111 != 0;
                let file = store
                    .ingest_file(&top, executable)
                    .map_err(|e| e.relocated(&top, &path))?;
                Ok(match name {
                    Some(name) => file.with_name(name),
                    None => file,
                })
            })
            .await
        })
        .await
    }
}

/// Why `top`, captured as a `what` (`file`, `folder`), is not one: a link, and where it
/// points, or else `otherwise`.
fn not_a(top: &std::path::Path, what: &str, otherwise: &str) -> String {
    match std::fs::read_link(top) {
        Ok(to) => format!(
            "is a symbolic link; capture the {what} it points to, `{}`",
            to.display()
        ),
        Err(_) => otherwise.to_owned(),
    }
}

impl Spec {
    pub(super) fn check_target(&mut self, what: &str, target: &str) {
        let bad =
            !target.starts_with('/') || target == "/" || target.split('/').any(|part| part == "..");
        if bad {
            self.problems.push(format!(
                "{what} target `{target}` must be an absolute path below `/` without `..`"
            ));
        }
    }

    pub(super) fn mount(&mut self, target: &str, kind: MountKind) {
        self.check_target("mount", target);
        self.mounts.retain(|m| m.target != target);
        self.mounts.push(MountDecl {
            target: target.to_owned(),
            kind,
        });
    }

    pub(super) fn copy(&mut self, target: String, source: CopyFrom) {
        self.check_target("copy", &target);
        self.copies.push(CopyDecl {
            id: NEXT_COPY.fetch_add(1, Ordering::Relaxed),
            target,
            source,
        });
    }
}

/// Owner of copied files: the numeric user the commands run as, root otherwise.
pub(super) fn owner_of(user: Option<&str>) -> (u64, u64) {
    let Some(user) = user else { return (0, 0) };
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    match (uid.parse(), gid.parse()) {
        (Ok(uid), Ok(gid)) => (uid, gid),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        spec.copy("/a/../b".into(), CopyFrom::Bytes(Arc::from(&b""[..])));
        spec.copy("/ok".into(), CopyFrom::Bytes(Arc::from(&b""[..])));
        assert_eq!(spec.problems.len(), 2, "{:?}", spec.problems);
    }
}
