//! Content digests of inputs, step keys, the on-disk store, and explanations of misses.

mod hash;
mod store;

pub use hash::hash_dir;
pub use store::Store;
