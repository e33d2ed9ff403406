//! A container image as a step input or output.

use crate::digest::Digest;

/// A container image held by the daemon, identified by its content.
///
/// A step makes one with [`Container::snapshot`](crate::Container::snapshot) and returns it;
/// another step starts from it with [`Container::from`](crate::Container::from). Its
/// [`digest`](Self::digest), what keys and early cutoff see, covers the layers' uncompressed
/// diff ids and the configuration without timestamps, so equal content is an equal image
/// whenever it was built. The [`id`](Self::id) is the daemon's, and changes with them.
///
/// `--out DIR` writes an image output as `DIR/NAME.tar`, which `docker load` accepts, tagged
/// `NAME:latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    id: String,
    digest: Digest,
}

impl Image {
    /// The image the daemon knows as `id`, whose content digest is `digest`.
    pub fn new(id: impl Into<String>, digest: Digest) -> Self {
        Self {
            id: id.into(),
            digest,
        }
    }

    /// The daemon's image id, `sha256:…`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The content digest: layers and configuration, no timestamps.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}
