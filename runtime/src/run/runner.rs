//! The real node runner: keys each step, answers from the store when it can, and otherwise
//! runs the step's fn with a context, records its outputs and explains why it ran.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::artifact::{Artifact, Dir, Origin};
use crate::cache::{ActionResult, InputRecord, KeyRecord, Reason, explain};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Arg, Node, NodeKind, Plan, RunFn, StepInfo};
use crate::input::ViewMode;
use crate::report::{Event, utc};
use crate::run::guards::{changed_during_run, with_timeout};
use crate::run::scheduler::{NodeRunner, Prepared};
use crate::step::{Ctx, RunContext, open_shell, service_input};

type SharedJob = Shared<BoxFuture<'static, std::result::Result<Vec<Artifact>, Arc<Error>>>>;

/// A step's verdict in `--plan`.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The step's label.
    pub label: String,
    /// Whether its result is in the cache.
    pub cached: bool,
    /// Why it would run.
    pub reason: Option<String>,
}

/// Runs steps for real: store lookups, containers through the run's backend.
pub struct StepRunner {
    run: Arc<RunContext>,
    pipeline: &'static str,
    labels: Vec<String>,
    is_step: Vec<bool>,
    inputs: HashMap<usize, Artifact>,
    forced: Option<Vec<String>>,
    in_flight: Mutex<HashMap<Digest, (String, SharedJob)>>,
}

/// What a step's key lookup found.
enum Lookup {
    Hit(Vec<Artifact>),
    Miss {
        key: KeyRecord,
        digest: Digest,
        reason: String,
    },
}

