//! The values that flow along a pipeline's edges: folders, files and serde values, and how a
//! step's parameters and results convert to and from them.

mod dir;
mod file;
mod image;
mod secret;
mod test_report;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::digest::Digest;
use crate::error::{Error, Result};

pub use dir::{Dir, DirSelect, Origin};
pub use file::File;
pub(crate) use file::is_plain_name;
pub use image::Image;
pub use secret::Secret;
pub(crate) use test_report::xml as junit_xml;
pub use test_report::{TestCase, TestCounts, TestFailure, TestOutcome, TestReport};

/// One realized input or output of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// A folder.
    Dir(Dir),
    /// A file.
    File(File),
    /// A serde value, kept in its JSON form.
    Value(serde_json::Value),
    /// A secret: only ever a pipeline's input, passed on to steps.
    Secret(Secret),
    /// A container image in the daemon.
    Image(Image),
}

impl Artifact {
    /// The content digest of this artifact: a tree digest, a blob digest, or the digest of the
    /// value's canonical JSON (object keys sorted, no whitespace).
    pub fn digest(&self) -> Digest {
        match self {
            Artifact::Dir(d) => d.digest(),
            Artifact::File(f) => f.digest(),
            Artifact::Value(v) => Digest::of(canonical_json(v).as_bytes()),
            Artifact::Secret(s) => s.digest(),
            Artifact::Image(i) => i.digest(),
        }
    }

    /// A short human name of the artifact's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Dir(_) => "dir",
            Artifact::File(_) => "file",
            Artifact::Value(_) => "value",
            Artifact::Secret(_) => "secret",
            Artifact::Image(_) => "image",
        }
    }
}

/// The canonical JSON text of a value: `serde_json` keeps object keys sorted (no
/// `preserve_order`), and the compact writer adds no whitespace.
pub(crate) fn canonical_json(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A type a step can take as a parameter: [`Dir`], [`File`], [`Image`], [`Secret`], or an owned
/// serde value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step input",
    label = "not a step input",
    note = "a step input is a `Dir`, a `File`, an `Image`, a `Secret`, or an owned value that implements `serde::Serialize` and `serde::de::DeserializeOwned`"
)]
pub trait FromArtifact: Sized + Send + 'static {
    /// Converts the artifact given to parameter `param` of step `step`.
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self>;
}

/// A type a step can return: [`Dir`], [`File`], [`Image`], or an owned serde value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step output",
    label = "not a step output",
    note = "a step returns `()`, a `Dir`, a `File`, an `Image`, a value that implements `serde::Serialize` and `serde::de::DeserializeOwned`, or a tuple of those; a `Secret` never leaves a step"
)]
pub trait IntoArtifact: Sized + Send + 'static {
    /// Converts the returned value into an artifact.
    fn into_artifact(self) -> Result<Artifact>;
}

fn mismatch(step: &str, param: &str, expected: &str, got: &Artifact) -> Error {
    Error::Wiring(format!(
        "step `{step}` parameter `{param}` expects a {expected}, but received a {}",
        got.kind()
    ))
}

impl FromArtifact for Dir {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Dir(d) => Ok(d),
            other => Err(mismatch(step, param, "dir", &other)),
        }
    }
}

impl FromArtifact for File {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::File(f) => Ok(f),
            other => Err(mismatch(step, param, "file", &other)),
        }
    }
}

impl FromArtifact for Secret {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Secret(s) => Ok(s),
            other => Err(mismatch(step, param, "secret", &other)),
        }
    }
}

impl FromArtifact for Image {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Image(i) => Ok(i),
            other => Err(mismatch(step, param, "image", &other)),
        }
    }
}

impl IntoArtifact for Image {
    fn into_artifact(self) -> Result<Artifact> {
        Ok(Artifact::Image(self))
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> FromArtifact for T {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Value(v) => serde_json::from_value(v)
                .map_err(|e| Error::Wiring(format!("step `{step}` parameter `{param}`: {e}"))),
            other => Err(mismatch(step, param, "value", &other)),
        }
    }
}

impl IntoArtifact for Dir {
    fn into_artifact(self) -> Result<Artifact> {
        Ok(Artifact::Dir(self))
    }
}

impl IntoArtifact for File {
    fn into_artifact(self) -> Result<Artifact> {
        Ok(Artifact::File(self))
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> IntoArtifact for T {
    fn into_artifact(self) -> Result<Artifact> {
        serde_json::to_value(&self)
            .map(Artifact::Value)
            .map_err(|e| Error::Other(format!("cannot serialize a step output: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_digest_ignores_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "a": [1, 2], "b": 1 }"#).unwrap();
        assert_eq!(Artifact::Value(a).digest(), Artifact::Value(b).digest());
    }

    #[test]
    fn wrong_kind_names_step_and_parameter() {
        let err = Dir::from_artifact(Artifact::Value(serde_json::json!(1)), "build", "src")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step `build` parameter `src` expects a dir"),
            "{err}"
        );
    }
}
