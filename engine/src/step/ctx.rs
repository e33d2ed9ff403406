//! The step context: what a step body uses to start containers and report progress.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::artifact::{Dir, DirSelect, TestReport};
use crate::backend::Stream;
use crate::cache::{StepLogs, Store};
use crate::error::{Error, Result};
use crate::graph::{Step, StepInfo};
use crate::input::host_dir;
use crate::report::{Event, EventSink};
use crate::step::captured::Captured;
use crate::step::container::Container;
use crate::step::live::{Gone, Slot, StepContainer};
use crate::step::run::RunContext;

/// The context a step receives as its first parameter.
///
/// It knows the step's settings (image, env, caches…) and starts its container with
/// [`Ctx::container`]. Clones share the step's container.
#[derive(Clone)]
pub struct Ctx {
    run: Arc<RunContext>,
    step: StepInfo,
    label: Arc<str>,
    cancel: CancellationToken,
    started: Instant,
    container: Arc<StepContainer>,
    /// The images the step's container ran, by reference: the runner keys a result by those
    /// its key does not hold (one chosen with `with_image`).
    images: Arc<Mutex<BTreeMap<String, String>>>,
    /// The step's own output, redacted, for the shared cache.
    captured: Arc<Mutex<Captured>>,
}

impl Ctx {
    /// The context of step `step`, labelled `label` in the run. The step's timeout counts from
    /// here.
    #[doc(hidden)]
    pub fn new(run: Arc<RunContext>, step: StepInfo, label: impl Into<Arc<str>>) -> Self {
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
            images: Arc::default(),
            captured: Arc::default(),
        }
    }

    /// A context for calling step `S` directly, outside a pipeline: in a unit test of the step,
    /// against the Docker daemon at `DOCKER_HOST` (or the local socket). Its outputs go to a
    /// temporary store that lives as long as the context and its clones (a test killed first,
    /// by Ctrl-C, leaves it for the next standalone context to remove); call
    /// [`close`](Self::close) when done, to remove the step's container at once.
    ///
    /// ```no_run
    /// use tanto::prelude::*;
    ///
    /// /// Counts the files of a folder.
    /// #[step(image = "tanto-test/busybox:latest", network = false)]
    /// async fn count(ctx: &Ctx, src: Dir) -> Result<u64> {
    ///     let out = ctx.container().with_mounted_dir("/src", &src).sh("find /src -type f | wc -l").await?;
    ///     Ok(out.stdout.trim().parse()?)
    /// }
    ///
    /// # async fn test() -> Result<()> {
    /// let ctx = Ctx::standalone::<count>().await?;
    /// let src = ctx.host_dir("tests/fixtures/project")?;
    /// assert_eq!(count(&ctx, src).await?, 3);
    /// ctx.close().await
    /// # }
    /// ```
    pub async fn standalone<S: Step>() -> Result<Self> {
        Self::standalone_with_aliases::<S>(Vec::<(String, String)>::new()).await
    }

    /// [`Ctx::standalone`], running each image `from` as image `to` wherever the step names
    /// it, as `tanto::cli().image_alias(from, to)` does in a run: for a step whose image is
    /// not on this machine and cannot be pulled (a published step's, offline).
    ///
    /// ```no_run
    /// # use tanto::prelude::*;
    /// # #[step(image = "rust:1.95-slim")]
    /// # async fn fmt_check(ctx: &Ctx) -> Result<()> { Ok(()) }
    /// # async fn test() -> Result<()> {
    /// let ctx =
    ///     Ctx::standalone_with_aliases::<fmt_check>([("rust:1.95-slim", "mirror/rust:1.95")])
    ///         .await?;
    /// # ctx.close().await
    /// # }
    /// ```
    pub async fn standalone_with_aliases<S: Step>(
        aliases: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Result<Self> {
        let store = Store::open_private()?;
        let backend = S::BACKEND().await?;
        let run = RunContext::new(
            format!("standalone-{}", std::process::id()),
            backend,
            Arc::new(store),
            EventSink::discard(),
        )
        .with_image_aliases(aliases.into_iter().map(|(f, t)| (f.into(), t.into())));
        Ok(Self::new(Arc::new(run), S::INFO, S::INFO.name))
    }

    /// The host folder `path` as a `Dir` input, as a pipeline's `--src` would bind it
    /// (`.gitignore` honoured, `.git` left out), hashed into this context's store. Blocking.
    pub fn host_dir(&self, path: impl AsRef<Path>) -> Result<Dir> {
        let given = path.as_ref();
        let path = given
            .canonicalize()
            .map_err(|e| Error::io(format!("open {}", given.display()), e))?;
        host_dir(&self.run.store, path, DirSelect::DEFAULT)
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
    pub(crate) fn step(&self) -> &StepInfo {
        &self.step
    }

    /// What every step of the run shares.
    pub(crate) fn run(&self) -> &Arc<RunContext> {
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

    /// The error of a step that ran past its `timeout`: it names the command that was running
    /// then, with its last lines, when one was.
    pub(crate) fn timeout_error(&self) -> Error {
        let cut = self
            .container
            .cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (command, tail) = cut.map_or((None, String::new()), |(c, t)| (Some(c), t));
        Error::Timeout {
            step: self.label.to_string(),
            after: self.step.settings.timeout.unwrap_or_default(),
            command,
            tail,
        }
    }

    /// Reports one line of the step's output.
    pub fn log(&self, stream: Stream, line: impl Into<String>) {
        let line = line.into();
        // Kept only for a run that shares its results.
        if self.run.remote.as_ref().is_some_and(|r| r.uploads()) {
            self.captured
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(stream, &self.run.events.redact(&line));
        }
        self.run.events.send(Event::StepLog {
            step: self.label.clone(),
            stream,
            line,
        });
    }

    /// The step's own stdout and stderr so far (kept when the run writes to a remote cache),
    /// redacted with the run's secrets as they are now.
    pub(crate) fn logs(&self) -> StepLogs {
        self.captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .logs(&self.run.events.redactor())
    }

    /// Records the step's test results as a `test_report` event, for the summary, the GitHub
    /// annotations, `GITHUB_STEP_SUMMARY` and `--junit`: for a step that is about to fail
    /// because tests failed, whose report would otherwise be lost with its result (a failure
    /// is never cached). A step that succeeds returns its report instead; the engine finds it
    /// among the outputs, cached or not.
    ///
    /// ```no_run
    /// use tanto::prelude::*;
    ///
    /// #[step(image = "rust:1.95-slim")]
    /// async fn tests(ctx: &Ctx, src: Dir) -> Result<TestReport> {
    ///     let report: TestReport = todo!("run the tests in a container and read their results");
    ///     if !report.success() {
    ///         ctx.report_tests(&report);
    ///         return Err(report.failure_error());
    ///     }
    ///     Ok(report)
    /// }
    /// # fn main() {}
    /// ```
    pub fn report_tests(&self, report: &TestReport) {
        self.run.events.send(Event::TestReport {
            step: self.label.clone(),
            cached: false,
            report: report.clone(),
        });
    }

    /// Reports a message of tanto's own about the step, apart from the step's output.
    pub(crate) fn note(&self, message: impl Into<String>) {
        self.run.events.send(Event::StepNote {
            step: self.label.clone(),
            message: message.into(),
        });
    }

    /// Removes the step's container. The scheduler calls this when the step's future ends,
    /// however it ended; afterwards the step cannot run commands. Calling it again does
    /// nothing. (If the future is dropped instead, the container is removed in the
    /// background when the last clone of this context goes.)
    pub async fn close(&self) -> Result<()> {
        self.container.remove(Slot::Gone(Gone::Closed)).await
    }

    /// Starts removing the step's container, like [`close`](Self::close), without waiting for
    /// it: the run's [`remove_run`](RunContext::remove_run) waits for every such removal.
    pub(crate) fn close_in_background(&self) {
        let ctx = self.clone();
        self.run.closing(async move {
            match ctx.close().await {
                Ok(()) => {}
                // The run ends saying so; one line per step would only repeat it.
                Err(e @ Error::DaemonLost { .. }) => {
                    tracing::debug!("could not remove the container of `{}`: {e}", ctx.label);
                }
                Err(e) => tracing::warn!("could not remove the container of `{}`: {e}", ctx.label),
            }
        });
    }

    /// Notes that the step's container runs image `reference`, resolved to `id`.
    pub(crate) fn used_image(&self, reference: &str, id: &str) {
        let mut images = self.images.lock().unwrap_or_else(PoisonError::into_inner);
        images.insert(reference.to_owned(), id.to_owned());
    }

    /// The images the step's container ran, by reference.
    pub(crate) fn images_used(&self) -> BTreeMap<String, String> {
        self.images
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Lets the step's first command run as its container's own process, as a run does
    /// when the last run of the step's code ran exactly one command; for tests.
    #[doc(hidden)]
    pub fn expect_single_command(&self) {
        (self.container.hint).store(true, std::sync::atomic::Ordering::Relaxed);
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
