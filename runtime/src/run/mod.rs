//! The scheduler: runs a plan's steps in parallel, skipping cached ones.
