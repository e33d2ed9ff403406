//! The containers that are up: a run's registry of them, and the one container of each step,
//! created by its first command.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::collections::HashSet;

use crate::backend::{Backend, ContainerSpec, ExecSpec, LABEL_PARENT_STEP, StartedExec, archive};
use crate::error::{Error, Result};
use crate::step::container::{Container, CopyDecl, CopyFrom, MountDecl, owner_of};
use crate::step::mount::copy_entries;
use crate::step::service::{Service, ServiceLease};

/// The containers of a run that are up right now, by id, with the label of their step.
///
/// Every container is added when it is created and forgotten when it is removed, so the run
/// can remove whatever is left after a panic or a dropped step future. Cheap to clone; clones
/// share the same set.
#[derive(Debug, Clone, Default)]
pub struct ContainerRegistry {
    live: Arc<Mutex<BTreeMap<String, String>>>,
}

impl ContainerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&self, id: &str, step: &str) {
        self.lock().insert(id.to_owned(), step.to_owned());
    }

    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The ids of the containers that are up, with their step's label.
    pub fn containers(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .map(|(id, step)| (id.clone(), step.clone()))
            .collect()
    }

    /// How many containers are up.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no container is up.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes every registered container from `backend`, all at once, and returns how many
    /// there were. Tries them all, then reports the first failure.
    pub async fn remove_all(&self, backend: &dyn Backend) -> Result<usize> {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        let removals = ids.iter().map(|id| async move {
            let removed = backend.remove(id).await;
            if removed.is_ok() {
                self.forget(id);
            }
            removed
        });
        let results = futures_util::future::join_all(removals).await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(ids.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // The map stays consistent even if a holder panicked: every update is one call.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The container of one step: created lazily by the first command, removed by
/// [`Ctx::close`](crate::Ctx::close), or — when the step's future is dropped or panics — by
/// this value's `Drop`. With `docker_socket`, the containers that runs started inside the
/// step labelled with its identity go with it.
pub(crate) struct StepContainer {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) registry: ContainerRegistry,
    pub(crate) slot: tokio::sync::Mutex<Slot>,
    /// The live container's id, and whether it has the daemon's socket; readable without
    /// `.await` in `Drop`.
    current: Mutex<Option<(String, bool)>>,
    /// The last command run in it, as run and as shown: what a shell into a failed step
    /// starts from.
    pub(crate) last: Mutex<Option<(ExecSpec, String)>>,
    /// The command that the step's deadline or cancellation cut short, as shown, and the
    /// last lines it printed: what a timeout's error names.
    pub(crate) cut: Mutex<Option<(String, String)>>,
    /// The step's holds on the services it binds, given back when its container goes.
    pub(crate) services: Mutex<Vec<ServiceLease>>,
    /// Whether the last run of the step's code ran exactly one command and needed nothing
    /// else of a running container: its first command may run as the container's own process.
    pub(crate) hint: AtomicBool,
    /// How many commands ran in the container, secret files' writes included.
    pub(crate) commands: AtomicU32,
    /// Whether something needed the container running apart from its commands (a snapshot).
    pub(crate) needs_live: AtomicBool,
    /// The image that a container whose single command had run was committed to, so that a
    /// later command could run in a container made from it; removed after that container.
    pub(crate) temp_image: Mutex<Option<String>>,
}

impl StepContainer {
    pub(crate) fn new(backend: Arc<dyn Backend>, registry: ContainerRegistry) -> Self {
        Self {
            backend,
            registry,
            slot: tokio::sync::Mutex::new(Slot::Empty),
            current: Mutex::new(None),
            last: Mutex::new(None),
            cut: Mutex::new(None),
            services: Mutex::new(Vec::new()),
            hint: AtomicBool::new(false),
            commands: AtomicU32::new(0),
            needs_live: AtomicBool::new(false),
            temp_image: Mutex::new(None),
        }
    }

    /// Whether the step ran exactly one command and needed nothing else of a running
    /// container: what the next run of its code may run as the container's own process.
    pub(crate) fn ran_one_command(&self) -> bool {
        self.commands.load(Ordering::Relaxed) == 1 && !self.needs_live.load(Ordering::Relaxed)
    }

    /// Records that container `id` of step `step` is up; `nests` when it has the daemon's
    /// socket, so runs started inside it may leave containers for it to remove.
    pub(crate) fn started(&self, id: &str, step: &str, nests: bool) {
        self.registry.add(id, step);
        *self.current() = Some((id.to_owned(), nests));
    }

    /// The id of the container if it is up.
    pub(crate) fn live_id(&self) -> Option<String> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(id, _)| id.clone())
    }

    /// Records that container `id` is gone.
    pub(crate) fn stopped(&self, id: &str) {
        self.registry.forget(id);
        let mut current = self.current();
        if current.as_ref().is_some_and(|(c, _)| c == id) {
            *current = None;
        }
    }

    /// Removes the step's container, if any, and what runs started inside it left, and leaves
    /// `next` in its place. Also removes a container whose creation was interrupted before
    /// the step could use it.
    pub(crate) async fn remove(&self, next: Slot) -> Result<()> {
        let mut slot = self.slot.lock().await;
        *slot = next;
        let Some((id, nests)) = self.current().take() else {
            self.remove_temp_image().await;
            self.release_services().await;
            return Ok(());
        };
        // The container first: what runs inside it cannot start more once it is gone.
        let removed = self.backend.end(&id).await;
        let swept = if nests {
            remove_nested(self.backend.as_ref(), &id).await
        } else {
            Ok(())
        };
        match &removed {
            Ok(()) => {
                self.registry.forget(&id);
                self.remove_temp_image().await;
            }
            // Keep it known, so the run's final cleanup tries again.
            Err(_) => *self.current() = Some((id, nests)),
        }
        // After the container: a service outlives its consumers' last command.
        self.release_services().await;
        removed.and(swept)
    }

    /// Removes the image that a fallback from a single command committed, if any.
    pub(crate) async fn remove_temp_image(&self) {
        let image = self
            .temp_image
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(image) = image
            && let Err(e) = self.backend.remove_image(&image).await
        {
            tracing::warn!("cannot remove the temporary image {image}: {e}");
        }
    }

    /// Gives back the step's holds on its services.
    async fn release_services(&self) {
        let leases =
            std::mem::take(&mut *self.services.lock().unwrap_or_else(PoisonError::into_inner));
        for lease in leases {
            lease.release().await;
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<(String, bool)>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes the containers that runs started inside step container `id` labelled with it.
async fn remove_nested(backend: &dyn Backend, id: &str) -> Result<()> {
    let n = backend
        .remove_labelled(&format!("{LABEL_PARENT_STEP}={id}"))
        .await?;
    if n > 0 {
        tracing::info!("removed {n} container(s) that a run inside container {id} left");
    }
    Ok(())
}

impl Drop for StepContainer {
    fn drop(&mut self) {
        let current = self
            .current
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let temp_image = self
            .temp_image
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some((id, nests)) = current else {
            return;
        };
        // Without a runtime the id stays in the registry for the run's final cleanup, the
        // container's keep-alive ends when this process does, and the labels let the next run
        // reap it.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let backend = Arc::clone(&self.backend);
            let registry = self.registry.clone();
            handle.spawn(async move {
                match backend.end(&id).await {
                    Ok(()) => registry.forget(&id),
                    // The run's end says so, once, with what to do.
                    Err(e @ Error::DaemonLost { .. }) => {
                        tracing::debug!("cannot remove container {id}: {e}");
                    }
                    Err(e) => tracing::warn!("cannot remove container {id}: {e}"),
                }
                if let Some(image) = temp_image
                    && let Err(e) = backend.remove_image(&image).await
                {
                    tracing::warn!("cannot remove the temporary image {image}: {e}");
                }
                if nests && let Err(e) = remove_nested(backend.as_ref(), &id).await {
                    tracing::warn!("cannot remove what ran inside container {id} left: {e}");
                }
            });
        }
    }
}

/// What a step's container is, seen from its `Ctx`.
pub(crate) enum Slot {
    /// Not created yet.
    Empty,
    /// Up.
    Live(Box<Live>),
    /// Removed; the step cannot use a container any more.
    Gone(Gone),
}

/// A step's container that is up.
pub(crate) struct Live {
    pub(crate) id: String,
    /// The image reference it runs.
    pub(super) image: String,
    /// The mounts it was created with.
    pub(super) mounts: Vec<MountDecl>,
    /// The copies already in it.
    pub(super) applied: HashSet<u64>,
    /// Those copies, where they went and what they were.
    pub(super) copies: Vec<(String, CopyFrom)>,
    /// The secret files already in it.
    pub(super) secrets: HashSet<String>,
    /// The services it was created with, by the names it reaches them by.
    pub(super) services: Vec<(String, Service)>,
    /// With `docker_socket`: a host folder mounted at the same path and made the container's
    /// `TMPDIR`, so bind mounts that the container asks the daemon for resolve on the host.
    /// Removed with the container.
    pub(super) scratch: Option<tempfile::TempDir>,
    /// What it was created with, for the keep-alive container that replaces it when a
    /// container that ran its single command as its own process must run another.
    pub(super) created: ContainerSpec,
    /// Whether its own process is a keep-alive or a step's single command.
    pub(super) mode: Mode,
}

/// What a step's container runs as its own process (PID 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The keep-alive: it runs until the step ends, each command an exec.
    KeepAlive,
    /// The step's single command, not started yet.
    Created,
    /// The step's single command, started: the container exits with it.
    Ran,
}

