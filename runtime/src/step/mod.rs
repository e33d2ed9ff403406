//! What a step body sees: its [`Ctx`], the [`Container`] builder, the step's one live
//! container, how inputs are mounted into it, and the [`RunContext`] that every step of a run
//! shares.

mod container;
mod ctx;
mod exec;
mod lines;
mod live;
mod mount;
mod run;

pub use container::Container;
pub use ctx::Ctx;
pub use exec::ExecOutput;
pub use live::ContainerRegistry;
pub use run::{Abandon, RunContext};
