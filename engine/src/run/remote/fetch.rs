//! Fetching the outputs of remote hits when a step that runs, or `--out`, needs them: an
//! image is loaded into the daemon, and an output that cannot be fetched (the server stalled
//! or went away, a blob does not match its digest) is made here again by the step that made
//! it. Most builds are not byte for byte reproducible, so what it makes here may differ from
//! the shared output: whatever reads it then reads the new one, under a key of its own.

use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

use super::Producer;
use crate::artifact::{Artifact, Image};
use crate::cache::{KeyRecord, Remote};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind, Plan, StepInfo};
use crate::report::Event;
use crate::run::runner::{Lookup, StepRunner};
use crate::run::summary::{RunSummary, StepStatus};

/// How many times a step's inputs are fetched before it runs: once, and once more after
/// a step that made one ran here again (its new outputs are local: nothing is left to
/// fetch, so the second round changes nothing).
const ROUNDS: usize = 2;

impl Lookup {
    /// A miss's key, its digest and why it missed; a hit's outputs otherwise.
    pub(in crate::run) fn into_miss(
        self,
    ) -> std::result::Result<(KeyRecord, Digest, String), Vec<Artifact>> {
        match self {
            Lookup::Hit(_, outputs, _) => Err(outputs),
            Lookup::Miss {
                key,
                digest,
                reason,
            } => Ok((*key, digest, reason)),
        }
    }
}

impl StepRunner {
    /// The step that made `artifact`, when a remote hit of this run did.
    fn producer_of(&self, artifact: &Artifact) -> Option<Producer> {
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        producers.get(&artifact.digest()).cloned()
    }

