//! A value that a pipeline takes and a step hands to a container without anything ever
//! showing it: a token, a password, a key.

use std::fmt;
use std::sync::Arc;

use crate::digest::Digest;

/// A secret pipeline input: `#[pipeline] fn release(src: Dir, token: Secret)` makes a
/// `--token SOURCE` flag, where the source is `env:NAME`, `file:PATH` or `cmd:COMMAND`.
///
/// A `Secret` cannot leak by type: it is not `Serialize`, `Display` or `Deserialize`, so it
/// cannot be a step's output, part of a serde value or a pipeline's output, and its `Debug`
/// prints `Secret(***)`. It reaches a container only on purpose, through
/// [`Container::with_secret_env`](crate::Container::with_secret_env) or
/// [`Container::with_secret_file`](crate::Container::with_secret_file); every line tanto
/// writes (views, events, logs, the trace, errors, recorded values) has it replaced by `***`.
/// A step's key covers it through a hash keyed with the store's own random key, so a rotated
/// token re-runs the steps that use it and the store holds nothing to guess it from.
///
/// ```
/// let token = format!("{:?}", tanto::Secret::for_test("token", "hunter2"));
/// assert_eq!(token, "Secret(***)");
/// ```
#[derive(Clone)]
pub struct Secret {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    value: String,
    digest: Digest,
}

impl Secret {
    /// The secret `value` given to parameter `name`, whose key digest is `digest` (a keyed
    /// hash, never a plain one).
    pub(crate) fn new(name: impl Into<String>, value: String, digest: Digest) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                value,
                digest,
            }),
        }
    }

    /// A secret for a unit test of a step, keyed by a hash that no store knows.
    pub fn for_test(name: &str, value: &str) -> Self {
        let digest = Digest::keyed(&[7; 32], value.as_bytes());
        Self::new(name, value.to_owned(), digest)
    }

    /// The parameter it was given to, such as `token`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The value itself, for the step layer that puts it into a container and the redactor
    /// that takes it out of everything else.
    pub(crate) fn expose(&self) -> &str {
        &self.inner.value
    }

    /// What a step's key records of it: a hash keyed with the store's secret key.
    pub(crate) fn digest(&self) -> Digest {
        self.inner.digest
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Eq for Secret {}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.inner.name == other.inner.name && self.inner.digest == other.inner.digest
    }
}
