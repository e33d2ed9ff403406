//! The services of one run: one started per binding (a shared one on its first, shared by
//! definition digest), checked for readiness, logged to the run's log folder and removed
//! after the last hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::Service;
use super::ready::wait_ready;
use crate::backend::{
    LABEL_HOST, LABEL_OWNER, LABEL_PID, LABEL_RUN, LABEL_SERVICE, LABEL_STEP, Owner, ServiceSpec,
    host_name,
};
use crate::error::{Error, Result};
use crate::report::LogFiles;
use crate::step::container::Container;
use crate::step::run::RunContext;

/// How many of a service's last log lines an error shows.
const TAIL_LINES: usize = 20;

/// The longest line of a service's log an error shows: the rest of a line is cut.
const TAIL_LINE_MAX: usize = 1 << 10;

/// The services of one run that are up, with how many steps hold each: a shared one by its
/// definition digest, any other by a key of its binding's own.
#[derive(Debug, Default)]
pub(crate) struct ServicePool {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    /// Numbers each binding's key and each container's name: a name is never used twice in a
    /// run, so a start is never refused for the name of one an ended step left behind.
    next: AtomicU64,
    network: tokio::sync::OnceCell<String>,
    /// Whether the run's network was asked for: set before the request, whose answer an
    /// interruption may lose.
    network_asked: AtomicBool,
}

#[derive(Debug, Default)]
struct Entry {
    users: Mutex<usize>,
    instance: tokio::sync::Mutex<Option<Instance>>,
}

#[derive(Debug, Clone)]
struct Instance {
    id: String,
    /// The container's name, which consumers link to.
    name: String,
    /// The name it was first bound under, for its log file.
    bound: String,
    /// The label of the step that started it.
    started_by: String,
}

/// A step's hold on a running service; the service goes when the last hold is released.
#[derive(Debug)]
pub(crate) struct ServiceLease {
    run: Arc<RunContext>,
    /// The pool's key of its entry.
    key: String,
    entry: Arc<Entry>,
    /// The container name to link to, and the name the step reaches it by.
    pub(crate) link: (String, String),
    /// The container's id.
    id: String,
    /// Whether the hold was given back.
    released: bool,
}

impl ServicePool {
    /// The run's network, created on first use and labelled like its containers.
    pub(crate) async fn network(&self, run: &RunContext) -> Result<String> {
        self.network
            .get_or_try_init(|| async {
                let name = format!("tanto-{}", run.run_id);
                self.network_asked.store(true, Ordering::SeqCst);
                run.backend
                    .create_network(&name, &labels(run, "network"))
                    .await?;
                Ok(name)
            })
            .await
            .cloned()
    }

    /// Whether the run may have a network: its end lists them only then.
    pub(crate) fn network_asked(&self) -> bool {
        self.network_asked.load(Ordering::SeqCst)
    }