/// What a use of the step's container needs of it.
#[derive(Clone, Copy)]
pub(super) enum Need<'a> {
    /// Its files: one whose command has exited will do.
    Files,
    /// A running container, for an exec.
    Running,
    /// A command run: as the container's own process when the container is still to be made
    /// and the step may (see [`Container::may_run_single`]), else as an exec.
    Command(&'a ExecSpec),
}

/// The step's container, ready for a use.
pub(super) struct Opened {
    pub(super) id: String,
    /// The shared scratch folder, with `docker_socket`.
    pub(super) scratch: Option<std::path::PathBuf>,
    /// The command of [`Need::Command`], when it started as the container's own process.
    pub(super) started: Option<StartedExec>,
}

/// Why a step's container was removed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gone {
    /// The step ended.
    Closed,
    /// The step ran past its timeout.
    TimedOut,
    /// The run was cancelled.
    Cancelled,
}

impl Container {
    /// The step's container, running, created on first use, with this builder's copies in
    /// it, and its shared scratch folder if it has one.
    pub(super) async fn live(&self) -> Result<(String, Option<std::path::PathBuf>)> {
        // Not a command's: the next run must not make its container for one.
        (self.ctx.container_state().needs_live).store(true, Ordering::Relaxed);
        let opened = self.open(Need::Running).await?;
        Ok((opened.id, opened.scratch))
    }

