//! What the rows need besides Docker: `b3sum`, a Docker client that drives BuildKit, and the
//! bench binaries built with `--release`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Bench, measure};

fn works(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure `b3sum` runs, installing Debian's package as root when it is missing.
pub(crate) fn ensure_b3sum() -> Result<(), String> {
    if works(Command::new("b3sum").arg("--version")) {
        return Ok(());
    }
    if !crate::daemon::is_root() {
        return Err(
            "`b3sum` is missing: run `sudo apt-get install -y b3sum`, then re-run `cargo xtask bench`"
                .into(),
        );
    }
    eprintln!("bench: installing b3sum");
    measure::run(Command::new("sh").args([
        "-c",
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq b3sum >/dev/null",
    ]))
    .map(drop)
}

/// A Docker client whose `docker build` uses BuildKit with `DOCKER_BUILDKIT=1`: `docker` when
/// it has the buildx plugin, else Debian's `/usr/bin/docker` (20.10 drives the daemon's
/// built-in BuildKit itself).
pub(crate) fn buildkit_client() -> Result<PathBuf, String> {
    if works(Command::new("docker").args(["buildx", "version"])) {
        return Ok(PathBuf::from("docker"));
    }
    let debian = Path::new("/usr/bin/docker");
    if works(Command::new(debian).args(["build", "--help"])) {
        return Ok(debian.to_path_buf());
    }
    Err(
        "no Docker client can drive BuildKit: install the buildx plugin \
         (`apt-get install -y docker-buildx`) or Debian's `docker.io`, then re-run"
            .into(),
    )
}

/// What BuildKit says when it fails intermittently while computing the cache key of a bind
/// mount from the local context, a known flake of its own (moby/buildkit#1822, #990) that a
/// fresh machine's first builds show: the same build then passes.
const BUILDKIT_FLAKE: &str = "flightcontrol: exceeded retry timeout";

/// Runs a BuildKit build, `build(attempt)`, and once more (`attempt` 1) when it fails with
/// BuildKit's known flake, saying so; any other failure, or the flake twice, is an error. The
/// attempt number lets a cold build take a fresh cache-busting argument, so the retry is cold
/// too.
pub(crate) fn buildkit_once_more<T>(
    b: &Bench,
    build: impl Fn(usize) -> Result<T, String>,
) -> Result<T, String> {
    match build(0) {
        Err(e) if e.contains(BUILDKIT_FLAKE) => {
            b.say(&format!(
                "  BuildKit failed with its intermittent `{BUILDKIT_FLAKE}` \
                 (moby/buildkit#1822); building again"
            ));
            build(1)
        }
        done => done,
    }
}

/// The release binaries the rows run.
pub(crate) struct Bins {
    /// The e2e pipelines binary (`ci20`, `one`, …).
    pub(crate) fixture: PathBuf,
    /// One container through bollard directly.
    pub(crate) bollard: PathBuf,
    /// Hashes a folder through the store.
    pub(crate) hash: PathBuf,
    /// The scheduler over a no-op DAG.
    pub(crate) sched: PathBuf,
    /// The `ship` example.
    pub(crate) ship: PathBuf,
    /// The `hello` example.
    pub(crate) hello: PathBuf,
}

/// Builds the bench binaries of `tanto-e2e`, `ship` and `hello` with `--release` into `target`.
pub(crate) fn build_bins(root: &Path, target: &Path) -> Result<Bins, String> {
    let mut cmd = crate::cargo();
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "tanto-e2e",
            "-p",
            "ship",
            "-p",
            "hello",
            "--bins",
            "--target-dir",
        ])
        .arg(target);
    eprintln!("bench: {}", measure::show(&cmd));
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the bench binaries failed ({status}); fix the build, then re-run `cargo xtask bench`"
        ));
    }
    Ok(bin_paths(target))
}

/// Where [`build_bins`] puts the bench binaries in `target`.
pub(crate) fn bin_paths(target: &Path) -> Bins {
    let bin = |name: &str| target.join("release").join(name);
    Bins {
        fixture: bin("fixture"),
        bollard: bin("bench_bollard"),
        hash: bin("bench_hash"),
        sched: bin("bench_sched"),
        ship: bin("ship"),
        hello: bin("hello"),
    }
}