    /// Starts `service` for step `step`, which binds it as `name`, and waits until it is
    /// ready; a shared one that is up is joined instead. `note` tells the step's log which of
    /// the two it does. Errors name the service.
    pub(crate) async fn acquire(
        run: &Arc<RunContext>,
        step: &str,
        name: &str,
        service: &Service,
        note: &(dyn Fn(String) + Send + Sync),
    ) -> Result<ServiceLease> {
        let named = |e: Error| match e {
            // Still a missing image, for its `kind` and the run's exit code.
            Error::ImageUnavailable { image, cause } => Error::ImageUnavailable {
                image,
                cause: format!("{cause} (the image of service `{name}`)"),
            },
            e => Error::Other(format!("service `{name}` ({}): {e}", service.image)),
        };
        let log = |line: &str| tracing::info!("service `{name}`: {line}");
        let image_id = run
            .resolve_image(&service.image, &log)
            .await
            .map_err(named)?;
        let digest = service.digest(image_id.as_str());
        let network = run.services.network(run).await.map_err(named)?;
        let key = if service.is_shared() {
            digest.clone()
        } else {
            format!(
                "{digest}/{}",
                run.services.next.fetch_add(1, Ordering::Relaxed)
            )
        };
        let entry = {
            let mut entries = run.services.lock();
            let entry = Arc::clone(entries.entry(key.clone()).or_default());
            *entry.users.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            entry
        };
        // From here on the hold is counted, and dropping the lease gives it back.
        let mut lease = ServiceLease {
            run: Arc::clone(run),
            key,
            entry: Arc::clone(&entry),
            link: (String::new(), name.to_owned()),
            id: String::new(),
            released: false,
        };
        let mut instance = entry.instance.lock().await;
        // One that stopped since another step bound it is replaced, not handed out.
        if let Some(up) = instance.as_ref() {
            let state = run.backend.service_state(&up.id, &network).await;
            if !state.is_ok_and(|s| s.running)
                && let Some(dead) = instance.take()
            {
                tracing::warn!("service `{}` stopped; starting it again", dead.bound);
                stop(run, &dead).await;
            }
        }
        let shared = if service.is_shared() { "shared " } else { "" };
        match instance.as_ref() {
            None => {
                note(format!(
                    "starting {shared}service `{name}` ({})",
                    service.image
                ));
                let binding = Binding {
                    step,
                    name,
                    digest: &digest,
                    network: &network,
                };
                *instance = Some(start(run, binding, service, &image_id).await?);
            }
            Some(up) if up.started_by == step => note(format!(
                "joining {shared}service `{name}` ({}), which this step started as `{}`",
                service.image, up.bound
            )),
            Some(up) => note(format!(
                "joining {shared}service `{name}` ({}), which step `{}` started",
                service.image,
                crate::report::shown(&up.started_by)
            )),
        }
        if let Some(i) = instance.as_ref() {
            lease.link.0.clone_from(&i.name);
            lease.id.clone_from(&i.id);
        }
        Ok(lease)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ServiceLease {
    /// Gives the hold back; the last one removes the container and keeps its log.
    pub(crate) async fn release(mut self) {
        let last = self.last();
        self.released = true;
        if let Some(instance) = last {
            stop(&self.run, &instance).await;
        }
    }

    /// Counts this hold out; the instance to stop when it was the last.
    fn last(&self) -> Option<Instance> {
        let mut entries = self.run.services.lock();
        let mut users = self
            .entry
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *users = users.saturating_sub(1);
        if *users > 0 {
            return None;
        }
        entries.remove(&self.key);
        self.entry.instance.try_lock().ok()?.take()
    }
}

impl Drop for ServiceLease {
    fn drop(&mut self) {
        // A lease dropped unreleased (a panic, a dropped step future) stops its instance in
        // the background.
        if self.released {
            return;
        }
        let Some(instance) = self.last() else { return };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let run = Arc::clone(&self.run);
            handle.spawn(async move { stop(&run, &instance).await });
        }
    }
}

impl crate::step::Ctx {
    /// Notes, for each service the step binds, whether it died during the step and its last
    /// log lines, redacted, a note a line: called when the step failed, so its log shows what
    /// the services did (a client of a service that died sees only a name that no longer
    /// resolves).
    pub(crate) async fn note_service_logs(&self) {
        let leases: Vec<(String, String)> = (self.container_state().services.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| (l.link.1.clone(), l.id.clone()))
            .collect();
        for (name, id) in leases {
            // The network is not needed to tell whether it runs.
            if let Ok(state) = self.run().backend.service_state(&id, "").await
                && !state.running
            {
                let code = state.exit_code.map_or("?".to_owned(), |c| c.to_string());
                self.note(format!(
                    "service `{name}` exited with code {code} during the step"
                ));
            }
            let tail = tail(self.run(), &id).await;
            let said = format!("service `{name}`: {}", tail.trim_start_matches("; "));
            for line in said.lines() {
                self.note(line.to_owned());
            }
        }
    }
}

impl Container {
    /// Starts (or joins) every service the builder binds, ready, before the step's container
    /// starts. A step without a network cannot bind one.
    pub(crate) async fn acquire_services(&self) -> Result<Vec<ServiceLease>> {
        let Some((name, _)) = self.spec.services.first() else {
            return Ok(Vec::new());
        };
        if !self.ctx.step().settings.network {
            return Err(Error::Usage(format!(
                "step `{}` binds service `{name}` but has `network = false`; a service needs the network",
                self.ctx.label()
            )));
        }
        let mut leases = Vec::new();
        for (name, service) in &self.spec.services {
            let note = |line: String| self.ctx.note(line);
            let run = self.ctx.run();
            let lease = ServicePool::acquire(run, self.ctx.label(), name, service, &note).await?;
            self.ctx.note(format!("service `{name}` is ready"));
            leases.push(lease);
        }
        Ok(leases)
    }

    /// Connects the step's container `id` to the run's network, where it reaches each service
    /// by the name it was bound under, and hands the holds to the step's container state.
    pub(crate) async fn connect_services(&self, id: &str, leases: Vec<ServiceLease>) -> Result<()> {
        if leases.is_empty() {
            return Ok(());
        }
        let links: Vec<(String, String)> = leases.iter().map(|l| l.link.clone()).collect();
        self.ctx
            .container_state()
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(leases);
        let run = self.ctx.run();
        let network = run.services.network(run).await?;
        run.backend.connect_network(&network, id, &links).await
    }
}

/// What a start is for: the step, the name it binds the service under, the definition's
/// digest and the run's network.
struct Binding<'a> {
    step: &'a str,
    name: &'a str,
    digest: &'a str,
    network: &'a str,
}

