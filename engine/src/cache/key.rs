//! Step keys: the structured record of everything a step's result depends on, and its digest.
//!
//! The record is kept beside the result (and as the step's "last key") so a later miss can be
//! explained component by component. Its canonical encoding is compact JSON: struct fields in
//! declaration order, maps sorted by key (`BTreeMap`), digests as hex, so equal records always
//! encode to the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::artifact::Artifact;
use crate::cache::code::{CodeItem, CodeKey, Cover};
use crate::digest::Digest;
use crate::graph::StepInfo;

/// The version of the key format and of everything the key covers; bump it to invalidate
/// every cached result, e.g. when hashing rules change. 2: code digests cover what a step uses.
pub const CACHE_FORMAT: u32 = 2;

/// What kind of artifact an input or output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// A folder; its digest is the root tree's digest.
    Dir,
    /// A file; its digest is the digest of its bytes.
    File,
    /// A serde value; its digest is the digest of its canonical JSON.
    Value,
    /// A secret; its digest is a hash keyed with the store's secret key, or of its name only
    /// for a step that keeps secrets out of its key.
    Secret,
    /// A container image; its digest covers its layers and configuration.
    Image,
}

/// One input of a step, as it enters the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// Folder, file or value.
    pub kind: ArtifactKind,
    /// The content digest. For a folder this is also the digest of its root tree, which the
    /// explainer loads from the store to list the paths that changed.
    pub digest: Digest,
    /// The label of the step that produced this input, when it came from a handle. Only its
    /// output's content counts, so an upstream rebuild with the same output is still a hit
    /// (early cutoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The value itself, as compact JSON, when the input is a value of at most 80 bytes (a
    /// flag, a literal, a loop's cell, a fan-in's list, a step's output), so a miss can say
    /// what it was and what it is. Not keyed: the digest covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// For a list (a JSON array, such as a fan-in's), how many items it holds, so a miss,
    /// or `--plan` before the items are known, can say that its length changed. Not keyed:
    /// the digest covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
}

/// The longest value, as compact JSON, that an [`InputRecord`] keeps to show in a miss.
const SHOWN_VALUE: usize = 80;

/// `value` as compact JSON, if that is at most [`SHOWN_VALUE`] bytes: the writing stops
/// there, so a large value (a fan-in of test reports) costs no second full encoding.
fn shown(value: &serde_json::Value) -> Option<String> {
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + buf.len() > SHOWN_VALUE {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::with_capacity(SHOWN_VALUE));
    serde_json::to_writer(&mut out, value).ok()?;
    String::from_utf8(out.0).ok()
}

impl InputRecord {
    /// The record of `artifact`, produced by step `upstream` if it came from a handle.
    pub fn of(artifact: &Artifact, upstream: Option<&str>) -> Self {
        let kind = match artifact {
            Artifact::Dir(_) => ArtifactKind::Dir,
            Artifact::File(_) => ArtifactKind::File,
            Artifact::Value(_) => ArtifactKind::Value,
            Artifact::Secret(_) => ArtifactKind::Secret,
            Artifact::Image(_) => ArtifactKind::Image,
        };
        // A secret is never a `Value`.
        let value = match artifact {
            Artifact::Value(v) => shown(v),
            _ => None,
        };
        let items = match artifact {
            Artifact::Value(serde_json::Value::Array(items)) => Some(items.len()),
            _ => None,
        };
        Self {
            kind,
            digest: artifact.digest(),
            upstream: upstream.map(str::to_owned),
            value,
            items,
        }
    }
}

