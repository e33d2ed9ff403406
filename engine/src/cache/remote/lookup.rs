//! Looking a step key up on the server: the pipeline's index first, then
//! `GetActionResult`; an answer counts only when its record is tanto's own for the key and
//! every output it names is in the CAS.

use super::proto::re;
use super::shape;
use super::wire::{RECORD_TYPE, action_of, check_digest, output_path};
use super::{Remote, RemoteFound};
use crate::cache::key::ArtifactKind;
use crate::cache::store::{ActionResult, OutputRecord};
use crate::digest::Digest;

/// The step a key is looked up for, as far as its result's shape goes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expected<'a> {
    /// The step's label, for warnings.
    pub label: &'a str,
    /// Its output type, as written ([`StepInfo::output`](crate::graph::StepInfo)):
    /// what the outputs of a result must fit.
    pub output: &'a str,
}

impl Remote {
    /// What the server holds for the step key `key` of the step labelled `label`, whose
    /// output type is `output` as written ([`StepInfo::output`](crate::graph::StepInfo)): a
    /// sound result whose outputs fit that type and are all in its CAS, or one it cannot serve
    /// and why. Reads the action result only (from the pipeline's index when it has one for
    /// the key); no output is fetched.
    pub async fn lookup(&self, key: &Digest, label: &str, output: &str) -> RemoteFound {
        let step = &Expected { label, output };
        let action = action_of(key).digest;
        let indexed = match self.index.get(&action) {
            Some(found) => self.accept(&action, found, key, Some(step)).await,
            None => RemoteFound::Nothing,
        };
        if let RemoteFound::Hit(record) = indexed {
            self.count_hit(key, true);
            return RemoteFound::Hit(record);
        }
        // A server may answer NOT_FOUND for a result whose outputs left its CAS: what the
        // index found out is then the answer.
        match self.ask(&action, key, Some(step)).await {
            Some(RemoteFound::Hit(record)) => {
                self.count_hit(key, false);
                RemoteFound::Hit(record)
            }
            Some(asked) => asked,
            None => indexed,
        }
    }

    /// Asks the server for its result for `action`, of the step key `key` of `step` (when
    /// known, its outputs must fit it): none when it has none or fails.
    pub(super) async fn ask(
        &self,
        action: &re::Digest,
        key: &Digest,
        step: Option<&Expected<'_>>,
    ) -> Option<RemoteFound> {
        let request = re::GetActionResultRequest {
            instance_name: self.config.instance.clone(),
            action_digest: Some(action.clone()),
            digest_function: re::SHA256,
        };
        let found = self
            .call(self.config.timeout, self.clients.get_action_result(request))
            .await
            .ok()??;
        Some(self.accept(action, &found, key, step).await)
    }

    /// The record of `found`, the server's result for `action` of the step key `key`, when
    /// it is sound, its outputs fit `step` when it is known and the outputs it names are all
    /// in the CAS; they
    /// become known to [`fetch`](Self::fetch).
    async fn accept(
        &self,
        action: &re::Digest,
        found: &re::ActionResult,
        key: &Digest,
        step: Option<&Expected<'_>>,
    ) -> RemoteFound {
        let read = read_result(found, key, self.max_blob).and_then(|(record, wires)| {
            if let Some(step) = step {
                shape::fits(step.output, &record.outputs)?;
            }
            Ok((record, wires))
        });
        let (record, wires) = match read {
            Ok(read) => read,
            Err(why) => {
                let label = step.map_or_else(String::new, |s| format!("step `{}`, ", s.label));
                tracing::warn!(
                    "ignoring the remote cache's result for {label}key {}: {why}; the step runs here",
                    key.short()
                );
                return RemoteFound::Nothing;
            }
        };
        let digests: Vec<re::Digest> = wires.iter().map(|(_, w)| w.clone()).collect();
        let total = digests.len();
        let missing = if digests.is_empty() {
            Vec::new()
        } else {
            match self.find_missing(digests).await {
                Ok(missing) => missing,
                Err(_) => return RemoteFound::Nothing,
            }
        };
        if !missing.is_empty() {
            return RemoteFound::Unusable(format!(
                "the shared cache has a result for this key, but {} of its {total} outputs {} gone from the server's storage",
                missing.len(),
                if missing.len() == 1 { "is" } else { "are" }
            ));
        }
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for (output, wire) in wires {
            known.insert(output.digest, (output, wire));
        }
        drop(known);
        self.remember_shared(action.clone(), found.clone());
        RemoteFound::Hit(Box::new(record))
    }
}

/// The tanto record inside a server's `ActionResult`, checked against `key`, and each output
/// that lives in the CAS with its wire digest.
pub(super) fn read_result(
    found: &re::ActionResult,
    key: &Digest,
    max_blob: u64,
) -> std::result::Result<(ActionResult, Vec<(OutputRecord, re::Digest)>), String> {
    // tanto shares only what succeeded; a failure is never a result to reuse.
    if found.exit_code != 0 {
        return Err(format!(
            "it says its action failed (exit code {})",
            found.exit_code
        ));
    }
    let any = found
        .execution_metadata
        .as_ref()
        .and_then(|m| {
            m.auxiliary_metadata
                .iter()
                .find(|a| a.type_url == RECORD_TYPE)
        })
        .ok_or("it holds no tanto record")?;
    let record: ActionResult =
        serde_json::from_slice(&any.value).map_err(|_| "its tanto record does not parse")?;
    if record.key.digest() != *key {
        return Err("its record belongs to another key".into());
    }
    let mut wires = Vec::new();
    for (i, output) in record.outputs.iter().enumerate() {
        let path = output_path(i);
        let wire = match output.kind {
            ArtifactKind::Value if output.value_intact() => continue,
            ArtifactKind::Value => {
                return Err(format!("output {i}'s value does not match its digest"));
            }
            ArtifactKind::Secret => {
                return Err(format!("output {i} is a secret, which is never shared"));
            }
            ArtifactKind::Image if output.image_id.is_none() => {
                return Err(format!("output {i} is an image without an id"));
            }
            ArtifactKind::Dir => found
                .output_directories
                .iter()
                .find(|d| d.path == path)
                .and_then(|d| d.tree_digest.clone()),
            ArtifactKind::Image => found
                .output_files
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| f.digest.clone()),
            ArtifactKind::File => found
                .output_files
                .iter()
                .find(|f| f.path == path && f.is_executable == output.executable)
                .and_then(|f| f.digest.clone()),
        };
        let wire = wire.ok_or_else(|| format!("output {i} is not in the action result"))?;
        let size = check_digest(&wire, max_blob)?;
        if output.kind == ArtifactKind::File && size != output.size {
            return Err(format!(
                "output {i} has size {size} where the record says {}",
                output.size
            ));
        }
        wires.push((output.clone(), wire));
    }
    Ok((record, wires))
}
