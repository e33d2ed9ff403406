//! tanto: a Rust-native, programmable CI/CD engine.
//!
//! Pipelines are plain Rust functions. [`macro@step`] turns an `async fn` into a step that runs in
//! a container; [`macro@pipeline`] wires steps into a graph that rustc checks. Each step is
//! skipped when the digests of its inputs, code, image and settings are unchanged.
//!
//! A pipeline file needs `use tanto::prelude::*;` and a `main` that hands its pipelines to
//! [`cli()`]. Steps see a [`Ctx`] and start their container with [`Ctx::container`]; they
//! take and return [`Dir`], [`File`] and serde values, and fail with [`Error`].

mod artifact;
mod backend;
mod cache;
mod cli;
mod digest;
mod error;
mod graph;
mod input;
mod report;
mod run;
mod step;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "internal.rs"]
pub mod __internal;

pub use artifact::{
    Dir, DirSelect, File, Image, Origin, Secret, TestCase, TestCounts, TestFailure, TestOutcome,
    TestReport,
};
pub use backend::Stream;
pub use cli::{Cli, cli};
pub use digest::Digest;
pub use error::{Error, Result};
pub use graph::Handle;
pub use step::{Container, Ctx, ExecOutput, Ready, Service};
pub use tanto_macros::{pipeline, step};

/// What a pipeline file needs: `use tanto::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Container, Ctx, Dir, Error, File, Handle, Image, Result, Secret, Service, TestReport,
        pipeline, step,
    };
}
