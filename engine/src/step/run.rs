//! What every step of one run shares: the backend, the store, the event sink, the
//! cancellation token, the containers that are up, resolved images and host folder views.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, ImageId, LABEL_PARENT_RUN, LABEL_RUN, Progress};
use crate::cache::{Remote, Store};
use crate::error::Result;
use crate::input::{HostViews, ViewMode};
use crate::report::EventSink;
use crate::step::live::ContainerRegistry;
use crate::step::service::ServicePool;
use crate::step::shell::Interactive;

/// What every step of one run shares.
pub struct RunContext {
    /// The run's id, put on every container's `tanto.run` label.
    pub run_id: String,
    /// Where containers run.
    pub backend: Arc<dyn Backend>,
    /// The content-addressed store that step outputs go into.
    pub store: Arc<Store>,
    /// The shared cache behind the store, when the run has one (`--remote-cache`).
    pub remote: Option<Arc<Remote>>,
    /// Where events go.
    pub events: EventSink,
    /// Cancelled on Ctrl-C, SIGTERM, or fail-fast.
    pub cancel: CancellationToken,
    /// Cancelled on Ctrl-C, SIGTERM or SIGHUP alone, never by fail-fast: it closes a `-i`
    /// shell that is open (whose failure already cancelled the run under fail-fast), and the
    /// run then exits 130.
    pub interrupted: CancellationToken,
    /// The containers of the run that are up.
    pub containers: ContainerRegistry,
    /// Image references resolved so far: a run uses one id per reference throughout, the one
    /// its cache keys recorded.
    images: tokio::sync::Mutex<HashMap<String, ImageId>>,
    /// Image references that run as another image: `(from, to)`, in the order set.
    aliases: Vec<(String, String)>,
    /// The views of the run's host folders: what each leaves out, and its linked view.
    pub views: Arc<HostViews>,
    /// With `-i`: how a failed step's container is opened for a person.
    pub interactive: Option<Interactive>,
    /// The services that are up, and the run's network, made when a step first binds one.
    pub(crate) services: ServicePool,
    /// The scratch folders of the run's `docker_socket` steps (each removed with its step),
    /// for [`Abandon::now`].
    scratch_dirs: ScratchDirs,
    /// The removals of ended steps' containers still under way.
    closings: std::sync::Mutex<tokio::task::JoinSet<()>>,
    /// The results being shared with the remote cache, off the steps' own time.
    sharings: std::sync::Mutex<tokio::task::JoinSet<()>>,
    /// Whether the run has asked the daemon for a container (see [`creating`](Self::creating)).
    created: AtomicBool,
    /// How the run's ended steps ran, by the digest of their code: whether each ran exactly
    /// one command (see [`single_by_code`](Self::single_by_code)).
    single_by_code: std::sync::Mutex<HashMap<String, bool>>,
}

type ScratchDirs = Arc<std::sync::Mutex<Vec<std::path::PathBuf>>>;

fn lock(dirs: &ScratchDirs) -> std::sync::MutexGuard<'_, Vec<std::path::PathBuf>> {
    // One push or one take at a time: the list stays whole even after a panic.
    dirs.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Undoes at once what a run can undo without the daemon: the linked views of its host
/// folders and the scratch folders of its `docker_socket` steps. Its containers end with this
/// process (their keep-alive), and the next run removes what is left.
#[derive(Debug, Clone)]
pub struct Abandon {
    views: Arc<HostViews>,
    scratch: ScratchDirs,
}

