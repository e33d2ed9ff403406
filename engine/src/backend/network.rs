//! What a service container is created with, and what it is doing: the service side of the
//! [`Backend`](super::Backend) trait, which the Docker backend implements.

use crate::backend::ImageId;

/// Everything a service container is created with: it runs its own command (not a
/// keep-alive), on one network, under a name that consumers link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The container's name, unique on the daemon.
    pub name: String,
    /// The image, already resolved.
    pub image: ImageId,
    /// The command; the image's when empty.
    pub command: Vec<String>,
    /// Variables added to the image's environment.
    pub env: Vec<(String, String)>,
    /// Labels, sorted by key: the same as a step container's.
    pub labels: Vec<(String, String)>,
    /// The network it joins.
    pub network: String,
}

/// What a service container is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    /// Whether it runs.
    pub running: bool,
    /// Its exit code once it stopped.
    pub exit_code: Option<i64>,
    /// Its address on the network it was asked about.
    pub ip: Option<String>,
}
