//! The real node runner: keys each step, answers from the store when it can, and otherwise
//! runs the step's fn with a context, records its outputs and explains why it ran.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::artifact::{Artifact, Origin};
use crate::cache::{ActionResult, CodeKey, InputRecord, KeyRecord, Reason, explain};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Arg, Node, NodeKind, Plan, RunFn, StepInfo};
use crate::input::ViewMode;
use crate::report::say;
use crate::report::{Event, utc};
use crate::run::guards::{
    changed_during_run, host_inputs, missing_image, moved_image, with_timeout,
};
use crate::run::job::panicked;
use crate::run::named::check_steps;
use crate::run::plan::{after_side_effects, near_secrets};
use crate::run::remote::{Producer, share};
use crate::run::scheduler::{NodeRunner, Prepared};
use crate::run::summary::RunSummary;
use crate::step::{Ctx, Recipe, RunContext, open_shell, service_input};

type SharedJob = Shared<BoxFuture<'static, std::result::Result<Vec<Artifact>, Arc<Error>>>>;

/// Runs steps for real: store lookups, containers through the run's backend.
pub struct StepRunner {
    pub(super) run: Arc<RunContext>,
    pipeline: &'static str,
    pub(super) labels: Vec<Arc<str>>,
    pub(super) is_step: Vec<bool>,
    pub(super) inputs: HashMap<usize, Artifact>,
    forced: Option<Vec<String>>,
    require_cache: bool,
    /// `--plan`: lookups write nothing to the store (no remote hit kept, no last key moved).
    pub(super) looking_only: bool,
    /// Side effects and the steps downstream of them, which `--require-cache` lets run.
    after_side_effect: HashSet<usize>,
    /// The steps that can know a secret's value, whose returned values are redacted.
    near_secrets: HashSet<usize>,
    pub(super) in_flight: Mutex<HashMap<Digest, (Arc<str>, SharedJob)>>,
    /// The steps that made the outputs of remote hits, by output digest.
    pub(super) producers: Mutex<HashMap<Digest, Producer>>,
}

