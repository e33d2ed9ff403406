//! The image operations of a container engine: committing a container, an image's content
//! identity, saving it as a `docker load`-able tarball, pushing it to a registry, removing
//! it, and reclaiming the images no cached result names. The Docker implementation is the
//! `tanto` crate's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::artifact::Secret;
use crate::digest::Digest;
use crate::error::Result;

/// The configuration an image is committed with: what a container started from it runs, and
/// its metadata. `None` keeps what the container's image had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSettings {
    /// The program the image runs.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments (or the program, without an entrypoint).
    pub cmd: Option<Vec<String>>,
    /// Variables set in the image, `KEY=VALUE`.
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub workdir: Option<String>,
    /// The user the image runs as.
    pub user: Option<String>,
    /// Exposed ports, such as `8080/tcp`.
    pub exposed_ports: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// What identifies an image by content, read from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageContent {
    /// The daemon's image id (`sha256:…`): changes with timestamps.
    pub id: String,
    /// BLAKE3 of the layers' uncompressed diff ids, the OS and architecture, and the
    /// configuration (no creation time): equal for equal content, whenever it was made.
    pub digest: Digest,
}

/// A layer to put on an image: an uncompressed tar archive in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Where the archive is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, `sha256:…`: the layer's diff id.
    pub diff_id: String,
}

/// What [`ImageBackend::reclaim_image`] did with an image no cached result names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reclaimed {
    /// Removed; `size` is the image's size as the daemon gave it (`docker images`' column,
    /// which counts the layers it shares with other images, and those stay).
    Removed {
        /// In bytes.
        size: u64,
    },
    /// The daemon did not have it (any more).
    Gone,
    /// Left: it has these tags, so it is someone's.
    Tagged(Vec<String>),
    /// Left: a container (running or not) uses it, or another image is made from it; the
    /// daemon's words.
    InUse(String),
}

/// The image operations of a container engine; every [`Backend`](super::Backend) has them.
pub trait ImageBackend {
    /// Commits container `id` as a new image with `settings` and returns its content. The
    /// container's own `tanto.*` labels are blanked, so they never tell one build from another.
    fn commit<'a>(
        &'a self,
        id: &'a str,
        settings: &'a ImageSettings,
    ) -> BoxFuture<'a, Result<ImageContent>>;

    /// Makes an image of `base` (an id or a name) with `layer` as one more layer when there
    /// is one (streamed from its file, never read whole into memory), and the configuration of `base` changed by
    /// `settings`; returns its content. No container is created: the image is loaded
    /// (`layered.rs` says why), and the same files on the same base make the same image id.
    fn add_layer<'a>(
        &'a self,
        base: &'a str,
        layer: Option<&'a LayerFile>,
        settings: &'a ImageSettings,
    ) -> BoxFuture<'a, Result<ImageContent>>;

    /// The content of image `reference` (an id or a name), or `None` when the daemon does
    /// not have it.
    fn image_content<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageContent>>>;

    /// Writes image `id` to `dest` as a `docker save` tarball whose image is named `tag`
    /// (`name:tag`) when `docker load` reads it; the daemon's tags are left as they are.
    fn save_image<'a>(
        &'a self,
        id: &'a str,
        tag: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<()>>;

    /// Pushes image `id` as `reference` (`host:port/name:tag`) with `username` and
    /// `password`, and returns the pushed manifest's digest (`sha256:…`). The password goes
    /// to the daemon in the push's auth header only. The image keeps `reference` as a tag.
    fn push_image<'a>(
        &'a self,
        id: &'a str,
        reference: &'a str,
        username: &'a str,
        password: &'a Secret,
    ) -> BoxFuture<'a, Result<String>>;

    /// Removes image (or tag) `reference`; a missing one is not an error.
    fn remove_image<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Removes image `id` (by id, never forced) unless something holds it: an image with a
    /// tag, or one a container uses, is left, and the answer says which.
    fn reclaim_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Reclaimed>>;

    /// The size of image `id` as the daemon gives it (`docker images`' column), or `None`
    /// when the daemon does not have it.
    fn image_size<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<u64>>>;

    /// Writes image `id` to `dest` as a `docker save` tarball that names no tag: how the
    /// shared cache carries an image to another machine.
    fn export_image<'a>(&'a self, id: &'a str, dest: &'a Path) -> BoxFuture<'a, Result<()>>;

    /// Loads `tarball`, a `docker save` tarball from elsewhere, when it holds image `id`
    /// alone and names no tag (else nothing is loaded and it is an error); returns the
    /// content the daemon reads back, for the caller to check.
    fn load_image<'a>(
        &'a self,
        tarball: &'a Path,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ImageContent>>;
}
