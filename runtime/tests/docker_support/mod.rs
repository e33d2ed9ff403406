//! Shared set-up of the Docker integration tests: a run against the real daemon, steps without
//! macros, and checks that a test leaves no container behind.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tanto::__internal::backend::{Backend, DockerBackend};
use tanto::__internal::cache::{Store, hash_dir};
use tanto::__internal::graph::{StepInfo, StepSettings};
use tanto::__internal::input::{self as input, HostViews, ViewMode};
use tanto::__internal::report::{Event, EventReceiver, EventSink, Stream};
use tanto::__internal::step::RunContext;
use tanto::{Ctx, Dir};

/// The image every test runs; `cargo xtask images` builds it.
pub const BUSYBOX: &str = "tanto-test/busybox:latest";

/// Busybox, nothing else set.
pub const SETTINGS: StepSettings = StepSettings {
    image: Some(BUSYBOX),
    ..StepSettings::DEFAULT
};

/// The daemon, or a panic that says how to get one. Tests never skip silently.
pub async fn docker() -> DockerBackend {
    match DockerBackend::connect().await {
        Ok(docker) => docker,
        Err(e) => panic!(
            "these tests need a Docker daemon: {e}\n\
             run `cargo xtask test`, which starts Docker (installing it as root) and builds the test images"
        ),
    }
}

/// A run of its own (unique id, temporary store) against the daemon.
pub struct Harness {
    pub run: Arc<RunContext>,
    pub events: EventReceiver,
    _store_dir: tempfile::TempDir,
}

impl Harness {
    /// A run on the local daemon.
    pub async fn new() -> Self {
        Self::with_backend(docker().await).await
    }

    /// A run on the local daemon whose mounts mask what a `Dir` leaves out, instead of
    /// mounting linked views.
    pub async fn masking() -> Self {
        let mut harness = Self::new().await;
        let run = Arc::get_mut(&mut harness.run).expect("the only handle on the run");
        run.views = Arc::new(HostViews::new(Arc::clone(&run.store), ViewMode::Masks));
        harness
    }

    /// A run on `backend`.
    pub async fn with_backend(backend: DockerBackend) -> Self {
        let store_dir = tempfile::tempdir().expect("a temporary folder for the store");
        let store = Store::open(store_dir.path()).expect("open the store");
        let (events, rx) = EventSink::channel();
        let run = RunContext::new(
            unique("test-run"),
            Arc::new(backend),
            Arc::new(store),
            events,
        );
        let harness = Self {
            run: Arc::new(run),
            events: rx,
            _store_dir: store_dir,
        };
        let progress = |line: &str| eprintln!("{line}");
        if let Err(e) = harness.run.resolve_image(BUSYBOX, &progress).await {
            panic!("{e}");
        }
        harness
    }

    /// The context of a step labelled `label` with `settings`.
    pub fn ctx(&self, label: &str, settings: StepSettings) -> Ctx {
        Ctx::new(Arc::clone(&self.run), step_info(settings), label)
    }

    /// The host folder `root` bound as a pipeline's `Dir` input, hashed with `filter`.
    pub async fn input_dir(&self, root: &Path, select: tanto::DirSelect) -> Dir {
        let store = Arc::clone(&self.run.store);
        let root = root.canonicalize().expect("the input folder exists");
        tokio::task::spawn_blocking(move || input::host_dir(&store, root, select))
            .await
            .expect("hashing does not panic")
            .expect("hash the input folder")
    }

    pub fn store(&self) -> &Store {
        &self.run.store
    }

    pub fn backend(&self) -> &dyn Backend {
        self.run.backend.as_ref()
    }

    /// The log lines of `step` sent so far.
    pub fn logs(&mut self, step: &str) -> Vec<(Stream, String)> {
        let mut lines = Vec::new();
        while let Ok(stamped) = self.events.try_recv() {
            if let Event::StepLog {
                step: s,
                stream,
                line,
            } = stamped.event
                && *s == *step
            {
                lines.push((stream, line));
            }
        }
        lines
    }

