//! Not public API: the runtime's layers, for this project's own tests, benchmarks and
//! fixtures. Nothing here is stable.

pub use crate::artifact::{Artifact, FromArtifact, IntoArtifact};

/// The engine interface.
pub mod backend {
    pub use crate::backend::{
        Backend, ContainerSpec, DEFAULT_HOST, DockerBackend, ExecSpec, ImageBackend, ImageContent,
        ImageId, ImageSettings, LABEL_HOST, LABEL_OWNER, LABEL_PARENT_RUN, LABEL_PARENT_STEP,
        LABEL_PID, LABEL_RUN, LABEL_SERVICE, LABEL_STEP, Liveness, Mount, MountSource, Owner,
        PARENT_ENV, Parent, Progress, ServiceSpec, ServiceState, StartedExec, TarStream, host_name,
    };
}

/// Hashing, keys and the store.
pub mod cache {
    pub use crate::cache::*;
}

/// The static graph.
pub mod graph {
    pub use crate::graph::*;
}

/// Host folders.
pub mod input {
    pub use crate::input::*;
}

/// Events and views.
pub mod report {
    pub use crate::report::*;
}

/// The scheduler and runner.
pub mod run {
    pub use crate::run::*;
}

/// What a step body sees, and what every step of a run shares.
pub mod step {
    pub use crate::step::*;
}