/// Everything a step's result depends on, kept beside the result so a miss can be explained.
///
/// Its canonical encoding is compact JSON (fields in declaration order, maps sorted, digests
/// as hex); [`KeyRecord::digest`] hashes it with BLAKE3.
///
/// ```
/// use tanto::Digest;
/// use tanto::__internal::cache::{ArtifactKind, InputRecord, KeyRecord};
///
/// let mut key = KeyRecord::new("ci::fmt", "c0de");
/// key.image = Some("sha256:1234".into());
/// key.inputs.insert(
///     "src".into(),
///     InputRecord {
///         kind: ArtifactKind::Dir,
///         digest: Digest::of(b"tree"),
///         upstream: None,
///         value: None,
///         items: None,
///     },
/// );
/// // The record read back from its stored form has the same key.
/// let stored: KeyRecord = serde_json::from_str(&key.canonical_json())?;
/// assert_eq!(stored.digest(), key.digest());
/// // Any setting changes it.
/// key.settings.insert("env.RUSTFLAGS".into(), "-Dwarnings".into());
/// assert_ne!(key.digest(), stored.digest());
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// [`CACHE_FORMAT`] when the record was made.
    pub format: u32,
    /// The step fn's full path, `crate::module::fn`.
    pub step: String,
    /// The digest of the step's code: its fn and what it uses (see [`CodeKey`]).
    pub code: String,
    /// The items, dependencies, variables and files the code digest covers, by label, so a
    /// miss can name the one that changed. The code digest covers them: the key leaves them
    /// (and their locations) out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub code_items: BTreeMap<String, CodeItem>,
    /// What the code digest covered when it lists no items: the step's own tokens, or
    /// nothing (code that cannot be keyed), so a miss after that changes can say so. Not
    /// keyed, like the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_cover: Option<Cover>,
    /// The step's `version = ".."` salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The resolved image id (never a bare tag), when the step runs a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container settings by name: `env.NAME`, `workdir`, `user`, `network`, `memory`,
    /// `cpus`, `cache./mount/path`, `docker_socket`; and what step code can see of an input
    /// beyond its digest, `input.PARAM.WHAT` (see [`KeyRecord::input_setting`]).
    pub settings: BTreeMap<String, String>,
    /// Each input by parameter name.
    pub inputs: BTreeMap<String, InputRecord>,
}

