//! What a step body sees: its [`Ctx`], the [`Container`] builder, the step's one live
//! container, how inputs are mounted into it, and the [`RunContext`] that every step of a run
//! shares.

mod captured;
mod container;
mod ctx;
mod exec;
mod image;
mod layer;
mod lines;
mod live;
mod mount;
mod recipe;
mod run;
mod secrets;
mod service;
mod shell;
mod single;
mod target;

pub use container::Container;
pub use ctx::Ctx;
pub use exec::ExecOutput;
pub use live::ContainerRegistry;
pub use recipe::{BoundService, Input, Placed, Recipe};
pub(crate) use run::aliased;
pub use run::{Abandon, RunContext};
pub(crate) use service::service_input;
pub use service::{Ready, Service};
pub use shell::{Interactive, ShellLog};
pub(crate) use shell::{attach_shell, open as open_shell, restore_terminal};
pub use target::PushTarget;