/// What a step's key lookup found.
pub(super) enum Lookup {
    /// The recorded result, its outputs, and whether the shared cache answered.
    Hit(Box<ActionResult>, Vec<Artifact>, bool),
    Miss {
        key: Box<KeyRecord>,
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
            check_steps(plan, steps, "no-cache")?;
        }
        Ok(Self {
            run,
            pipeline: plan.pipeline.name,
            labels: plan.nodes.iter().map(|n| n.label.clone()).collect(),
            is_step: plan.nodes.iter().map(|n| n.step().is_some()).collect(),
            near_secrets: near_secrets(plan, &inputs),
            inputs,
            forced,
            require_cache: false,
            looking_only: false,
            after_side_effect: after_side_effects(plan),
            in_flight: Mutex::new(HashMap::new()),
            producers: Mutex::new(HashMap::new()),
        })
    }

    /// With `on`, a step that misses fails instead of running (`--require-cache`); side effects
    /// still run.
    pub fn require_cache(mut self, on: bool) -> Self {
        self.require_cache = on;
        self
    }

    /// With `on`, lookups only look (`--plan`): a remote hit is not kept in the store, and no
    /// step's last key moves, so a plan changes nothing the next run sees.
    pub fn looking_only(mut self, on: bool) -> Self {
        self.looking_only = on;
        self
    }

    async fn image_id(&self, image: &str) -> Result<String> {
        let progress = |line: &str| say!("tanto: pulling {image}: {line}");
        Ok(self.run.resolve_image(image, &progress).await?.to_string())
    }

    pub(super) fn history_name(&self, label: &str) -> String {
        format!("{}/{label}", self.pipeline)
    }

    /// Keeps `key` as the last key of the step labelled `label` in this pipeline when it is
    /// not already: the next miss is explained against what the step last used, run or cached
    /// (after a cached run of a step that another pipeline ran, or a change undone).
    pub(super) fn remember_hit(&self, label: &str, key: &KeyRecord) {
        if self.looking_only {
            return;
        }
        let history = self.history_name(label);
        let store = &self.run.store;
        let known = store.last_key(&history).ok().flatten();
        if known.is_none_or(|k| k.digest() != key.digest())
            && let Err(e) = store.set_last_key(&history, key)
        {
            tracing::warn!("could not remember the key of `{label}`: {e}");
        }
    }

    /// Why the step labelled `label` runs whatever its key: forced, a side effect, or code
    /// that cannot be keyed.
    pub(super) fn runs_anyway(&self, label: &str, info: &StepInfo) -> Option<String> {
        if self.is_forced(label) {
            Some(Reason::Forced.to_string())
        } else if info.settings.side_effect {
            Some("a side effect: never cached".to_owned())
        } else {
            let code = CodeKey::of(info);
            let why = code.uncacheable()?;
            Some(format!("its code cannot be keyed ({why}): never cached"))
        }
    }

    fn is_forced(&self, label: &str) -> bool {
        self.forced
            .as_ref()
            .is_some_and(|steps| steps.is_empty() || steps.iter().any(|s| s == label))
    }

    pub(super) async fn key(
        &self,
        node: &Node,
        info: &StepInfo,
        inputs: &[Artifact],
    ) -> Result<KeyRecord> {
        let image = match info.settings.image {
            Some(image) => Some(self.image_id(image).await?),
            None => None,
        };
        let mut key = KeyRecord::for_step(info, image.as_deref());
        for ((param, artifact), arg) in info.params.iter().zip(inputs).zip(&node.args) {
            let upstream = match arg {
                Arg::Handle { node, .. } if self.is_step[node.index()] => {
                    self.labels.get(node.index()).map(|l| &**l)
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
                key.input_setting(param.name, "image", id);
            }
            // Step code can read a file's captured name and its mode, and a mounted file keeps
            // the mode, so a renamed file, or one made executable, is another input even when
            // its bytes are the same; settings, so a miss names them.
            if let Artifact::File(file) = artifact {
                if let Some(name) = file.name() {
                    key.input_setting(param.name, "name", name);
                }
                if file.is_executable() {
                    key.input_setting(param.name, "executable", "true");
                }
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

    pub(super) async fn lookup(
        &self,
        node: &Node,
        info: &StepInfo,
        inputs: &[Artifact],
    ) -> Result<Lookup> {
        let key = self.key(node, info, inputs).await?;
        let digest = key.digest();
        let store = &self.run.store;
        let reason = if let Some(why) = self.runs_anyway(&node.label, info) {
            why
        } else {
            // What the shared cache had for this key and could not serve, said after the rest.
            let mut unusable = None;
            let stale = match store.lookup(&digest)? {
                Some(hit) => match moved_image(&self.run, &hit, false).await {
                    Some(moved) => Some(moved.to_string()),
                    None => {
                        let outputs = store.outputs(&hit)?;
                        match missing_image(&self.run, &outputs).await? {
                            None => {
                                self.remember_hit(&node.label, &key);
                                self.share_hit((info, inputs), &digest, &hit, &outputs);
                                return Ok(Lookup::Hit(Box::new(hit), outputs, false));
                            }
                            // The remote cache may hold it, to load when it is needed.
                            gone => match self.remote_hit(node, inputs, &key, &digest).await {
                                Ok((hit, outputs)) => {
                                    match moved_image(&self.run, &hit, true).await {
                                        Some(moved) => Some(moved.to_string()),
                                        None => {
                                            return Ok(Lookup::Hit(Box::new(hit), outputs, true));
                                        }
                                    }
                                }
                                Err(_) => gone,
                            },
                        }
                    }
                },
                None => match self.remote_hit(node, inputs, &key, &digest).await {
                    Ok((hit, outputs)) => match moved_image(&self.run, &hit, true).await {
                        Some(moved) => Some(moved.to_string()),
                        None => return Ok(Lookup::Hit(Box::new(hit), outputs, true)),
                    },
                    Err(why) => {
                        unusable = why;
                        None
                    }
                },
            };
            let history = self.history_name(&node.label);
            let previous = store.last_key(&history)?;
            let reasons = explain(previous.as_ref(), &key, store);
            let lost = || {
                previous
                    .is_none()
                    .then(|| store.lost_output(&digest))
                    .flatten()
            };
            let reason = if let Some(stale) = stale {
                stale
            } else if let Some(lost) = lost() {
                // A first run here, of a result another pipeline left: what it lost.
                lost
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
                store.why_no_result(&digest)
            };
            match unusable {
                Some(why) => format!("{reason}; {why}"),
                None => reason,
            }
        };
        Ok(Lookup::Miss {
            key: Box::new(key),
            digest,
            reason,
        })
    }

    pub(super) fn job(
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
        let cacheable = !info.settings.side_effect && CodeKey::of(&info).uncacheable().is_none();
        // Host folders and files the step read: they must still hold what the key says when
        // it ends.
        let host = host_inputs(&info, &inputs, &node.args, &self.is_step);
        let code = CodeKey::of(&info).digest;
        let shareable = super::remote::shareable(&info, &inputs);
        let near_secrets = self.near_secrets.contains(&node.id.index());
        async move {
            let ctx = Ctx::new(Arc::clone(&run), info, label.clone());
            // The last run of this code ran one command: it may run as its container's PID 1.
            // Without a record for this step, a step of the same code that ended in this run
            // tells.
            let recorded = match run.store.single_command(&history, &code) {
                Ok(recorded) => recorded,
                Err(e) => {
                    tracing::debug!("cannot read how `{label}` ran last: {e}");
                    None
                }
            };
            let hint = recorded.or_else(|| run.single_by_code(&code)).unwrap_or(false);
            ctx.container_state().hint.store(hint, Ordering::Relaxed);
            let started = std::time::Instant::now();
            // A panic in the step's code is a failure like any other, remembered as one.
            let body = std::panic::AssertUnwindSafe(run_fn(&ctx, inputs))
                .catch_unwind()
                .map(|ran| ran.unwrap_or_else(|panic| Err(panicked(&label, &*panic))));
            let result = tokio::select! {
                biased;
                () = ctx.cancel_token().cancelled() => Err(Error::Cancelled),
                result = with_timeout(&ctx, body) => result,
            };
            let recipe = ctx.recipe().await;
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
            // Off the step's critical path: its dependents start while the daemon removes it,
            // and the run waits for every removal before it ends.
            ctx.close_in_background();
            let cut_short = matches!(
                &result,
                Err(Error::Cancelled | Error::Timeout { .. } | Error::DaemonLost { .. })
            );
            if recipe.is_some() && !cut_short {
                let single = ctx.container_state().ran_one_command();
                run.note_single(&code, single);
                if recorded != Some(single)
                    && let Err(e) = run.store.set_single_command(&history, &code, single)
                {
                    tracing::warn!("could not remember how `{label}` ran: {e}");
                }
            }
            // For `shell STEP`: how its container was set up, or that it started none.
            if recipe.is_some() || !cut_short {
                Recipe::remember(&run, &history, &label, recipe);
            }
            let mut outputs = match result {
                Ok(outputs) => outputs,
                Err(e) => {
                    // A step's own failure is remembered (never cached) so the next run can say
                    // so; a cancelled run or a lost daemon says nothing about the step.
                    if !matches!(e, Error::Cancelled | Error::DaemonLost { .. })
                        && let Err(e) = run.store.set_last_failure(&history, &key, SystemTime::now())
                    {
                        tracing::warn!("could not remember the failure of `{label}`: {e}");
                    }
                    return Err(e);
                }
            };
            // A secret that a step put into a value it returns is masked before anything sees
            // the value: its dependents, the store, the views. Only a step that can know one:
            // another's value that merely reads like a secret is left as it is.
            let redactor = run.events.redactor();
            if near_secrets && !redactor.is_empty() {
                for output in &mut outputs {
                    if let Artifact::Value(value) = output {
                        redactor.redact_json(value);
                    }
                }
            }
            let changed = changed_during_run(&run, &host).await;
            if let Some(param) = &changed {
                run.events.send(Event::StepNote {
                    step: label.clone(),
                    message: format!(
                        "input `{param}` changed while `{label}` ran, so its result is not cached"
                    ),
                });
            }
            if cacheable && changed.is_none() {
                let mut record = ActionResult::new(key.clone(), &outputs, started.elapsed());
                // An image chosen at run time: the result holds while its tag does not move.
                record.images = ctx.images_used();
                record
                    .images
                    .retain(|image, _| info.settings.image != Some(image.as_str()));
                if let Err(e) = run.store.record(&digest, &record) {
                    tracing::warn!("could not cache the result of `{label}`: {e}");
                } else if shareable {
                    share(&run, digest, record, outputs.clone(), Some(ctx.logs()), false);
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
}

impl NodeRunner for Arc<StepRunner> {
    fn settle(&self, summary: &mut RunSummary) {
        self.count_ran_again(summary);
    }

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
                Lookup::Hit(_, outputs, _) => Ok(Prepared::Cached(outputs)),
                Lookup::Miss { reason, .. }
                    if this.require_cache && !this.after_side_effect.contains(&node.id.index()) =>
                {
                    Err(Error::Usage(format!(
                        "--require-cache: step `{}` would run: {reason}",
                        node.label
                    )))
                }
                missed => {
                    // Outputs of remote hits this step reads are fetched now, or made again.
                    let (inputs, lookup) = this.fetch_inputs(&node, &info, inputs, missed).await?;
                    let (key, digest, reason) = match lookup.into_miss() {
                        Ok(miss) => miss,
                        Err(outputs) => return Ok(Prepared::Cached(outputs)),
                    };
                    let (shared_with, job) = {
                        let mut in_flight =
                            this.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        match in_flight.get(&digest) {
                            Some((first, job)) if !info.settings.side_effect => {
                                (Some(Arc::clone(first)), job.clone())
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
