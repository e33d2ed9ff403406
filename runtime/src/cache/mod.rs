//! Content digests of inputs, step keys, the on-disk store, and explanations of misses.

/// The content-addressed store.
#[derive(Debug)]
pub struct Store {}
