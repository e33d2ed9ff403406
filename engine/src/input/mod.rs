//! Host folders and files as pipeline inputs, the one home of what a `Dir` input takes from
//! the host: [`bind()`] canonicalizes, checks and hashes each flag's value once (with the
//! parameter's [`DirSelect`](crate::artifact::DirSelect)), and [`HostViews`] show a container
//! exactly the entries that the digest covers.

mod bind;
mod view;

pub use bind::{bind, host_dir, value_of};
pub(crate) use bind::{secret_value, written_as_json};
pub use view::{Hidden, HiddenKind, HostViews, ViewMode};
