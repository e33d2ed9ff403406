//! The containers that are up: a run's registry of them, and the one container of each step,
//! created by its first command.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use std::collections::HashSet;

use futures_util::StreamExt as _;

use crate::artifact::Secret;
use crate::backend::{Backend, ExecSpec, LABEL_PARENT_STEP, archive};
use crate::error::{Error, Result};
use crate::step::container::{Container, CopyDecl, CopyFrom, MountDecl, owner_of};
use crate::step::mount::copy_entries;
use crate::step::service::ServiceLease;

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
    /// The step's holds on the services it binds, given back when its container goes.
    pub(crate) services: Mutex<Vec<ServiceLease>>,
}

impl StepContainer {
    pub(crate) fn new(backend: Arc<dyn Backend>, registry: ContainerRegistry) -> Self {
        Self {
            backend,
            registry,
            slot: tokio::sync::Mutex::new(Slot::Empty),
            current: Mutex::new(None),
            last: Mutex::new(None),
            services: Mutex::new(Vec::new()),
        }
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
            Ok(()) => self.registry.forget(&id),
            // Keep it known, so the run's final cleanup tries again.
            Err(_) => *self.current() = Some((id, nests)),
        }
        // After the container: a service outlives its consumers' last command.
        self.release_services().await;
        removed.and(swept)
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
    /// The names of the services it was created with.
    pub(super) services: Vec<String>,
    /// With `docker_socket`: a host folder mounted at the same path and made the container's
    /// `TMPDIR`, so bind mounts that the container asks the daemon for resolve on the host.
    /// Removed with the container.
    pub(super) scratch: Option<tempfile::TempDir>,
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
    /// The step's container, created on first use, with this builder's copies in it, and its
    /// shared scratch folder if it has one.
    pub(super) async fn live(&self) -> Result<(String, Option<std::path::PathBuf>)> {
        let label = self.ctx.label();
        let image = self.checked_image()?;
        let state = self.ctx.container_state();
        let mut slot = state.slot.lock().await;
        if let Slot::Empty = &*slot {
            let live = self.create(image).await?;
            *slot = Slot::Live(Box::new(live));
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
        if let Some((name, _)) =
            (self.spec.services.iter()).find(|(n, _)| !live.services.contains(n))
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
        Ok((live.id.clone(), scratch))
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

    /// Writes `secret` to `path` (mode 0400) in container `id` and gives it to the commands'
    /// user: the value travels in the command's environment, never in its arguments or the
    /// container's configuration.
    async fn write_secret(&self, id: &str, path: &str, secret: &Secret) -> Result<()> {
        let owner = self.spec.user.clone().unwrap_or_default();
        let spec = ExecSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                r#"umask 0377 && printf '%s' "$TANTO_SECRET" > "$1" && { [ -z "$2" ] || chown "$2" "$1"; }"#.into(),
                "tanto-secret".into(),
                path.to_owned(),
                owner,
            ],
            env: Vec::new(),
            workdir: None,
            // Root writes it into the in-memory folder, then hands it to the commands' user.
            user: Some("0".to_owned()),
            secret_env: vec![("TANTO_SECRET".to_owned(), secret.clone())],
        };
        let backend = &self.ctx.run().backend;
        let mut started = backend.exec(id, &spec).await?;
        let mut said = Vec::new();
        while let Some(chunk) = started.output.next().await {
            said.extend_from_slice(&chunk?.1);
        }
        match backend.exec_exit_code(&started.id).await? {
            0 => Ok(()),
            code => Err(Error::Usage(format!(
                "step `{}`: cannot write the secret file `{path}` (exit code {code}: {}); the image needs `sh` and `chown`, and the commands' user must exist in it",
                self.ctx.label(),
                String::from_utf8_lossy(&said).trim()
            ))),
        }
    }
}
