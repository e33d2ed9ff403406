//! Reusable tanto steps for Rust projects.