impl KeyRecord {
    /// A record for step `step` with code digest `code`, no settings and no inputs yet.
    pub fn new(step: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            format: CACHE_FORMAT,
            step: step.into(),
            code: code.into(),
            code_items: BTreeMap::new(),
            code_cover: None,
            version: None,
            image: None,
            settings: BTreeMap::new(),
            inputs: BTreeMap::new(),
        }
    }

    /// The record of a step from its metadata and resolved image id; add the inputs with
    /// [`KeyRecord::input`].
    pub fn for_step(info: &StepInfo, image_id: Option<&str>) -> Self {
        let s = &info.settings;
        let code = CodeKey::of(info);
        let mut key = Self::new(info.path, code.digest);
        key.code_items = code.items;
        key.code_cover = (key.code_items.is_empty()).then_some(code.cover);
        key.version = s.version.map(str::to_owned);
        key.image = image_id.map(str::to_owned);
        let settings = &mut key.settings;
        for (name, value) in s.env {
            settings.insert(format!("env.{name}"), (*value).to_owned());
        }
        for (path, volume) in s.caches {
            settings.insert(format!("cache.{path}"), (*volume).to_owned());
        }
        if let Some(w) = s.workdir {
            settings.insert("workdir".into(), w.into());
        }
        if let Some(u) = s.user {
            settings.insert("user".into(), u.into());
        }
        if let Some(m) = s.memory {
            settings.insert("memory".into(), m.to_string());
        }
        if let Some(c) = s.millicpus {
            settings.insert("cpus".into(), format!("{}.{:03}", c / 1000, c % 1000));
        }
        settings.insert("network".into(), s.network.to_string());
        settings.insert("docker_socket".into(), s.docker_socket.to_string());
        key
    }

    /// Adds input `param`.
    pub fn input(mut self, param: impl Into<String>, input: InputRecord) -> Self {
        self.inputs.insert(param.into(), input);
        self
    }

    /// Where the code item `label` is, as a miss and `--plan STEP` show it: an item's place in
    /// its package with the step's crate named (every crate of a workspace has a
    /// `src/lib.rs`), a dependency's version or path as it is; empty when it has none.
    pub fn item_place(&self, label: &str, item: &CodeItem) -> String {
        let krate = self.step.split("::").next().unwrap_or_default();
        if label.starts_with('`') && !item.at.is_empty() && !krate.is_empty() {
            format!("{} in {krate}", item.at)
        } else {
            item.at.clone()
        }
    }

    /// Records what step code can see of input `param` beyond its digest, as setting
    /// `input.PARAM.WHAT` (a file's captured name, say), so a miss names it.
    pub fn input_setting(&mut self, param: &str, what: &str, value: impl Into<String>) {
        self.settings
            .insert(format!("input.{param}.{what}"), value.into());
    }

    /// Leaves input `param` out: its record and its `input.PARAM.*` settings, for comparing
    /// keys while its value is not known yet.
    pub fn forget_input(&mut self, param: &str) {
        self.inputs.remove(param);
        let prefix = format!("input.{param}.");
        self.settings.retain(|name, _| !name.starts_with(&prefix));
    }

    /// The canonical encoding that [`KeyRecord::digest`] hashes.
    pub fn canonical_json(&self) -> String {
        // Serializing plain structs, strings and BTreeMaps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The step's key: BLAKE3 of the canonical encoding, without the upstream labels (only
    /// an upstream output's content counts, so renaming the step that made it is no miss),
    /// without the values kept to show in a miss (their digests count), and without the code
    /// items and cover (the code digest covers them; their locations must not count).
    pub fn digest(&self) -> Digest {
        let mut bare = self.clone();
        bare.code_items.clear();
        bare.code_cover = None;
        for input in bare.inputs.values_mut() {
            input.upstream = None;
            input.value = None;
            input.items = None;
        }
        let mut h = blake3::Hasher::new();
        h.update(b"tanto-key\0");
        h.update(bare.canonical_json().as_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::StepSettings;

    #[test]
    fn settings_enter_the_key_sorted() {
        let info = StepInfo {
            name: "build",
            path: "ci::build",
            doc: "",
            tokens: "abc",
            code: crate::graph::CodeInfo::NONE,
            params: &[],
            output: "Dir",
            settings: StepSettings {
                env: &[("B", "2"), ("A", "1")],
                millicpus: Some(1500),
                ..StepSettings::DEFAULT
            },
        };
        let key = KeyRecord::for_step(&info, Some("sha256:x"));
        let names: Vec<_> = key.settings.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["cpus", "docker_socket", "env.A", "env.B", "network"]
        );
        assert_eq!(key.settings["cpus"], "1.500");
        let back: KeyRecord = serde_json::from_str(&key.canonical_json()).expect("parses");
        assert_eq!(back.digest(), key.digest());
    }

    #[test]
    fn a_value_kept_to_show_is_not_keyed() {
        let value = InputRecord::of(&Artifact::Value(serde_json::json!("1.80")), None);
        assert_eq!(value.value.as_deref(), Some("\"1.80\""));
        let mut hidden = value.clone();
        hidden.value = None;
        hidden.items = Some(3);
        let key = |input| KeyRecord::new("ci::build", "code").input("toolchain", input);
        assert_eq!(key(value).digest(), key(hidden).digest());
        // 80 bytes of JSON are kept, 81 are not.
        let sized = |n| InputRecord::of(&Artifact::Value(serde_json::json!("x".repeat(n))), None);
        assert_eq!(sized(78).value.map(|v| v.len()), Some(80));
        assert_eq!(sized(79).value, None);
        // A secret is never kept, whatever its size.
        let secret = crate::artifact::Secret::for_test("token", "hunter2");
        assert_eq!(InputRecord::of(&Artifact::Secret(secret), None).value, None);
    }

    #[test]
    fn forgetting_an_input_drops_its_settings_and_only_its_own() {
        let record = |digest: &[u8]| InputRecord {
            kind: ArtifactKind::File,
            digest: Digest::of(digest),
            upstream: None,
            value: None,
            items: None,
        };
        let mut key = KeyRecord::new("ci::build", "code")
            .input("files", record(b"a"))
            .input("files2", record(b"b"));
        key.input_setting("files", "name", "files.txt");
        key.input_setting("files", "executable", "true");
        key.input_setting("files2", "name", "other.txt");
        key.settings.insert("env.files".into(), "1".into());
        key.forget_input("files");
        let names: Vec<_> = key.settings.keys().map(String::as_str).collect();
        assert_eq!(names, ["env.files", "input.files2.name"]);
        let inputs: Vec<_> = key.inputs.keys().map(String::as_str).collect();
        assert_eq!(inputs, ["files2"]);
    }
}
