//! tanto's own CI, written with tanto, plus the project's chores.
//!
//! - `cargo xtask ci`: fmt, clippy, tests, docs and an examples build, each a step in a
//!   container, composed from the reusable steps of `examples/cargo-steps`.
//! - `cargo xtask lint`: `cargo fmt --check`, clippy and rustdoc on the host, denying
//!   warnings.
//! - `cargo xtask test`: runs `lint`, makes sure Docker answers, the test images exist and
//!   the packages of the tests' own servers (registry, socat, Podman) are installed, then runs
//!   the whole test suite on the host. CI runs exactly this.
//! - `cargo xtask images`: makes the offline test images.
//! - `cargo xtask bench [--quick] [ROW..]`: measures tanto against its baselines and writes
//!   `BENCHMARKS.md`.
//! - `cargo xtask trace-svg TRACE OUT`: draws a `--trace` timeline as SVG, for the docs.

mod bench;
mod buildgrid;
mod ci;
mod daemon;
mod images;
mod lint;
mod servers;
mod test;
mod trace_svg;

use std::process::{Command, ExitCode};

/// A command running the `cargo` that runs xtask, for a build of its own.
///
/// `cargo xtask` is `cargo run`, and cargo gives a program it runs the variables its build
/// script sets for rustc: xtask's `tanto_build::digests()` records (`TANTO_CODE`,
/// `TANTO_CODE_<key>`). A build started from here would pass them on to every crate it
/// compiles, whose steps would then be keyed by xtask's records, so they are removed.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("TANTO_CODE")) {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("lint") => lint::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("trace-svg") => trace_svg::run(&args[1..]),
        Some("images") => daemon::ensure().and_then(|()| images::run(&args[1..])),
        _ => return ci::cli(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
