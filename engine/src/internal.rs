//! Not public API: the engine's layers, for the `tanto` crate's Docker backend and this
//! project's own tests, benchmarks and fixtures. Nothing here is stable.

pub use crate::artifact::{Artifact, FromArtifact, IntoArtifact};

/// The engine interface: what a backend implements, and the bollard-free parts it uses.
pub mod backend {
    pub use crate::backend::*;
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
