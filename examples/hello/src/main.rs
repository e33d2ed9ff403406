//! The smallest real tanto pipeline.
fn main() {}
