//! Not public API: the runtime's layers, for this project's own tests, benchmarks and
//! fixtures. Nothing here is stable.

pub use tanto_engine::__internal::*;

/// The engine interface, and its Docker implementation.
pub mod backend {
    pub use crate::docker::{DEFAULT_HOST, DockerBackend};
    pub use tanto_engine::__internal::backend::*;
}
