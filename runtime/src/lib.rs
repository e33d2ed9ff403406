//! tanto: a Rust-native, programmable CI/CD engine.
//!
//! Pipelines are plain Rust functions. [`macro@step`] turns an `async fn` into a step that runs in
//! a container; [`macro@pipeline`] wires steps into a graph that rustc checks. Each step is
//! skipped when the digests of its inputs, code, image and settings are unchanged.

pub mod artifact;
pub mod backend;
pub mod cache;
pub mod cli;
mod ctx;
mod digest;
mod error;
pub mod graph;
pub mod report;
pub mod run;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use artifact::{Artifact, Dir, File};
pub use backend::Container;
pub use cli::{Cli, cli};
pub use ctx::{Ctx, DirViews, RunContext};
pub use digest::Digest;
pub use error::{Error, Result};
pub use graph::{DirSelect, Handle, Pipeline, Plan, Step, Task};
pub use tanto_macros::{pipeline, step};

/// What a pipeline file needs: `use tanto::prelude::*;`.
pub mod prelude {
    pub use crate::{Container, Ctx, Dir, File, Handle, Result, pipeline, step};
}
