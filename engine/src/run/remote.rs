//! The run's side of the shared cache: connecting, asking it after a local miss, sharing a
//! step's result with its logs and its images (saved from the daemon as tarballs), fetching
//! a remote hit's outputs when a step that runs or `--out` needs them (`fetch.rs`: loading an
//! image into the daemon, and running the step that made them again when they cannot be
//! fetched or an image loads as something else), and the summary line.

mod fetch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::cache::{ActionResult, KeyRecord, Remote, RemoteConfig, RemoteFound, StepLogs};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Node, Plan, StepInfo};
use crate::input::secret_value;
use crate::report::{human_bytes, plural, say};
use crate::run::options::RunOptions;
use crate::run::runner::StepRunner;
use crate::step::RunContext;

/// The step that made an output of a remote hit, kept so it can run here when the output
/// cannot be fetched.
#[derive(Clone)]
pub(super) struct Producer {
    node: Node,
    inputs: Vec<Artifact>,
    key: KeyRecord,
    digest: Digest,
    /// Which of its outputs this is.
    index: usize,
    /// What it made in this output's place when it ran here after all.
    remade: Option<Artifact>,
}

/// The run's connection to the remote cache, under way beside the hashing of its inputs and
/// the connection to Docker: its handshake and capabilities call cost a round trip or more,
/// which a remote server far away makes the larger part of a cached run.
pub(super) struct Connecting {
    token: Option<String>,
    /// What the end of a run that could not use the server says instead of its figures.
    unused: String,
    /// Aborted when the run ends before it is waited for (aborting a finished task does
    /// nothing).
    task: tokio::task::JoinHandle<Result<Option<Remote>>>,
}

