//! The action cache: step key → result record, and each step's last key.
//!
//! A record file is sealed: its first line is the BLAKE3 hex digest of the JSON that follows,
//! so a torn or edited record is detected on read and treated as a miss.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::images::made_images;
use super::object::{Found, read_object};
use super::{Store, discard};
use crate::artifact::{Artifact, Image};
use crate::cache::key::{ArtifactKind, KeyRecord};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// One output of a step as recorded in the action cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// Folder, file or value.
    pub kind: ArtifactKind,
    /// Tree digest of a folder, content digest of a file, digest of a value's canonical JSON.
    pub digest: Digest,
    /// A file's size, checked against its blob on lookup.
    #[serde(default)]
    pub size: u64,
    /// A file's executable bit.
    #[serde(default)]
    pub executable: bool,
    /// A value, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// A file's name where it was captured (what `--out` writes it as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An image's id in the daemon; its content digest is [`digest`](Self::digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

impl OutputRecord {
    /// Whether a value output's inline value is the one its digest names (true for the other
    /// kinds, whose content is checked where it is kept): a record another machine wrote, or
    /// a damaged one, may carry another value under the digest its dependents are keyed by.
    pub fn value_intact(&self) -> bool {
        self.kind != ArtifactKind::Value
            || self.value.as_ref().is_some_and(|v| {
                Digest::of(crate::artifact::canonical_json(v).as_bytes()) == self.digest
            })
    }

    /// The record of an output already in the store (see [`Store::ingest_dir`] and
    /// [`Store::ingest_file`]). A file that cannot be stat'ed gets an impossible size, so
    /// the record can never hit: a missing output is a miss.
    pub fn of(artifact: &Artifact) -> Self {
        let mut record = Self {
            kind: ArtifactKind::Value,
            digest: artifact.digest(),
            size: 0,
            executable: false,
            value: None,
            name: None,
            image_id: None,
        };
        match artifact {
            Artifact::Dir(_) => record.kind = ArtifactKind::Dir,
            Artifact::File(f) => {
                record.kind = ArtifactKind::File;
                record.executable = f.is_executable();
                record.name = f.name().map(str::to_owned);
                record.size = std::fs::metadata(f.path()).map_or(u64::MAX, |m| m.len());
            }
            Artifact::Value(v) => record.value = Some(v.clone()),
            // Unreachable: a `Secret` is not `IntoArtifact`, so no step returns one. Recorded
            // as an empty value, never as the secret.
            Artifact::Secret(_) => record.value = None,
            Artifact::Image(i) => {
                record.kind = ArtifactKind::Image;
                record.image_id = Some(i.id().to_owned());
            }
        }
        record
    }
}

/// A step's cached result: its key, its outputs, and when and how long it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The full key record, kept so a later miss can be explained.
    pub key: KeyRecord,
    /// The outputs, in the step's output order.
    pub outputs: Vec<OutputRecord>,
    /// When the step finished.
    pub created: SystemTime,
    /// How long the step ran.
    pub duration: Duration,
    /// Images the step chose at run time (`with_image`), which its key does not hold: the
    /// result stands only while each reference still resolves to the same id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
}

impl ActionResult {
    /// A result for `key` with `outputs` (already in the store), created now.
    pub fn new(key: KeyRecord, outputs: &[Artifact], duration: Duration) -> Self {
        Self {
            key,
            outputs: outputs.iter().map(OutputRecord::of).collect(),
            created: SystemTime::now(),
            duration,
            images: BTreeMap::new(),
        }
    }
}

/// What the store holds of a step's record that is not a result (its container's recipe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded<T> {
    /// The record.
    Found(T),
    /// None was ever recorded.
    None,
    /// One was, but it was damaged, and has been discarded (or, looking only, left as it is).
    Damaged,
}

/// Seals `json` with its checksum line.
fn seal(json: &str) -> Vec<u8> {
    let mut out = Digest::of(json.as_bytes()).to_hex().into_bytes();
    out.push(b'\n');
    out.extend_from_slice(json.as_bytes());
    out
}

/// The JSON inside a sealed record, if its checksum holds.
fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    let (sum, json) = bytes.split_at_checked(65)?;
    let sum = std::str::from_utf8(sum.strip_suffix(b"\n")?).ok()?;
    (sum.parse::<Digest>().ok()? == Digest::of(json)).then_some(json)
}

/// Reads and verifies a sealed record; a damaged one is discarded and reads as `None`.
pub(super) fn read_sealed<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    read_sealed_or(path, discard)
}

/// Reads and verifies a sealed record; a damaged one goes to `damaged` and reads as `None`.
pub(super) fn read_sealed_or<T: serde::de::DeserializeOwned>(
    path: &Path,
    damaged: impl FnOnce(&Path, &str),
) -> Result<Option<T>> {
    let bytes = match read_object(path)? {
        Found::Bytes(b) => b,
        Found::None => return Ok(None),
        Found::Damaged(why) => {
            damaged(path, &format!("record: {why}"));
            return Ok(None);
        }
    };
    let parsed = unseal(&bytes).and_then(|json| serde_json::from_slice(json).ok());
    if parsed.is_none() {
        damaged(path, "record is truncated or does not match its checksum");
    }
    Ok(parsed)
}

