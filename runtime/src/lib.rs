//! tanto: a Rust-native, programmable CI/CD engine.
//!
//! Pipelines are plain Rust functions. [`macro@step`] turns an `async fn` into a step that runs in
//! a container; [`macro@pipeline`] wires steps into a graph that rustc checks. Each step is
//! skipped when the digests of its inputs, code, image and settings are unchanged.
//!
//! A pipeline file needs `use tanto::prelude::*;` and a `main` that hands its pipelines to
//! [`cli()`]. Steps see a [`Ctx`] and start their container with [`Ctx::container`]; they
//! take and return [`Dir`], [`File`] and serde values, and fail with [`Error`].

mod docker;
// Beside `__private`, which names it: the wiring check of the macros' expansions (where
// rustc's notes point, so they name this crate).
#[path = "graph/wire.rs"]
mod wire;

/// The engine's internals that the Docker backend implements and uses.
use tanto_engine::__internal as engine;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "internal.rs"]
pub mod __internal;

pub use tanto_engine::{
    Cli, Container, Ctx, Digest, Dir, DirSelect, Error, ExecOutput, File, Handle, Image, Origin,
    PushTarget, Ready, Result, Secret, Service, Stream, TestCase, TestCounts, TestFailure,
    TestOutcome, TestReport, cli,
};
pub use tanto_macros::{pipeline, step};

/// What a pipeline file needs: `use tanto::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Container, Ctx, Dir, Error, File, Handle, Image, PushTarget, Result, Secret, Service,
        TestReport, pipeline, step,
    };
}