/// Starts connecting to the run's remote cache and reading the index of `plan`'s pipeline
/// there: none without `--remote-cache` or `TANTO_REMOTE_CACHE`. A malformed setting or a
/// token that cannot be read is an error at once; a bad URL or CA file is one when the
/// connection is [finished](Connecting::finish).
pub(super) fn connect(options: &RunOptions, plan: &Plan) -> Result<Option<Connecting>> {
    let Some(mut config) =
        RemoteConfig::from_env(options.remote_cache.clone(), options.remote_upload)?
    else {
        // Asked for by flag, sharing without a server is a mistake; set in the environment
        // (a CI's variables for every job), it may be meant for other runs, and only said.
        let flags: Vec<&str> = [
            ("--remote-upload", options.remote_upload),
            ("--remote-token", options.remote_token.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !flags.is_empty() {
            let needs = if flags.len() == 1 { "needs" } else { "need" };
            return Err(Error::Usage(format!(
                "{} {needs} a shared cache: give --remote-cache URL or set TANTO_REMOTE_CACHE",
                flags.join(" and ")
            )));
        }
        let set = RemoteConfig::settings_without_url();
        if !set.is_empty() {
            say!(
                "warning: {} set, but TANTO_REMOTE_CACHE is not (nor --remote-cache): nothing is shared this run",
                set.join(", ")
            );
        }
        return Ok(None);
    };
    config.index = Some(index_key(plan));
    config.by_flag |= options.remote_upload || options.remote_token.is_some();
    if let Some(source) = &options.remote_token {
        config.token = Some(secret_value("remote-token", Some(source))?);
    }
    if config.token.is_some() && in_clear_beyond_this_machine(&config.url) {
        say!(
            "warning: the shared cache's token goes in clear text to {}: anyone on the way can read it; use grpcs://",
            config.url
        );
    }
    let shared = if config.upload { " or shared" } else { "" };
    Ok(Some(Connecting {
        unused: format!(
            "tanto: remote cache {}: not used this run (the warning above says why): nothing was read from it{shared}",
            config.url
        ),
        token: config.token.clone(),
        task: tokio::spawn(Remote::connect(config)),
    }))
}

/// The key of the pipeline's index on the server: its fn's path (its crate's name first, so
/// two projects' `ci` pipelines do not share one) and its steps' labels, which hold the items
/// of its matrices. Runs that share them share an index, whatever their inputs and the
/// values of flags that choose no steps; no path of this machine goes into it. The lengths
/// keep the parts apart.
fn index_key(plan: &Plan) -> Digest {
    let mut bytes = b"tanto pipeline index v1".to_vec();
    let path = plan.pipeline.path;
    for part in std::iter::once(path).chain(plan.steps().map(|(node, _)| &*node.label)) {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    Digest::of(&bytes)
}

/// Whether `url` is plain `grpc://` to a host other than this machine's loopback.
fn in_clear_beyond_this_machine(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("grpc://") else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split([':', '/']).next().unwrap_or_default(),
    };
    !(host == "localhost" || host == "::1" || host.starts_with("127."))
}

impl Connecting {
    /// The line that ends a run that could not use the server, in place of
    /// [`summary_line`]'s.
    pub(super) fn unused_line(&self) -> String {
        self.unused.clone()
    }

    /// The token sent to the server, which the run makes a secret of its events before it
    /// prints anything: whatever prints or records, never it.
    pub(super) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The remote cache, or none when the server cannot serve (one warning line said so).
    pub(super) async fn finish(mut self) -> Result<Option<Arc<Remote>>> {
        let remote = (&mut self.task)
            .await
            .map_err(|e| Error::Other(format!("connecting to the remote cache failed: {e}")))??;
        Ok(remote.map(Arc::new))
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends a step's result to the remote cache, in the background, when this run writes to it:
/// its outputs, its redacted `logs` (none for a local hit, whose logs the store does not
/// keep), and each image output saved from the daemon as a tarball; `only_if_lacking` for a
/// local hit, which is sent only when the server lacks it ([`Remote::lacks`]). An image that
/// cannot be saved keeps the result local, with a warning. [`finish`] waits for it.
pub(super) fn share(
    run: &Arc<RunContext>,
    digest: Digest,
    record: ActionResult,
    outputs: Vec<Artifact>,
    logs: Option<StepLogs>,
    only_if_lacking: bool,
) {
    let Some(remote) = run.remote.clone().filter(|r| r.uploads()) else {
        return;
    };
    let run_for_it = Arc::clone(run);
    run.sharing(async move {
        let run = run_for_it;
        if only_if_lacking && !remote.lacks(&digest).await {
            return;
        }
        // The tarballs live as long as this folder: until the upload is done.
        let (_staging, images) = match save_images(&run, &outputs).await {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!("could not save an image to share it with the remote cache: {e}");
                return;
            }
        };
        remote
            .upload(&run.store, &digest, &record, logs, &images)
            .await;
    });
}

/// Whether a step's result may be shared: not when it is keyed by a secret's value, hashed
/// with this store's own key, since no other machine can hit it (nor should it see what the
/// step may have leaked into it).
pub(super) fn shareable(info: &StepInfo, inputs: &[Artifact]) -> bool {
    !(info.settings.secret_in_key && inputs.iter().any(|a| matches!(a, Artifact::Secret(_))))
}

/// Each image among `outputs` saved from the daemon as a tarball in a new folder of the
/// store's, by content digest.
async fn save_images(
    run: &RunContext,
    outputs: &[Artifact],
) -> Result<(Option<TempDir>, HashMap<Digest, PathBuf>)> {
    let mut images = HashMap::new();
    if !outputs.iter().any(|o| matches!(o, Artifact::Image(_))) {
        return Ok((None, images));
    }
    let dir = run.store.temp_dir()?;
    for (i, output) in outputs.iter().enumerate() {
        if let Artifact::Image(image) = output {
            let path = dir.path().join(format!("{i}.tar"));
            run.backend.export_image(image.id(), &path).await?;
            images.insert(image.digest(), path);
        }
    }
    Ok((Some(dir), images))
}

/// Ends the run's sharing: waits for the results still being sent, then writes the
/// pipeline's index, unless the run was interrupted (a run that stopped at a failure writes
/// it); `whole` when the run reached every step. Ctrl-C abandons what is under way, saying
/// so: then true, and the run exits as interrupted.
pub(super) async fn finish(run: &RunContext, whole: bool, interrupted: &CancellationToken) -> bool {
    let Some(remote) = run.remote.as_deref() else {
        return false;
    };
    if run.shared(interrupted).await {
        say!(
            "tanto: interrupted while sharing results with the shared cache: those under way are not shared, nor is the pipeline's index"
        );
        return true;
    }
    if interrupted.is_cancelled() {
        return false;
    }
    tokio::select! {
        () = remote.write_index(whole) => false,
        () = interrupted.cancelled() => {
            say!(
                "tanto: interrupted while writing the pipeline's index to the shared cache: the steps' results are shared, the index is not"
            );
            true
        }
    }
}

/// One line about what the run did with the remote cache.
pub(super) fn summary_line(remote: &Remote) -> String {
    let s = remote.stats();
    let from_index = match s.from_index {
        0 => String::new(),
        n => format!(" ({n} from the pipeline's index)"),
    };
    // Exact below a KiB, as people read it above.
    let size = |n: u64| match n {
        0..1024 => format!("{n} bytes"),
        _ => human_bytes(n),
    };
    let mut line = format!(
        "tanto: remote cache {}: {}{from_index}, {} fetched ({})",
        remote.url(),
        plural(s.hits as usize, "hit"),
        plural(s.blobs_fetched as usize, "blob"),
        size(s.bytes_fetched),
    );
    if remote.uploads() {
        line.push_str(&format!(
            ", {} and {} sent ({})",
            plural(s.results_sent as usize, "result"),
            plural(s.blobs_sent as usize, "blob"),
            size(s.bytes_sent)
        ));
        if s.indexed > 0 {
            line.push_str(&format!(
                ", the pipeline's index written ({})",
                plural(s.indexed as usize, "result")
            ));
        }
        if s.not_shared > 0 {
            line.push_str(&format!(
                "; {} NOT shared (the warning above says why)",
                plural(s.not_shared as usize, "result")
            ));
        }
    }
    line
}

impl StepRunner {
    /// Shares a local hit, `hit` under `digest` with its `outputs`, when this run writes to
    /// the remote cache and the server lacks it (see [`Remote::lacks`]), without a log.
    pub(super) fn share_hit(
        &self,
        (info, inputs): (&StepInfo, &[Artifact]),
        digest: &Digest,
        hit: &ActionResult,
        outputs: &[Artifact],
    ) {
        let Some(remote) = self.run.remote.as_deref() else {
            return;
        };
        if !self.looking_only && shareable(info, inputs) && remote.uploads() {
            share(
                &self.run,
                *digest,
                hit.clone(),
                outputs.to_vec(),
                None,
                true,
            );
        }
    }

    /// Asks the remote cache for `digest` after a local miss; a hit is remembered in the
    /// local store (its record, and the step's last key) and its outputs are pending: known
    /// by digest, fetched when needed. A miss gives what the server had that it could not
    /// serve, for the miss's reason.
    pub(super) async fn remote_hit(
        &self,
        node: &Node,
        inputs: &[Artifact],
        key: &KeyRecord,
        digest: &Digest,
    ) -> Result<(ActionResult, Vec<Artifact>), Option<String>> {
        let Some(remote) = self.run.remote.as_ref() else {
            return Err(None);
        };
        let crate::graph::NodeKind::Step { info, .. } = &node.kind else {
            return Err(None);
        };
        let mut hit = match remote.lookup(digest, &node.label, info.output).await {
            RemoteFound::Hit(hit) => *hit,
            RemoteFound::Unusable(why) => return Err(Some(why)),
            RemoteFound::Nothing => return Err(None),
        };
        // The same key, with what only explains it (code items' places, upstream labels, the
        // values shown in a miss) as this machine has them, not as another machine wrote them.
        hit.key = key.clone();
        let store = &self.run.store;
        if !self.looking_only
            && let Err(e) = store.record_remote(digest, &hit)
        {
            tracing::warn!("could not keep the remote result of `{}`: {e}", node.label);
        }
        self.remember_hit(&node.label, &hit.key);
        let outputs = store.pending_outputs(&hit);
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        for (index, output) in outputs.iter().enumerate() {
            producers
                .entry(output.digest())
                .or_insert_with(|| Producer {
                    node: node.clone(),
                    inputs: inputs.to_vec(),
                    key: hit.key.clone(),
                    digest: *digest,
                    index,
                    remade: None,
                });
        }
        Ok((hit, outputs))
    }
}

#[cfg(test)]
mod tests {
    use super::in_clear_beyond_this_machine as clear;

    #[test]
    fn a_token_in_clear_text_is_noticed_beyond_loopback_only() {
        assert!(clear("grpc://cache.internal:8980"));
        assert!(clear("grpc://10.0.0.5:8980/"));
        assert!(!clear("grpc://127.0.0.1:8980"));
        assert!(!clear("grpc://localhost:8980"));
        assert!(!clear("grpc://[::1]:8980"));
        assert!(!clear("grpcs://cache.internal:8980"));
    }
}
