//! The step context: what a step body uses to start containers and report progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::backend::live::StepContainer;
use crate::backend::{Backend, Container, ContainerRegistry, ImageId, Progress};
use crate::cache::Store;
use crate::error::Result;
use crate::graph::StepInfo;
use crate::report::{Event, EventSink, Stream};

/// What every step of one run shares.
pub struct RunContext {
    /// The run's id, put on every container's `tanto.run` label.
    pub run_id: String,
    /// Where containers run.
    pub backend: Arc<dyn Backend>,
    /// The content-addressed store that step outputs go into.
    pub store: Arc<Store>,
    /// Where events go.
    pub events: EventSink,
    /// Cancelled on Ctrl-C, SIGTERM, or fail-fast.
    pub cancel: CancellationToken,
    /// The containers of the run that are up.
    pub containers: ContainerRegistry,
    /// Image references resolved so far: a run uses one id per reference throughout, the one
    /// its cache keys recorded.
    images: tokio::sync::Mutex<HashMap<String, ImageId>>,
    /// Image references that run as another image: `from → to`.
    aliases: HashMap<String, String>,
    /// How read-only mounts of host folders hide what a `Dir` leaves out.
    pub dir_views: DirViews,
}

/// How a read-only mount of a host `Dir` hides the entries its digest leaves out (ignored by
/// `.gitignore`, `.git`, or outside `#[dir(..)]`'s globs). `TANTO_DIR_VIEW=linked|masks`
/// chooses it for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirViews {
    /// The default: mount the folder's *linked view*, a folder in the store with a hard link
    /// to each selected file (exact; one link per file, once per run), or masks where hard
    /// links cannot reach the store.
    #[default]
    Linked,
    /// Mount the folder itself with an empty folder or file over each left-out entry: no link
    /// per file, for very large folders, but the names of left-out entries stay visible.
    Masks,
}

impl DirViews {
    /// The choice of `TANTO_DIR_VIEW` (`linked` or `masks`), [`DirViews::Linked`] if unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var("TANTO_DIR_VIEW").as_deref() {
            Err(_) | Ok("" | "linked") => Ok(Self::Linked),
            Ok("masks") => Ok(Self::Masks),
            Ok(other) => Err(crate::Error::Usage(format!(
                "TANTO_DIR_VIEW=`{other}` is not known; use `linked` (the default) or `masks`"
            ))),
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
        Self {
            run_id: run_id.into(),
            backend,
            store,
            events,
            cancel: CancellationToken::new(),
            containers: ContainerRegistry::new(),
            images: tokio::sync::Mutex::new(HashMap::new()),
            aliases: HashMap::new(),
            dir_views: DirViews::default(),
        }
    }

    /// Hides what host `Dir`s leave out of their mounts as `views` says.
    pub fn with_dir_views(mut self, views: DirViews) -> Self {
        self.dir_views = views;
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

    /// The id of image `reference`, pulled if missing; the same id for the whole run. Call it
    /// before computing a step's key.
    pub async fn resolve_image(&self, reference: &str, progress: Progress<'_>) -> Result<ImageId> {
        let reference = self
            .aliases
            .get(reference)
            .map_or(reference, String::as_str);
        let mut images = self.images.lock().await;
        if let Some(id) = images.get(reference) {
            return Ok(id.clone());
        }
        let id = self.backend.resolve_image(reference, progress).await?;
        images.insert(reference.to_owned(), id.clone());
        Ok(id)
    }

    /// Removes every container of this run: the registered ones, then any other that carries
    /// the run's label. Returns how many were removed. The safety net at the end of a run and
    /// on Ctrl-C.
    pub async fn remove_run(&self) -> Result<usize> {
        let registered = self.containers.remove_all(self.backend.as_ref()).await;
        // Catches containers whose creation was interrupted before they were registered.
        let unregistered = self.backend.remove_run(&self.run_id).await?;
        Ok(registered? + unregistered)
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

/// The context a step receives as its first parameter.
///
/// It knows the step's settings (image, env, caches…) and starts its container with
/// [`Ctx::container`]. Clones share the step's container.
#[derive(Clone)]
pub struct Ctx {
    run: Arc<RunContext>,
    step: StepInfo,
    label: String,
    cancel: CancellationToken,
    started: Instant,
    container: Arc<StepContainer>,
}

impl Ctx {
    /// The context of step `step`, labelled `label` in the run. The step's timeout counts from
    /// here.
    pub fn new(run: Arc<RunContext>, step: StepInfo, label: impl Into<String>) -> Self {
        let cancel = run.cancel.child_token();
        let container = Arc::new(StepContainer::new(
            Arc::clone(&run.backend),
            run.containers.clone(),
        ));
        Self {
            run,
            step,
            label: label.into(),
            cancel,
            started: Instant::now(),
            container,
        }
    }

    /// A builder for this step's container, from the step's image and settings.
    pub fn container(&self) -> Container {
        Container::for_step(self)
    }

    /// The step's label in this run.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The step's metadata.
    pub fn step(&self) -> &StepInfo {
        &self.step
    }

    /// What every step of the run shares.
    pub fn run(&self) -> &Arc<RunContext> {
        &self.run
    }

    /// Cancelled when the step must stop.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// When the step's `timeout` runs out, if it has one. Container commands stop at this
    /// instant by themselves (the container is killed and they return
    /// [`Error::Timeout`](crate::Error::Timeout)); the scheduler bounds the rest of the step's
    /// future with it too.
    pub fn deadline(&self) -> Option<Instant> {
        self.step.settings.timeout.map(|t| self.started + t)
    }

    /// Reports one line of the step's output.
    pub fn log(&self, stream: Stream, line: impl Into<String>) {
        self.run.events.send(Event::StepLog {
            step: self.label.clone(),
            stream,
            line: line.into(),
        });
    }

    /// Removes the step's container. The scheduler calls this when the step's future ends,
    /// however it ended; afterwards the step cannot run commands. Calling it again does
    /// nothing. (If the future is dropped instead, the container is removed in the
    /// background when the last clone of this context goes.)
    pub async fn close(&self) -> Result<()> {
        self.container
            .remove(crate::backend::container::Slot::Gone(
                crate::backend::container::Gone::Closed,
            ))
            .await
    }

    pub(crate) fn container_state(&self) -> &StepContainer {
        &self.container
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("run_id", &self.run.run_id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}
