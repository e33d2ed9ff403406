//! [`PushTarget`]: where an image is pushed, checked when it is made, so a pipeline flag of
//! this type refuses a bad reference before anything runs.

use serde::{Deserialize, Serialize};

use crate::backend::{ReferenceUse, check_reference};
use crate::error::{Error, Result};

/// Where an image is pushed: a reference `[HOST[:PORT]/]NAME[:TAG]`, checked against the OCI
/// distribution grammar when it is made, so it holds no scheme, no digest, no upper-case
/// repository name and no empty tag.
///
/// A pipeline flag of this type (`--to 127.0.0.1:5000/team/app:1.2`) is checked as the
/// command line is read: a bad reference exits 2 before any step runs, with what is wrong
/// with it. A step that makes one from parts uses [`PushTarget::new`]. A reference without a
/// host (`team/app`) names Docker Hub, as Docker reads it.
///
/// ```
/// use tanto::PushTarget;
///
/// let target = PushTarget::new("127.0.0.1:5000/team/app:1.2").unwrap();
/// assert_eq!(target.as_str(), "127.0.0.1:5000/team/app:1.2");
/// let err = PushTarget::new("127.0.0.1:5000/Team/app").unwrap_err();
/// assert!(err.to_string().contains("must be lowercase"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PushTarget(String);

impl PushTarget {
    /// `reference` as a push target, or a [usage error](Error::Usage) that says what is wrong
    /// with it.
    pub fn new(reference: impl Into<String>) -> Result<Self> {
        let reference = reference.into();
        match check_reference(&reference, ReferenceUse::Push) {
            Ok(()) => Ok(Self(reference)),
            Err(why) => Err(Error::Usage(format!("cannot push to `{reference}`: {why}"))),
        }
    }

    /// The reference, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PushTarget {
    type Error = Error;

    fn try_from(reference: String) -> Result<Self> {
        Self::new(reference)
    }
}

impl From<PushTarget> for String {
    fn from(target: PushTarget) -> Self {
        target.0
    }
}

impl std::fmt::Display for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_reference_is_refused_as_json_too() {
        let ok: PushTarget = serde_json::from_str(r#""localhost:5000/app""#).unwrap();
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#""localhost:5000/app""#
        );
        // As a flag's value is read: from a JSON value.
        let err = serde_json::from_value::<PushTarget>("localhost:5000/app@sha256:00".into())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cannot push to `localhost:5000/app@sha256:00`: a push target takes a tag, not a digest (the push returns the digest)"
        );
    }
}