    /// Makes sure the store holds each of `artifacts` before a step reads them, and returns
    /// what to read: an output of a remote hit is fetched, and when that fails the step that
    /// made it runs here instead, saying why, and what it made this time stands in for it.
    pub(in crate::run) fn materialize<'a>(
        self: &'a Arc<Self>,
        artifacts: &'a [Artifact],
    ) -> BoxFuture<'a, Result<Vec<Artifact>>> {
        async move {
            let Some(remote) = &self.run.remote else {
                return Ok(artifacts.to_vec());
            };
            let mut ready = Vec::with_capacity(artifacts.len());
            for artifact in artifacts {
                let producer = self.producer_of(artifact);
                if let Some(made) = producer.as_ref().and_then(|p| p.remade.clone()) {
                    ready.push(made);
                    continue;
                }
                let fetched = match artifact {
                    Artifact::Image(image) => self.load_image(remote, image).await,
                    // Ctrl-C stops a fetch at once, however slowly the server sends.
                    _ => tokio::select! {
                        biased;
                        () = self.run.cancel.cancelled() => return Err(Error::Cancelled),
                        fetched = remote.fetch(&self.run.store, artifact) => fetched,
                    },
                };
                match (fetched, producer) {
                    (Ok(()), _) => ready.push(artifact.clone()),
                    (Err(why), None) => return Err(why),
                    (Err(why), Some(p)) => ready.push(self.run_again(p, artifact, &why).await?),
                }
            }
            Ok(ready)
        }
        .boxed()
    }

    /// Fetches the `inputs` of a step that `missed`, before it runs. When a step that made
    /// one of them ran here again and made something else, the step reads another input
    /// than its key said: it is looked up again (it may even be a hit now), and a miss's
    /// reason says which step made its input again.
    pub(in crate::run) async fn fetch_inputs(
        self: &Arc<Self>,
        node: &Node,
        info: &StepInfo,
        mut inputs: Vec<Artifact>,
        mut missed: Lookup,
    ) -> Result<(Vec<Artifact>, Lookup)> {
        for _ in 0..ROUNDS {
            let fetched = self.materialize(&inputs).await?;
            if fetched
                .iter()
                .map(Artifact::digest)
                .eq(inputs.iter().map(Artifact::digest))
            {
                return Ok((fetched, missed));
            }
            let mut remade: Vec<String> = Vec::new();
            for (old, new) in inputs.iter().zip(&fetched) {
                if old.digest() != new.digest()
                    && let Some(p) = self.producer_of(old)
                {
                    let label = format!("`{}`", p.node.label);
                    if !remade.contains(&label) {
                        remade.push(label);
                    }
                }
            }
            inputs = fetched;
            missed = self.lookup(node, info, &inputs).await?;
            match &mut missed {
                Lookup::Hit(..) => return Ok((inputs, missed)),
                Lookup::Miss { reason, .. } => {
                    *reason = format!(
                        "{reason}; and {} ran here again (the shared output could not be fetched) and made another input than the shared one",
                        remade.join(", ")
                    );
                }
            }
        }
        Err(Error::Store(format!(
            "the inputs of `{}` kept changing while they were fetched; run the pipeline again",
            node.label
        )))
    }

    /// Makes sure the daemon holds `image` when a remote hit made it: its tarball is fetched
    /// and loaded, and an image that loads with another content digest than the record's is
    /// an error (the step that made it runs here instead).
    async fn load_image(&self, remote: &Remote, image: &Image) -> Result<()> {
        let backend = &self.run.backend;
        if backend.image_content(image.id()).await?.is_some() {
            return Ok(());
        }
        let Some((_staging, tarball, id)) =
            remote.fetch_image(&self.run.store, &image.digest()).await?
        else {
            return Ok(());
        };
        let loaded = backend.load_image(&tarball, &id).await.map_err(|e| {
            Error::Store(format!(
                "could not load image {} from the remote cache: {e}",
                image.digest().short()
            ))
        })?;
        if loaded.digest != image.digest() {
            // Ours to remove: nothing else on this machine asked for it.
            let _ = backend.remove_image(&loaded.id).await;
            return Err(Error::Store(format!(
                "image {} from the remote cache loaded with content digest {}, not the one \
                 recorded",
                image.digest().short(),
                loaded.digest.short()
            )));
        }
        Ok(())
    }

    /// Runs the step of a remote hit whose output `wanted` could not be fetched (once,
    /// however many steps need its outputs), and returns what it made in its place.
    async fn run_again(
        self: &Arc<Self>,
        p: Producer,
        wanted: &Artifact,
        why: &Error,
    ) -> Result<Artifact> {
        let label = p.node.label.clone();
        let NodeKind::Step { info, run } = &p.node.kind else {
            return Err(Error::Store(format!("`{label}` is not a step")));
        };
        // Its own inputs may be outputs of remote hits, fetched or made here again too: then
        // it runs under the key of what it reads.
        let inputs = self.materialize(&p.inputs).await?;
        let (key, digest) = if inputs
            .iter()
            .map(Artifact::digest)
            .eq(p.inputs.iter().map(Artifact::digest))
        {
            (p.key.clone(), p.digest)
        } else {
            let key = self.key(&p.node, info, &inputs).await?;
            let digest = key.digest();
            (key, digest)
        };
        // The step's own events, as if it ran from the start: it was cached, it runs now.
        let (job, started) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&digest) {
                Some((_, job)) => (job.clone(), None),
                None => {
                    self.run.events.send(Event::StepStarted {
                        step: label.clone(),
                        reason: format!("runs here after all: {why}"),
                        shared_with: None,
                    });
                    let job = self.job(&p.node, **info, *run, inputs, key, digest);
                    in_flight.insert(digest, (label.clone(), job.clone()));
                    (job, Some(Instant::now()))
                }
            }
        };
        let outputs = job.await.map_err(|e| Error::clone(&e));
        if let Some(started) = started {
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.run.events.send(match &outputs {
                Ok(_) => Event::StepFinished {
                    step: label.clone(),
                    duration_ms,
                },
                Err(Error::Cancelled) => Event::StepSkipped {
                    step: label.clone(),
                    reason: "stopped while running".to_owned(),
                    stopped: true,
                },
                Err(e) => Event::StepFailed {
                    step: label.clone(),
                    duration_ms,
                    error: e.to_string(),
                    kind: e.kind(),
                    log_path: None,
                },
            });
        }
        let outputs = outputs?;
        let made = outputs.get(p.index).cloned().ok_or_else(|| {
            Error::Store(format!(
                "`{label}` ran again after its remote output could not be fetched, and made fewer outputs"
            ))
        })?;
        // It ran here: its remote hit is no longer one.
        if let Some(remote) = &self.run.remote {
            remote.forget_hit(&p.digest);
        }
        // Every output of that run stands in for the one the remote hit recorded.
        let mut first = false;
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        for q in producers.values_mut() {
            if q.digest == p.digest && q.node.id == p.node.id && q.remade.is_none() {
                q.remade = outputs.get(q.index).cloned();
                first |= q.index == p.index;
            }
        }
        drop(producers);
        if first && made.digest() != wanted.digest() {
            self.run.events.send(Event::StepNote {
                step: label.clone(),
                message: format!(
                    "`{label}` ran here and its output {} came out as {} {}, not as the shared cache's {}: the steps that read it here read the one made here",
                    p.index,
                    made.kind(),
                    made.digest().short(),
                    wanted.digest().short()
                ),
            });
        }
        Ok(made)
    }

    /// Counts the steps that ran here after all (their remote hit's output could not be
    /// fetched) as run in `summary`, not cached.
    pub(in crate::run) fn count_ran_again(&self, summary: &mut RunSummary) {
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        for p in producers.values().filter(|p| p.remade.is_some()) {
            for step in &mut summary.steps {
                if step.label == p.node.label && step.status == StepStatus::Cached {
                    step.status = StepStatus::Done;
                }
            }
        }
    }

    /// Fetches the final outputs of a run for `--out`, in `summary`: an output made here again
    /// takes the place of the shared one it could not fetch. Returns the labels of the steps
    /// whose output differs from the shared one.
    pub(in crate::run) async fn materialize_outputs(
        self: &Arc<Self>,
        plan: &Plan,
        summary: &mut RunSummary,
    ) -> Result<Vec<Arc<str>>> {
        let Some(outputs) = summary.final_outputs(plan) else {
            return Ok(Vec::new());
        };
        let fetched = self.materialize(&outputs).await?;
        let mut remade = Vec::new();
        for ((&(node, part), old), new) in plan.outputs.iter().zip(&outputs).zip(fetched) {
            if old.digest() == new.digest() {
                continue;
            }
            if let Some(p) = self.producer_of(old)
                && !remade.contains(&p.node.label)
            {
                remade.push(p.node.label.clone());
            }
            if let Some(slot) = summary
                .outputs
                .get_mut(&node.index())
                .and_then(|o| o.get_mut(part))
            {
                *slot = new;
            }
        }
        Ok(remade)
    }
}