/// A service container started but not ready yet: removed in the background if its start is
/// dropped (its step timed out or was cancelled meanwhile), so it does not outlive the start.
struct Unready {
    run: Arc<RunContext>,
    id: Option<String>,
}

impl Drop for Unready {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let run = Arc::clone(&self.run);
            handle.spawn(async move {
                if run.backend.remove(&id).await.is_ok() {
                    run.containers.forget(&id);
                }
            });
        }
    }
}

/// Starts the container of `service` for `binding` and waits until it is ready; on any
/// failure it is removed again and the error carries its last log lines.
async fn start(
    run: &Arc<RunContext>,
    binding: Binding<'_>,
    service: &Service,
    image_id: &crate::backend::ImageId,
) -> Result<Instance> {
    let Binding {
        step,
        name,
        digest,
        network,
    } = binding;
    let n = run.services.next.fetch_add(1, Ordering::Relaxed);
    let instance = Instance {
        id: String::new(),
        name: format!("tanto-{}-{}-{n}", run.run_id, &digest[..12]),
        bound: name.to_owned(),
        started_by: step.to_owned(),
    };
    let mut labels = labels(run, &format!("service:{name}"));
    labels.push((LABEL_SERVICE.to_owned(), digest.to_owned()));
    labels.sort();
    let spec = ServiceSpec {
        name: instance.name.clone(),
        image: image_id.clone(),
        command: service.command.clone(),
        env: service.env.clone(),
        labels,
        network: network.to_owned(),
    };
    let failed = |why: String| Error::Other(format!("service `{name}` ({}) {why}", service.image));
    run.creating();
    let id = run
        .backend
        .start_service(&spec)
        .await
        .map_err(|e| failed(format!("did not start: {e}")))?;
    run.containers.add(&id, &format!("service:{name}"));
    let mut unready = Unready {
        run: Arc::clone(run),
        id: Some(id.clone()),
    };
    let instance = Instance { id, ..instance };
    if let Err(not) = wait_ready(run.backend.as_ref(), &instance.id, network, service).await {
        unready.id = None;
        let tail = tail(run, &instance.id).await;
        stop(run, &instance).await;
        let message = failed(format!("{}{tail}", not.why)).to_string();
        return Err(if not.timed_out {
            Error::ServiceNotReady(message)
        } else {
            Error::Other(message)
        });
    }
    unready.id = None;
    Ok(instance)
}

/// The service's last log lines, redacted, as the end of an error message.
async fn tail(run: &RunContext, id: &str) -> String {
    let Ok(log) = run.backend.logs(id).await else {
        return String::new();
    };
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    if lines.is_empty() {
        return "; it wrote nothing".to_owned();
    }
    let redactor = run.events.redactor();
    let shown: Vec<String> = lines[from..]
        .iter()
        .map(|l| format!("  {}", redactor.shorten(&redactor.redact(l), TAIL_LINE_MAX)))
        .collect();
    format!("; its last log lines:\n{}", shown.join("\n"))
}

/// Keeps the service's log in the run's log folder, then removes its container.
async fn stop(run: &RunContext, instance: &Instance) {
    if let Ok(log) = run.backend.logs(&instance.id).await {
        let dir = run.store.root().join("logs").join(&run.run_id);
        let mut path = LogFiles::path_for(&dir, &format!("service-{}", instance.bound));
        if path.exists() {
            // Another step's instance bound under the same name kept its log there.
            let label = format!("service-{} {}", instance.bound, instance.started_by);
            path = LogFiles::path_for(&dir, &label);
        }
        let _ = std::fs::create_dir_all(&dir);
        let log = run.events.redact(&log);
        let kept: Vec<_> = log.lines().map(crate::shown::kept).collect();
        if let Err(e) = std::fs::write(&path, kept.join("\n") + "\n") {
            tracing::warn!("cannot write {}: {e}", path.display());
        }
    }
    match run.backend.remove(&instance.id).await {
        Ok(()) => run.containers.forget(&instance.id),
        Err(e) => tracing::warn!("cannot remove service container {}: {e}", instance.id),
    }
}

/// The labels of the run's containers, with `step` as the step label.
fn labels(run: &RunContext, step: &str) -> Vec<(String, String)> {
    vec![
        (LABEL_HOST.to_owned(), host_name().to_owned()),
        (LABEL_OWNER.to_owned(), Owner::current().label()),
        (LABEL_PID.to_owned(), std::process::id().to_string()),
        (LABEL_RUN.to_owned(), run.run_id.clone()),
        (LABEL_STEP.to_owned(), step.to_owned()),
    ]
}