impl Store {
    /// [`read_sealed`], leaving a damaged record as it is when looking only.
    fn read_record<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<Option<T>> {
        read_sealed_or(path, |path, why| self.discard(path, why))
    }

    pub(super) fn action_path(&self, key: &Digest) -> PathBuf {
        let hex = key.to_hex();
        self.root.join("ac").join(&hex[..2]).join(hex)
    }

    fn last_key_path(&self, step: &str) -> PathBuf {
        self.root
            .join("last")
            .join(Digest::of(step.as_bytes()).to_hex())
    }

    /// The cached result of the step whose key is `key` (a [`KeyRecord::digest`]), if there
    /// is one whose outputs are all still in the store. A damaged record is discarded and
    /// reads as a miss; a hit marks the record as recently used for [`Store::prune`].
    pub fn lookup(&self, key: &Digest) -> Result<Option<ActionResult>> {
        let path = self.action_path(key);
        let Some(result) = self.read_record::<ActionResult>(&path)? else {
            return Ok(None);
        };
        if result.key.digest() != *key {
            self.discard(&path, "record belongs to another key");
            return Ok(None);
        }
        if !result.outputs.iter().all(OutputRecord::value_intact) {
            self.discard(&path, "a value it holds does not match its digest");
            return Ok(None);
        }
        for output in &result.outputs {
            if !self.has_output(output)? {
                tracing::debug!(digest = %output.digest.short(), "a cached output is gone; treating it as a miss");
                return Ok(None);
            }
        }
        self.touch(&path);
        Ok(Some(result))
    }

    /// Records `result` under `key`, which must be the digest of `result.key`. Only call this
    /// for a step that succeeded and whose outputs are in the store: failures, timeouts and
    /// missing outputs are never recorded.
    pub fn record(&self, key: &Digest, result: &ActionResult) -> Result<()> {
        self.record_as(key, result, true)
    }

    /// Records `result`, found under `key` on the shared cache, whose outputs may not be in
    /// the store yet (a lookup finds it once they are). Not flushed to disk: a crash that
    /// loses it costs one call to the server again, where an `fsync` costs every remote hit
    /// milliseconds.
    pub fn record_remote(&self, key: &Digest, result: &ActionResult) -> Result<()> {
        self.record_as(key, result, false)
    }

    fn record_as(&self, key: &Digest, result: &ActionResult, sync: bool) -> Result<()> {
        if result.key.digest() != *key {
            return Err(Error::Store(format!(
                "refusing to record a result under key {} that belongs to key {}",
                key.short(),
                result.key.digest().short()
            )));
        }
        let json = serde_json::to_string(result)
            .map_err(|e| Error::Store(format!("cannot encode an action record: {e}")))?;
        let path = self.action_path(key);
        // The images the record replaced made that this one does not name are no result's
        // now: the next `cache prune` removes them from the daemon.
        let replaced = read_sealed::<ActionResult>(&path).ok().flatten();
        self.write_atomic(&path, &seal(&json), sync)?;
        if let Some(old) = replaced {
            let named: HashSet<&str> = made_images(result).collect();
            let orphans = made_images(&old).filter(|id| !named.contains(id));
            if let Err(e) = self.remember_images(orphans) {
                tracing::warn!("the image a replaced result made will stay in the daemon: {e}");
            }
        }
        Ok(())
    }

    /// The artifacts of a cached result, in output order.
    pub fn outputs(&self, result: &ActionResult) -> Result<Vec<Artifact>> {
        result.outputs.iter().map(|o| self.realize(o)).collect()
    }

    /// Whether the store holds what `output` stands for, intact.
    pub fn holds(&self, output: &OutputRecord) -> Result<bool> {
        self.has_output(output)
    }

    /// The artifacts of `result` at the places where the store keeps them, without checking
    /// that they are there: the outputs of a remote hit, which are fetched only when needed.
    pub fn pending_outputs(&self, result: &ActionResult) -> Vec<Artifact> {
        let pending = |o: &OutputRecord| match o.kind {
            ArtifactKind::Dir => Artifact::Dir(crate::artifact::Dir::new(
                self.checkout_path(&o.digest),
                o.digest,
            )),
            ArtifactKind::File => {
                let file = crate::artifact::File::new(
                    self.blob_path(&o.digest, o.executable),
                    o.digest,
                    o.executable,
                );
                Artifact::File(match &o.name {
                    Some(name) => file.with_name(name),
                    None => file,
                })
            }
            _ => self
                .realize(o)
                .unwrap_or(Artifact::Value(serde_json::Value::Null)),
        };
        result.outputs.iter().map(pending).collect()
    }