    /// Asserts that the run has no container left, by registry and by label.
    pub async fn assert_clean(&self) {
        assert!(
            self.run.containers.is_empty(),
            "containers still registered: {:?}",
            self.run.containers.containers()
        );
        let left = self
            .backend()
            .remove_run(&self.run.run_id)
            .await
            .expect("list the run's containers");
        assert_eq!(left, 0, "the run left {left} container(s) behind");
    }

    /// Waits up to 10 s for the registry to empty (background removals after a drop).
    pub async fn wait_until_clean(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        while !self.run.containers.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.assert_clean().await;
    }
}

/// Metadata of a test step: no code digest, no parameters.
pub fn step_info(settings: StepSettings) -> StepInfo {
    StepInfo {
        name: "test_step",
        path: "tests::test_step",
        doc: "",
        tokens: "",
        code: tanto::__internal::graph::CodeInfo::NONE,
        params: &[],
        output: "()",
        settings,
    }
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A host folder with `files` (path, contents, executable) and its digest.
pub fn host_dir(root: &Path, files: &[(&str, &str, bool)]) -> Dir {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root).expect("create the folder");
    for &(path, contents, executable) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a parent folder");
        }
        std::fs::write(&path, contents).expect("write a file");
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("set a mode");
    }
    let digest = hash_dir(root).expect("hash the folder");
    Dir::new(root, digest)
}

/// A client of the daemon of its own, to look at what tanto did.
pub async fn client() -> bollard::Docker {
    bollard::Docker::connect_with_local_defaults()
        .expect("the daemon's address")
        .negotiate_version()
        .await
        .expect("the daemon answers")
}

/// The daemon's events, watched live from [`DaemonWatch::start`] until
/// [`DaemonWatch::actions_of`]. Asking afterwards with `since` would read the daemon's backlog
/// of its last 256 events, which the other tests' containers can push a test's events out of.
pub struct DaemonWatch {
    events: tokio::task::JoinHandle<Vec<bollard::models::EventMessage>>,
    sentinel: String,
}

impl DaemonWatch {
    /// Starts watching; `since` the current instant covers the moment before the subscription.
    pub async fn start() -> Self {
        use futures_util::StreamExt as _;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is past 1970");
        let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
        let sentinel = unique("tanto-test-sentinel");
        let until = sentinel.clone();
        let docker = client().await;
        let events = tokio::spawn(async move {
            let options = bollard::query_parameters::EventsOptionsBuilder::default()
                .since(&since)
                .build();
            let mut stream = docker.events(Some(options));
            let mut seen = Vec::new();
            while let Some(event) = stream.next().await {
                let event = event.expect("an event");
                let name = event
                    .actor
                    .as_ref()
                    .and_then(|a| a.attributes.as_ref())
                    .and_then(|a| a.get("name"));
                if event.action.as_deref() == Some("create") && name == Some(&until) {
                    break;
                }
                seen.push(event);
            }
            seen
        });
        Self { events, sentinel }
    }

    /// What the daemon reported doing to container `id` since the start: the watch ends at a
    /// sentinel network, created and removed now, since the stream is in order.
    pub async fn actions_of(self, id: &str) -> Vec<String> {
        let docker = client().await;
        let request = bollard::models::NetworkCreateRequest {
            name: self.sentinel.clone(),
            ..Default::default()
        };
        docker
            .create_network(request)
            .await
            .expect("the sentinel network");
        docker
            .remove_network(&self.sentinel)
            .await
            .expect("the sentinel network's removal");
        let events = tokio::time::timeout(std::time::Duration::from_secs(30), self.events)
            .await
            .expect("the daemon's events show the sentinel network within 30 s")
            .expect("the watch does not panic");
        events
            .into_iter()
            .filter(|e| e.actor.as_ref().and_then(|a| a.id.as_deref()) == Some(id))
            .map(|e| e.action.unwrap_or_default())
            .collect()
    }
}
