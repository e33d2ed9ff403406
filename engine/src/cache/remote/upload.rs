//! Sharing a step's result: its outputs as REAPI blobs and trees, only the blobs the server
//! lacks, then the action result that holds tanto's record.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use prost::Message as _;

use super::cas::Blob;
use super::proto::protobuf::Any;
use super::proto::re;
use super::wire::{self, RECORD_TYPE, action_of, output_path, sha, sha_file};
use super::{Counter, Remote, StepLogs};
use crate::cache::key::ArtifactKind;
use crate::cache::store::{ActionResult, Store};
use crate::digest::Digest;

impl Remote {
    /// Sends the result of the step key `key`, its outputs and its logs (none for a result
    /// shared from the local store, which keeps no log of it), when this run may write: the
    /// blobs the server lacks, then the action result. An image output travels as
    /// the `docker save` tarball `images` holds for its digest (the run saves it: the daemon
    /// holds images); a result with an image that has none there is not shared. Failures
    /// give the run's one warning, never an error.
    pub async fn upload(
        &self,
        store: &Store,
        key: &Digest,
        result: &ActionResult,
        logs: Option<StepLogs>,
        images: &HashMap<Digest, PathBuf>,
    ) {
        if !self.config.upload {
            return;
        }
        if !self.breaker.is_closed() {
            self.count(Counter::NotShared, 1);
            return;
        }
        if let Err(why) = self.try_upload(store, key, result, logs, images).await {
            self.count(Counter::NotShared, 1);
            // A fault opened the breaker, whose one warning said so; anything else is told here.
            if self.breaker.is_closed() {
                tracing::warn!(
                    "could not share the result of key {} with the remote cache: {why}",
                    key.short()
                );
            }
        }
    }

    async fn try_upload(
        &self,
        store: &Store,
        key: &Digest,
        result: &ActionResult,
        logs: Option<StepLogs>,
        images: &HashMap<Digest, PathBuf>,
    ) -> std::result::Result<(), String> {
        let action = action_of(key);
        let mut blobs = vec![
            Blob::Bytes(sha(&action.action), action.action.clone()),
            Blob::Bytes(sha(&action.command), action.command.clone()),
            Blob::Bytes(sha(&[]), Vec::new()),
        ];
        let mut ar = re::ActionResult::default();
        for (i, output) in result.outputs.iter().enumerate() {
            let path = output_path(i);
            match output.kind {
                ArtifactKind::Dir => {
                    let blob =
                        |d: &Digest, exec: bool| Ok(store.file_as(*d, exec)?.path().to_owned());
                    let tree =
                        wire::tree_of(store, output.digest, &blob).map_err(|e| e.to_string())?;
                    let bytes = tree.tree.encode_to_vec();
                    let digest = sha(&bytes);
                    blobs.push(Blob::Bytes(digest.clone(), bytes));
                    blobs.extend(tree.blobs.into_iter().map(|b| Blob::File(b.digest, b.path)));
                    ar.output_directories.push(re::OutputDirectory {
                        path,
                        tree_digest: Some(digest),
                    });
                }
                ArtifactKind::File => {
                    let file = store
                        .file_as(output.digest, output.executable)
                        .map_err(|e| e.to_string())?;
                    let digest = sha_file(file.path()).map_err(|e| e.to_string())?;
                    blobs.push(Blob::File(digest.clone(), file.path().to_owned()));
                    ar.output_files.push(re::OutputFile {
                        path,
                        digest: Some(digest),
                        is_executable: output.executable,
                    });
                }
                ArtifactKind::Value => {
                    let bytes = serde_json::to_vec(&output.value).map_err(|e| e.to_string())?;
                    let digest = sha(&bytes);
                    blobs.push(Blob::Bytes(digest.clone(), bytes));
                    ar.output_files.push(re::OutputFile {
                        path,
                        digest: Some(digest),
                        ..Default::default()
                    });
                }
                ArtifactKind::Image => {
                    let Some(tarball) = images.get(&output.digest) else {
                        return Ok(());
                    };
                    let digest = sha_file(tarball).map_err(|e| e.to_string())?;
                    blobs.push(Blob::File(digest.clone(), tarball.clone()));
                    ar.output_files.push(re::OutputFile {
                        path,
                        digest: Some(digest),
                        ..Default::default()
                    });
                }
                ArtifactKind::Secret => return Ok(()),
            }
        }
        if let Some(logs) = logs {
            let (stdout, stderr) = (sha(&logs.stdout), sha(&logs.stderr));
            ar.stdout_digest = Some(stdout.clone());
            ar.stderr_digest = Some(stderr.clone());
            blobs.push(Blob::Bytes(stdout, logs.stdout));
            blobs.push(Blob::Bytes(stderr, logs.stderr));
        }
        let record = serde_json::to_vec(result).map_err(|e| e.to_string())?;
        ar.execution_metadata = Some(re::ExecutedActionMetadata {
            worker: "tanto".into(),
            auxiliary_metadata: vec![Any {
                type_url: RECORD_TYPE.into(),
                value: record,
            }],
        });
        let (sent, bytes) = self.put(blobs).await?;
        self.count(Counter::BlobsSent, sent);
        self.count(Counter::BytesSent, bytes);
        self.put_result(action.digest.clone(), ar.clone()).await?;
        self.count(Counter::ResultsSent, 1);
        self.remember_shared(action.digest, ar);
        Ok(())
    }

    /// Sends those of `blobs` the server lacks: how many, and their bytes.
    pub(super) async fn put(&self, blobs: Vec<Blob>) -> std::result::Result<(u64, u64), String> {
        let mut unique = HashMap::new();
        for blob in blobs {
            unique.entry(blob.digest().hash.clone()).or_insert(blob);
        }
        let digests = unique.values().map(|b| b.digest().clone()).collect();
        let missing = self
            .find_missing(digests)
            .await
            .map_err(|f| f.to_string())?;
        let missing: HashSet<String> = missing.into_iter().map(|d| d.hash).collect();
        let send: Vec<Blob> = unique
            .into_values()
            .filter(|b| missing.contains(&b.digest().hash))
            .collect();
        let sent = send.len() as u64;
        let bytes: u64 = send.iter().map(|b| b.digest().size_bytes as u64).sum();
        self.send(send).await?;
        Ok((sent, bytes))
    }

    /// Writes `result` as the action cache's entry for `action`.
    pub(super) async fn put_result(
        &self,
        action: re::Digest,
        result: re::ActionResult,
    ) -> std::result::Result<(), String> {
        let request = re::UpdateActionResultRequest {
            instance_name: self.config.instance.clone(),
            action_digest: Some(action),
            action_result: Some(result),
            digest_function: re::SHA256,
        };
        self.call(
            self.config.timeout,
            self.clients.update_action_result(request),
        )
        .await
        .map_err(|f| f.to_string())?;
        Ok(())
    }
}