    /// The artifact an output record stands for: a checkout, a blob, or the inline value.
    pub fn realize(&self, output: &OutputRecord) -> Result<Artifact> {
        Ok(match output.kind {
            ArtifactKind::Dir => Artifact::Dir(self.dir(output.digest)?),
            ArtifactKind::File => {
                let file = self.file_as(output.digest, output.executable)?;
                Artifact::File(match &output.name {
                    Some(name) => file.with_name(name),
                    None => file,
                })
            }
            ArtifactKind::Value => Artifact::Value(output.value.clone().unwrap_or_default()),
            ArtifactKind::Image => Artifact::Image(Image::new(
                output.image_id.clone().unwrap_or_default(),
                output.digest,
            )),
            ArtifactKind::Secret => {
                return Err(Error::Store(
                    "a cached output claims to be a secret, which no step can return; run `cache verify`".into(),
                ));
            }
        })
    }

    /// The key the step labelled `step` ran with last, for explaining a miss.
    pub fn last_key(&self, step: &str) -> Result<Option<KeyRecord>> {
        self.read_record(&self.last_key_path(step))
    }

    /// Remembers `key` as the last key of the step labelled `step`. Not flushed to disk: it
    /// only explains the next miss, and a crash that loses it costs that explanation, where
    /// an `fsync` costs every hit whose key moved milliseconds.
    pub fn set_last_key(&self, step: &str, key: &KeyRecord) -> Result<()> {
        let json = key.canonical_json();
        self.write_atomic(&self.last_key_path(step), &seal(&json), false)
    }

    fn recipe_path(&self, step: &str) -> PathBuf {
        self.root
            .join("recipes")
            .join(Digest::of(step.as_bytes()).to_hex())
    }

    /// Remembers how the container of the step labelled `step` was set up when it last ran.
    pub fn set_recipe<T: Serialize>(&self, step: &str, recipe: &T) -> Result<()> {
        let json = serde_json::to_string(recipe)
            .map_err(|e| Error::Store(format!("cannot encode a step's recipe: {e}")))?;
        self.write_atomic(&self.recipe_path(step), &seal(&json), true)
    }

    /// How the container of the step labelled `step` was set up when it last ran, if it ran.
    /// A damaged record is discarded and reads as [`Recorded::Damaged`].
    pub fn recipe<T: serde::de::DeserializeOwned>(&self, step: &str) -> Result<Recorded<T>> {
        let path = self.recipe_path(step);
        let existed = path.exists();
        Ok(match self.read_record(&path)? {
            Some(recipe) => Recorded::Found(recipe),
            None if existed => Recorded::Damaged,
            None => Recorded::None,
        })
    }

    fn single_path(&self, step: &str) -> PathBuf {
        self.root
            .join("single")
            .join(Digest::of(step.as_bytes()).to_hex())
    }

    /// Remembers whether the step labelled `step`, whose code has digest `code`, ran exactly
    /// one command in its container and needed nothing else of it running: a hint for its
    /// next run, which may then run that command as the container's own process.
    pub fn set_single_command(&self, step: &str, code: &str, single: bool) -> Result<()> {
        let json = serde_json::json!({ "code": code, "single": single }).to_string();
        // Not synced: a hint that a crash loses costs a step some speed, never its result.
        self.write_atomic(&self.single_path(step), &seal(&json), false)
    }

    /// How the last run of the step labelled `step` with code digest `code` ran (see
    /// [`set_single_command`](Self::set_single_command)): `Some(true)` if it ran exactly one
    /// command, `Some(false)` if not, `None` if that code has no record (a hint recorded for
    /// other code does not count).
    pub fn single_command(&self, step: &str, code: &str) -> Result<Option<bool>> {
        let hint: Option<serde_json::Value> = self.read_record(&self.single_path(step))?;
        Ok(hint
            .filter(|h| h.get("code").and_then(|c| c.as_str()) == Some(code))
            // A record without the field is from a version that kept only the single ones.
            .map(|h| {
                h.get("single")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(true)
            }))
    }

    fn failure_path(&self, step: &str) -> PathBuf {
        self.root
            .join("failed")
            .join(Digest::of(step.as_bytes()).to_hex())
    }

    /// Remembers that the step labelled `step` failed with key `key` at `at`, as its last key
    /// too, so the next run explains its miss as that failure (failures are never cached).
    pub fn set_last_failure(&self, step: &str, key: &KeyRecord, at: SystemTime) -> Result<()> {
        self.set_last_key(step, key)?;
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let json = serde_json::json!({ "key": key.digest(), "at": secs }).to_string();
        self.write_atomic(&self.failure_path(step), &seal(&json), true)
    }

    /// When the step labelled `step` last failed with key `key`, if it did.
    pub fn last_failure(&self, step: &str, key: &Digest) -> Result<Option<SystemTime>> {
        #[derive(serde::Deserialize)]
        struct Failure {
            key: Digest,
            at: u64,
        }
        let failure: Option<Failure> = self.read_record(&self.failure_path(step))?;
        Ok(failure
            .filter(|f| f.key == *key)
            .map(|f| UNIX_EPOCH + Duration::from_secs(f.at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_detects_damage() {
        let sealed = seal(r#"{"a":1}"#);
        assert_eq!(unseal(&sealed), Some(&br#"{"a":1}"#[..]));
        assert_eq!(unseal(&sealed[..sealed.len() - 1]), None);
        let mut edited = sealed.clone();
        let last = edited.len() - 2;
        edited[last] = b'2';
        assert_eq!(unseal(&edited), None);
    }
}