impl Abandon {
    /// Removes the run's linked views and scratch folders.
    pub fn now(&self) {
        self.views.remove_all();
        let scratch = std::mem::take(&mut *lock(&self.scratch));
        for dir in scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl RunContext {
    /// The context of run `run_id`, with a fresh cancellation token and no container up.
    pub fn new(
        run_id: impl Into<String>,
        backend: Arc<dyn Backend>,
        store: Arc<Store>,
        events: EventSink,
    ) -> Self {
        let store_for_views = Arc::clone(&store);
        Self {
            run_id: run_id.into(),
            backend,
            store,
            remote: None,
            events,
            cancel: CancellationToken::new(),
            interrupted: CancellationToken::new(),
            containers: ContainerRegistry::new(),
            images: tokio::sync::Mutex::new(HashMap::new()),
            aliases: Vec::new(),
            views: Arc::new(HostViews::new(store_for_views, ViewMode::default())),
            interactive: None,
            services: ServicePool::default(),
            scratch_dirs: ScratchDirs::default(),
            closings: std::sync::Mutex::default(),
            sharings: std::sync::Mutex::default(),
            created: AtomicBool::new(false),
            single_by_code: std::sync::Mutex::default(),
        }
    }

    /// Whether the last step of this run with code digest `code` to end ran exactly one
    /// command, if one has ended: the hint for another step of the same code (the instances
    /// of one step fn in a fan-out or a matrix) whose own label has no record for that code.
    pub(crate) fn single_by_code(&self, code: &str) -> Option<bool> {
        let known = self
            .single_by_code
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.get(code).copied()
    }

    /// Records how a step with code digest `code` ran (see
    /// [`single_by_code`](Self::single_by_code)).
    pub(crate) fn note_single(&self, code: &str, single: bool) {
        self.single_by_code
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(code.to_owned(), single);
    }

    /// Shows containers what host `Dir`s leave out as `mode` says.
    pub fn with_view_mode(mut self, mode: ViewMode) -> Self {
        self.views = Arc::new(HostViews::new(Arc::clone(&self.store), mode));
        self
    }

    /// Runs image `from` as image `to` wherever a step names it (a mirror, or an image made
    /// offline). Both the cache keys and the containers use `to`'s id.
    pub fn with_image_aliases(
        mut self,
        aliases: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        self.aliases.extend(aliases);
        self
    }

    /// Takes the ids of images already resolved (their references with aliases applied), so
    /// [`resolve_image`](Self::resolve_image) asks the daemon about them no more.
    pub fn with_images(mut self, ids: impl IntoIterator<Item = (String, ImageId)>) -> Self {
        self.images.get_mut().extend(ids);
        self
    }

    /// The id of image `reference`, pulled if missing; the same id for the whole run. Call it
    /// before computing a step's key.
    pub async fn resolve_image(&self, reference: &str, progress: Progress<'_>) -> Result<ImageId> {
        let reference = aliased(&self.aliases, reference);
        let mut images = self.images.lock().await;
        if let Some(id) = images.get(reference) {
            return Ok(id.clone());
        }
        let id = self.backend.resolve_image(reference, progress).await?;
        images.insert(reference.to_owned(), id.clone());
        Ok(id)
    }

    /// The id of image `reference` if the daemon has it, never pulled: for a result another
    /// machine shared, whose images are only checked against what is here.
    pub async fn local_image(&self, reference: &str) -> Result<Option<String>> {
        let reference = aliased(&self.aliases, reference);
        if let Some(id) = self.images.lock().await.get(reference) {
            return Ok(Some(id.to_string()));
        }
        Ok(self
            .backend
            .image_content(reference)
            .await?
            .map(|content| content.id))
    }

    /// Removes every container of this run (the registered ones, then any other that carries
    /// the run's label, then those that runs inside its `docker_socket` steps left), its
    /// network, and the
    /// linked views of its host folders. Returns how many containers were removed. The safety
    /// net at the end of a run and on Ctrl-C.
    pub async fn remove_run(&self) -> Result<usize> {
        // The ended steps' removals first: each forgets its container once it is gone.
        let mut closings = std::mem::take(
            &mut *self
                .closings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        while let Some(closed) = closings.join_next().await {
            // What it did not remove is still registered, and removed below.
            if let Err(e) = closed {
                tracing::warn!("removing a step's container stopped early: {e}");
            }
        }
        self.views.remove_all();
        let registered = self.containers.remove_all(self.backend.as_ref()).await;
        // Only a container of this run can start a nested run, or be left unregistered.
        if !self.created.load(Ordering::SeqCst) {
            return registered;
        }
        let parent = format!("{LABEL_PARENT_RUN}={}", self.run_id);
        // Both listings at once: an interrupted run's cleanup waits for the slower, not both.
        let (unregistered, nested) = tokio::join!(
            // Catches containers whose creation was interrupted before they were registered.
            self.backend.remove_run(&self.run_id),
            self.backend.remove_labelled(&parent),
        );
        // Networks last: one that still has a container cannot go.
        if self.services.network_asked() {
            self.backend
                .remove_networks(&format!("{LABEL_RUN}={}", self.run_id))
                .await?;
        }
        Ok(registered? + unregistered? + nested?)
    }

    /// Notes that the run is about to ask the daemon for a container: from then on, its end
    /// lists the daemon's containers of the run and of runs nested in its steps. Called
    /// before the request, so one whose answer never came (an interruption) is still found.
    pub(crate) fn creating(&self) {
        self.created.store(true, Ordering::SeqCst);
    }

    /// What undoes at once what can be undone without the daemon, for a run that must exit
    /// now (a second Ctrl-C). It holds no sender of the run's events, so it may outlive the
    /// run's views.
    pub fn abandon_handle(&self) -> Abandon {
        Abandon {
            views: Arc::clone(&self.views),
            scratch: Arc::clone(&self.scratch_dirs),
        }
    }

    /// Runs `removal`, a step's container being removed, in the background until
    /// [`remove_run`](Self::remove_run) waits for it.
    pub(crate) fn closing(&self, removal: impl std::future::Future<Output = ()> + Send + 'static) {
        self.closings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .spawn(removal);
    }

    /// Runs `sharing`, a result being sent to the remote cache, in the background until
    /// [`shared`](Self::shared) waits for it: neither the step nor the steps that wait on
    /// it wait for its upload.
    pub(crate) fn sharing(&self, sharing: impl std::future::Future<Output = ()> + Send + 'static) {
        self.sharings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .spawn(sharing);
    }

    /// Waits for the results being shared, or, once `interrupted` is cancelled, abandons
    /// those still under way (a result is only written once its blobs are sent, so an
    /// abandoned one is never half there): whether it abandoned any.
    pub(crate) async fn shared(&self, interrupted: &CancellationToken) -> bool {
        let mut sharings = std::mem::take(
            &mut *self
                .sharings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        loop {
            tokio::select! {
                biased;
                () = interrupted.cancelled() => {
                    // Those done already are not abandoned.
                    while sharings.try_join_next().is_some() {}
                    let abandoned = !sharings.is_empty();
                    sharings.shutdown().await;
                    return abandoned;
                }
                next = sharings.join_next() => match next {
                    None => return false,
                    Some(Err(e)) if e.is_panic() => tracing::warn!("sharing a result panicked: {e}"),
                    Some(_) => {}
                },
            }
        }
    }

    /// Remembers a scratch folder of a `docker_socket` step, for [`Abandon::now`].
    pub(crate) fn track_scratch(&self, dir: &std::path::Path) {
        self.lock_scratch().push(dir.to_path_buf());
    }

    fn lock_scratch(&self) -> std::sync::MutexGuard<'_, Vec<std::path::PathBuf>> {
        lock(&self.scratch_dirs)
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("run_id", &self.run_id)
            .field("backend", &self.backend)
            .field("store", &self.store)
            .field("containers", &self.containers)
            .finish_non_exhaustive()
    }
}

/// The image a step that names `reference` runs: the last alias set for it, or itself.
pub(crate) fn aliased<'a>(aliases: &'a [(String, String)], reference: &'a str) -> &'a str {
    aliases
        .iter()
        .rev()
        .find(|(from, _)| from == reference)
        .map_or(reference, |(_, to)| to.as_str())
}

#[cfg(test)]
mod tests {
    use super::aliased;

    #[test]
    fn the_last_alias_set_for_a_reference_wins_and_others_run_as_named() {
        let aliases = [
            ("rust:1".to_owned(), "mirror/rust:1".to_owned()),
            ("rust:1".to_owned(), "offline/rust:1".to_owned()),
        ];
        assert_eq!(aliased(&aliases, "rust:1"), "offline/rust:1");
        assert_eq!(aliased(&aliases, "busybox"), "busybox");
        assert_eq!(aliased(&[], "rust:1"), "rust:1");
    }
}
