//! tanto's engine: everything of [tanto](https://docs.rs/tanto) but its Docker backend.
//!
//! Not a crate to add: pipelines depend on `tanto`, which re-exports this crate's API at its
//! own paths and plugs in the Docker backend (bollard) through a `Connect` fn.
//! The engine never names bollard, so a first build compiles it beside bollard instead of
//! after it. Nothing here but what `tanto` re-exports is stable.

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
mod shown;
mod step;

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
pub use step::{Container, Ctx, ExecOutput, PushTarget, Ready, Service};