    /// The step's container, created on first use, with this builder's copies in it, ready
    /// for `need`.
    pub(super) async fn open(&self, need: Need<'_>) -> Result<Opened> {
        let label = self.ctx.label();
        let image = self.checked_image()?;
        let state = self.ctx.container_state();
        let mut slot = state.slot.lock().await;
        let mut fresh_single = false;
        if let Slot::Empty = &*slot {
            let single = match need {
                Need::Command(spec) if self.may_run_single(spec) => Some(spec),
                _ => None,
            };
            fresh_single = single.is_some();
            let live = self.create(image, single).await?;
            *slot = Slot::Live(Box::new(live));
        }
        let live = match &mut *slot {
            Slot::Live(live) => live,
            Slot::Gone(Gone::Closed) => {
                return Err(Error::Usage(format!(
                    "step `{label}` has ended and its container is gone; keep every command inside the step"
                )));
            }
            Slot::Gone(Gone::TimedOut) => return Err(self.ctx.timeout_error()),
            Slot::Gone(Gone::Cancelled) | Slot::Empty => return Err(Error::Cancelled),
        };
        if live.image != image {
            return Err(Error::Usage(format!(
                "step `{label}` already runs its container from `{}`; a step has one container, so `with_image(\"{image}\")` must come before its first command",
                live.image
            )));
        }
        if let Some((name, _)) =
            (self.spec.services.iter()).find(|(n, _)| !live.services.iter().any(|(m, _)| m == n))
        {
            return Err(Error::Usage(format!(
                "step `{label}`: cannot bind service `{name}` after its container started; bind every service before the first command"
            )));
        }
        if let Some(m) = self.spec.mounts.iter().find(|m| !live.mounts.contains(m)) {
            return Err(Error::Usage(format!(
                "step `{label}`: cannot mount `{}` after its container started; declare every mount before the first command",
                m.target
            )));
        }
        let pending_secrets =
            (self.spec.secret_files.iter()).any(|(p, _)| !live.secrets.contains(p));
        // Made for a single command: anything more needs a running container.
        let more = !matches!(need, Need::Files) || pending_secrets;
        if !fresh_single && live.mode != Mode::KeepAlive && more {
            self.keep_alive(live).await?;
        }
        let pending: Vec<&CopyDecl> = self
            .spec
            .copies
            .iter()
            .filter(|c| !live.applied.contains(&c.id))
            .collect();
        if !pending.is_empty() {
            let copies = pending
                .iter()
                .map(|c| (c.target.clone(), c.source.clone()))
                .collect();
            let entries = copy_entries(self.ctx.run(), copies).await?;
            let tar = archive::copies_tar(entries, owner_of(self.spec.user.as_deref()));
            self.ctx.run().backend.upload(&live.id, tar).await?;
            live.applied.extend(pending.iter().map(|c| c.id));
            live.copies
                .extend(pending.iter().map(|c| (c.target.clone(), c.source.clone())));
        }
        for (path, secret) in &self.spec.secret_files {
            if live.secrets.contains(path) {
                continue;
            }
            self.write_secret(&live.id, path, secret).await?;
            live.secrets.insert(path.clone());
        }
        let scratch = live.scratch.as_ref().map(|d| d.path().to_path_buf());
        let started = if fresh_single {
            // Its copies are in: the command starts, attached from its first byte.
            let started = self.ctx.run().backend.start_command(&live.id).await?;
            live.mode = Mode::Ran;
            Some(started)
        } else {
            None
        };
        Ok(Opened {
            id: live.id.clone(),
            scratch,
            started,
        })
    }

    /// The builder's image reference, once its `with_*` calls are known to be sound.
    pub(super) fn checked_image(&self) -> Result<&str> {
        let label = self.ctx.label();
        if let Some(problem) = self.spec.problems.first() {
            return Err(Error::Usage(format!("step `{label}`: {problem}")));
        }
        self.spec.image.as_deref().ok_or_else(|| {
            Error::Usage(format!(
                "step `{label}` has no image: set `#[step(image = \"..\")]` or call `with_image`"
            ))
        })
    }
}