impl StepRunner {
    /// A runner for `plan` whose top-level inputs are bound to `inputs`, in parameter order.
    pub fn new(
        run: Arc<RunContext>,
        plan: &Plan,
        inputs: Vec<Artifact>,
        forced: Option<Vec<String>>,
    ) -> Result<Self> {
        let input_nodes = plan
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Input { .. }));
        let inputs: HashMap<usize, Artifact> =
            input_nodes.map(|n| n.id.index()).zip(inputs).collect();
        if let Some(steps) = &forced {
            for step in steps {
                if plan.find(step).and_then(|n| n.step()).is_none() {
                    let known: Vec<_> = plan
                        .steps()
                        .map(|(n, _)| format!("`{}`", n.label))
                        .collect();
                    return Err(Error::Usage(format!(
                        "--no-cache: there is no step `{step}` in `{}`; its steps are {}",
                        plan.pipeline.name,
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(Self {
            run,
            pipeline: plan.pipeline.name,
            labels: plan.nodes.iter().map(|n| n.label.clone()).collect(),
            is_step: plan.nodes.iter().map(|n| n.step().is_some()).collect(),
            inputs,
            forced,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    async fn image_id(&self, image: &str) -> Result<String> {
        let progress = |line: &str| eprintln!("tanto: pulling {image}: {line}");
        Ok(self.run.resolve_image(image, &progress).await?.to_string())
    }

    fn history_name(&self, label: &str) -> String {
        format!("{}/{label}", self.pipeline)
    }

    fn is_forced(&self, label: &str) -> bool {
        self.forced
            .as_ref()
            .is_some_and(|steps| steps.is_empty() || steps.iter().any(|s| s == label))
    }

    async fn key(&self, node: &Node, info: &StepInfo, inputs: &[Artifact]) -> Result<KeyRecord> {
        let image = match info.settings.image {
            Some(image) => Some(self.image_id(image).await?),
            None => None,
        };
        let mut key = KeyRecord::for_step(info, image.as_deref());
        for ((param, artifact), arg) in info.params.iter().zip(inputs).zip(&node.args) {
            let upstream = match arg {
                Arg::Handle { node, .. } if self.is_step[node.index()] => {
                    self.labels.get(node.index()).map(String::as_str)
                }
                // A fan-in's items are keyed by their content alone, like any value.
                Arg::Handle { .. } | Arg::Literal(_) | Arg::List(_) => None,
            };
            let mut record = InputRecord::of(artifact, upstream);
            if let Artifact::Secret(secret) = artifact
                && !info.settings.secret_in_key
            {
                // Its name only: the step says its result does not depend on the value.
                record.digest = Digest::of(secret.name().as_bytes());
            }
            key = key.input(param.name, record);
            // A service's value names its image by reference; the id is what it runs.
            if let Some(service) = service_input(param.ty, artifact) {
                let id = self.image_id(service.image()).await?;
                key.settings
                    .insert(format!("input.{}.image", param.name), id);
            }
            // Step code can read a file's captured name, so a renamed file is another input
            // even when its bytes are the same; a setting, so a miss names it.
            if let Artifact::File(file) = artifact
                && let Some(name) = file.name()
            {
                key.settings
                    .insert(format!("input.{}.name", param.name), name.to_owned());
            }
        }
        // Masks leave the names of left-out entries visible, which a linked view does not: a
        // step that reads a host folder sees a different tree, so it has a different key.
        let host_dir = inputs
            .iter()
            .any(|a| matches!(a, Artifact::Dir(d) if matches!(d.origin(), Origin::Host { .. })));
        if host_dir && self.run.views.mode() == ViewMode::Masks {
            key.settings
                .insert("dir_view".to_owned(), "masks".to_owned());
        }
        Ok(key)
    }

    /// Why cached `outputs` cannot be used when an image among them is no longer in the
    /// daemon (pruned, say): a miss, never an error.
    async fn missing_image(&self, outputs: &[Artifact]) -> Result<Option<String>> {
        for output in outputs {
            if let Artifact::Image(image) = output
                && self.run.backend.image_content(image.id()).await?.is_none()
            {
                return Ok(Some(format!(
                    "its output image {} is no longer in the daemon (removed or pruned)",
                    image.id()
                )));
            }
        }
        Ok(None)
    }

    async fn lookup(&self, node: &Node, info: &StepInfo, inputs: &[Artifact]) -> Result<Lookup> {
        let key = self.key(node, info, inputs).await?;
        let digest = key.digest();
        let store = &self.run.store;
        let reason = if self.is_forced(&node.label) {
            Reason::Forced.to_string()
        } else if info.settings.side_effect {
            "a side effect: never cached".to_owned()
        } else {
            let hit = match store.lookup(&digest)? {
                Some(hit) => Some(store.outputs(&hit)?),
                None => None,
            };
            let gone = match &hit {
                Some(outputs) => self.missing_image(outputs).await?,
                None => None,
            };
            if let (Some(outputs), None) = (hit, &gone) {
                return Ok(Lookup::Hit(outputs));
            }
            let history = self.history_name(&node.label);
            let previous = store.last_key(&history)?;
            let reasons = explain(previous.as_ref(), &key, store);
            if let Some(gone) = gone {
                gone
            } else if !reasons.is_empty() {
                reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            } else if let Some(at) = store.last_failure(&history, &digest)? {
                format!("the last run failed (at {})", utc(at))
            } else {
                // The same key as last time, and no result: it was there, and is gone.
                "its cached result was removed (pruned or damaged)".to_owned()
            }
        };
        Ok(Lookup::Miss {
            key,
            digest,
            reason,
        })
    }

    fn job(
        &self,
        node: &Node,
        info: StepInfo,
        run_fn: RunFn,
        inputs: Vec<Artifact>,
        key: KeyRecord,
        digest: Digest,
    ) -> SharedJob {
        let run = Arc::clone(&self.run);
        let label = node.label.clone();
        let history = self.history_name(&node.label);
        let cacheable = !info.settings.side_effect;
        // Host folders the step read: they must still hold what the key says when it ends.
        let host_dirs: Vec<(&'static str, Dir)> = info
            .params
            .iter()
            .zip(&inputs)
            .filter_map(|(param, input)| match input {
                Artifact::Dir(dir) if matches!(dir.origin(), Origin::Host { .. }) => {
                    Some((param.name, dir.clone()))
                }
                _ => None,
            })
            .collect();
        async move {
            let ctx = Ctx::new(Arc::clone(&run), info, label.clone());
            let started = std::time::Instant::now();
            let body = run_fn(&ctx, inputs);
            let result = tokio::select! {
                biased;
                () = ctx.cancel_token().cancelled() => Err(Error::Cancelled),
                result = with_timeout(info.settings.timeout, &label, body) => result,
            };
            if let Some(mut recipe) = ctx.recipe().await {
                // For `shell STEP`: how its container was set up.
                for (_, value) in &mut recipe.env {
                    *value = run.events.redact(value);
                }
                // A command line may hold what a secret variable expanded to.
                recipe.command = recipe.command.map(|c| run.events.redact(&c));
                if let Err(e) = run.store.set_recipe(&history, &recipe) {
                    tracing::warn!("could not remember how `{label}` ran: {e}");
                }
            }
            if let (Err(e), Some(interactive)) = (&result, &run.interactive)
                && !matches!(
                    e,
                    Error::Cancelled | Error::Timeout { .. } | Error::DaemonLost { .. }
                )
            {
                open_shell(&ctx, interactive, e).await;
            }
            if matches!(&result, Err(e) if !matches!(e, Error::Cancelled | Error::DaemonLost { .. })) {
                ctx.note_service_logs().await;
            }
            match ctx.close().await {
                Ok(()) => {}
                // The run ends saying so; one line per step would only repeat it.
                Err(e @ Error::DaemonLost { .. }) => {
                    tracing::debug!("could not remove the container of `{label}`: {e}");
                }
                Err(e) => tracing::warn!("could not remove the container of `{label}`: {e}"),
            }
            let mut outputs = match result {
                Ok(outputs) => outputs,
                Err(e) => {
                    // A step's own failure is remembered (never cached) so the next run can say
                    // so; a cancelled run or a lost daemon says nothing about the step.
                    if !matches!(e, Error::Cancelled | Error::DaemonLost { .. }) {
                        let remembered = run.store.set_last_key(&history, &key).and_then(|()| {
                            run.store.set_last_failure(
                                &history,
                                &digest,
                                std::time::SystemTime::now(),
                            )
                        });
                        if let Err(e) = remembered {
                            tracing::warn!("could not remember the failure of `{label}`: {e}");
                        }
                    }
                    return Err(e);
                }
            };
            // A secret that a step put into a value it returns is masked before anything sees
            // the value: its dependents, the store, the views.
            let redactor = run.events.redactor();
            if !redactor.is_empty() {
                for output in &mut outputs {
                    if let Artifact::Value(value) = output {
                        redactor.redact_json(value);
                    }
                }
            }
            let changed = changed_during_run(&run, &host_dirs).await;
            if let Some(param) = &changed {
                run.events.send(Event::StepNote {
                    step: label.clone(),
                    message: format!(
                        "input `{param}` changed while `{label}` ran, so its result is not cached"
                    ),
                });
            }
            if cacheable && changed.is_none() {
                let record = ActionResult::new(key.clone(), &outputs, started.elapsed());
                if let Err(e) = run.store.record(&digest, &record) {
                    tracing::warn!("could not cache the result of `{label}`: {e}");
                }
            }
            if let Err(e) = run.store.set_last_key(&history, &key) {
                tracing::warn!("could not remember the key of `{label}`: {e}");
            }
            Ok(outputs)
        }
        .map(|r: Result<Vec<Artifact>>| r.map_err(Arc::new))
        .boxed()
        .shared()
    }

    /// Why a step whose upstream has yet to run would miss anyway: its own code, image,
    /// settings or the inputs already known, compared with its last key.
    async fn partial_reason(
        &self,
        node: &Node,
        info: &StepInfo,
        known: &HashMap<usize, Vec<Artifact>>,
    ) -> Option<String> {
        let inputs = node.realize_args(|id| known.get(&id.index()).map(Vec::as_slice));
        let mut key = self.key(node, info, &inputs).await.ok()?;
        let mut previous = self
            .run
            .store
            .last_key(&self.history_name(&node.label))
            .ok()??;
        for (param, arg) in info.params.iter().zip(&node.args) {
            let mut waiting = false;
            arg.each_handle(&mut |node| waiting |= !known.contains_key(&node.index()));
            if waiting {
                key.inputs.remove(param.name);
                previous.inputs.remove(param.name);
            }
        }
        let reasons = explain(Some(&previous), &key, self.run.store.as_ref());
        (!reasons.is_empty()).then(|| {
            reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// What `--plan` shows: each step cached or not, and why, without running anything.
    pub async fn explain_plan(&self, plan: &Plan) -> Vec<Explained> {
        let mut known: HashMap<usize, Vec<Artifact>> = HashMap::new();
        let mut out = Vec::new();
        for node in &plan.nodes {
            let index = node.id.index();
            match &node.kind {
                NodeKind::Input { .. } => {
                    if let Some(a) = self.inputs.get(&index) {
                        known.insert(index, vec![a.clone()]);
                    }
                }
                NodeKind::Literal(v) => {
                    known.insert(index, vec![Artifact::Value(v.clone())]);
                }
                NodeKind::Step { info, .. } => {
                    let waiting: Vec<&str> = node
                        .deps()
                        .iter()
                        .filter(|d| !known.contains_key(&d.index()))
                        .map(|d| self.labels[d.index()].as_str())
                        .collect();
                    if let Some(first) = waiting.first() {
                        let mut reason = format!("upstream `{first}` will run");
                        if let Some(own) = self.partial_reason(node, info, &known).await {
                            reason = format!("{own}; {reason}");
                        }
                        out.push(Explained {
                            label: node.label.clone(),
                            cached: false,
                            reason: Some(reason),
                        });
                        continue;
                    }
                    let inputs = node.realize_args(|id| known.get(&id.index()).map(Vec::as_slice));
                    let (cached, reason) = match self.lookup(node, info, &inputs).await {
                        Ok(Lookup::Hit(outputs)) => {
                            known.insert(index, outputs);
                            (true, None)
                        }
                        Ok(Lookup::Miss { reason, .. }) => (false, Some(reason)),
                        Err(e) => (false, Some(format!("cannot be keyed: {e}"))),
                    };
                    out.push(Explained {
                        label: node.label.clone(),
                        cached,
                        reason,
                    });
                }
            }
        }
        out
    }
}

impl NodeRunner for Arc<StepRunner> {
    fn prepare(&self, node: &Node, inputs: Vec<Artifact>) -> BoxFuture<'static, Result<Prepared>> {
        let this = Arc::clone(self);
        let node = node.clone();
        async move {
            let (info, run_fn) = match &node.kind {
                NodeKind::Input { .. } => {
                    let bound = this.inputs.get(&node.id.index()).cloned();
                    return bound.map(|a| Prepared::Cached(vec![a])).ok_or_else(|| {
                        Error::Usage(format!("pipeline input `{}` is not bound", node.label))
                    });
                }
                NodeKind::Literal(_) => return Ok(Prepared::Cached(inputs)),
                NodeKind::Step { info, run } => (**info, *run),
            };
            match this.lookup(&node, &info, &inputs).await? {
                Lookup::Hit(outputs) => Ok(Prepared::Cached(outputs)),
                Lookup::Miss {
                    key,
                    digest,
                    reason,
                } => {
                    let (shared_with, job) = {
                        let mut in_flight =
                            this.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        match in_flight.get(&digest) {
                            Some((first, job)) if !info.settings.side_effect => {
                                (Some(first.clone()), job.clone())
                            }
                            _ => {
                                let job = this.job(&node, info, run_fn, inputs, key, digest);
                                in_flight.insert(digest, (node.label.clone(), job.clone()));
                                (None, job)
                            }
                        }
                    };
                    let job = job.map(|r| r.map_err(|e| Error::clone(&e))).boxed();
                    Ok(Prepared::Run {
                        reason,
                        job,
                        shared_with,
                    })
                }
            }
        }
        .boxed()
    }
}
