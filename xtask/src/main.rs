//! tanto's own CI.
fn main() {}
