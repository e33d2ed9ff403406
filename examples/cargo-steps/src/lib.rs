//! Reusable tanto steps for Rust workspaces: fmt check, clippy, tests (of the workspace or of
//! one package, with or without the Docker daemon, as text or as a [`TestReport`] with every
//! test's outcome, sharded or not), docs and release build.
//!
//! Depend on this crate and call its steps in your own `#[pipeline]`, exactly like your own:
//!
//! ```no_run
//! use tanto::prelude::*;
//!
//! #[pipeline]
//! fn ci(src: Dir) {
//!     cargo_steps::fmt_check(src);
//!     cargo_steps::clippy(src);
//!     cargo_steps::test(src);
//! }
//! # fn main() {}
//! ```
//!
//! Every step runs in [`IMAGE`] with the workspace at `/workspace`. Cargo's home (the registry)
//! and the target folder live in the named cache volumes `cargo-home` and `cargo-target`, which
//! are outside the cache key. Every cargo command runs with `--locked`, so the workspace needs
//! an up-to-date `Cargo.lock`: commit it, as a CI build would need it.
//!
//! The target volume is shared by every workspace the daemon builds, and cargo decides that a
//! package of the workspace is built already by its files' modification times: a checkout
//! whose files are older than the last build of a package of the same name (another worktree,
//! an older commit run again) would run that build's binaries. So the steps that build mount
//! the workspace read-only at `/mnt/workspace` and copy it to `/workspace` before cargo runs
//! (`fmt_check`, which builds nothing, mounts it at `/workspace`). The copy's files are newer
//! than any build: the workspace's own packages are compiled again in every step, from rustc's
//! incremental cache in the volume, which keeps that cheap when they did not change (in full
//! under a profile without incremental compilation, such as `build`'s `release`), while
//! registry dependencies stay built. The price is the copy (of the files the `Dir` selects) and
//! that compilation; a result depends only on the step's inputs. For the same reason [`doc`]
//! and [`build`] return only what their own cargo command made, never the other workspaces'
//! docs or binaries in the shared folder ([`OUTPUTS_LOCK`]).

mod reports;

pub use reports::{test_report, test_report_package, test_report_package_with_docker, test_shard};
use tanto::prelude::*;

/// The image every step of this crate runs in. Map it to another with
/// `tanto::cli().image_alias(..)`, for example to an image built offline.
pub const IMAGE: &str = "rust:1.95-slim";

/// Where the steps that build mount the workspace, read-only: [`SETUP`] copies it to
/// `/workspace` before cargo runs. A step of your own that runs cargo with the `cargo-home`
/// and `cargo-target` volumes mounts it here too.
pub const MOUNT: &str = "/mnt/workspace";

// The workspace is at /workspace rather than /src: tools that shorten the workspace's path in
// what they print (trybuild's `$WORKSPACE`) would also rewrite cargo's `registry/src`.
// It is a copy of the mount, made once per container (the step's later commands find it), whose
// files all have the copy's mtime: cargo judges a path package fresh by its files' mtimes
// against its last build in the shared `/target`, where another tree with the same package
// (another checkout, a worktree, an older commit) may have built it later, and the mount's
// files keep the host's mtimes. So the workspace's own packages are always built again,
// from rustc's incremental cache in the volume; registry dependencies stay built.
// CARGO_HOME is the shared volume itself, so that cargo's package-cache lock is shared too and
// steps running at once never unpack the same crate over each other.
/// The shell commands the steps that build run before cargo, joined to theirs with `&&`: cargo's
/// home and target folder in the `cargo-home` and `cargo-target` volumes, and the workspace
/// mounted at [`MOUNT`] copied to `/workspace`, the working folder, so that a build in the
/// shared target folder never counts as fresh for another tree's files. A workspace without
/// `Cargo.lock` fails here, saying why, rather than in cargo's words about `--locked`.
pub const SETUP: &str = "export CARGO_HOME=/cargo-home CARGO_TARGET_DIR=/target CARGO_TERM_COLOR=never; \
     if [ ! -d /workspace ]; then rm -rf /workspace.partial && \
     cp -R /mnt/workspace /workspace.partial && mv /workspace.partial /workspace; fi && cd /workspace && \
     { [ -f Cargo.lock ] || { echo 'cargo-steps: the workspace has no Cargo.lock, and cargo runs with --locked: commit one (a .gitignore that lists it leaves it out of the Dir; #[dir(gitignore = false)] or removing it from .gitignore takes it in)' >&2; exit 1; }; }";

/// Checks that the workspace is formatted: `cargo fmt --all --check`.
#[step(image = IMAGE, network = false)]
pub async fn fmt_check(ctx: &Ctx, src: Dir) -> Result<()> {
    ctx.container()
        .with_mounted_dir("/workspace", &src)
        .with_workdir("/workspace")
        .exec(["cargo", "fmt", "--all", "--check"])
        .await?;
    Ok(())
}

/// Lints every target with clippy, denying warnings.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    timeout = "30m"
)]
pub async fn clippy(ctx: &Ctx, src: Dir) -> Result<()> {
    ctx.container()
        .with_mounted_dir(MOUNT, &src)
        .sh(&format!(
            "{SETUP} && cargo clippy --locked --workspace --all-targets -- -D warnings"
        ))
        .await?;
    Ok(())
}

/// Runs the workspace's tests, doctests included, and returns their output.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    timeout = "45m"
)]
pub async fn test(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir(MOUNT, &src)
        .sh(&format!("{SETUP} && cargo test --locked --workspace"))
        .await?;
    Ok(out.stdout)
}

/// Runs the tests of one package of the workspace on its own, `cargo test -p PACKAGE`, and
/// returns their output.
///
/// Built alone, a package gets only the features it asks for, so one that compiles only
/// because another member turns a feature on fails here. Loop over the packages to test each
/// in a step of its own, labelled by its name (`test_package[my-crate]`):
///
/// ```no_run
/// use tanto::prelude::*;
///
/// #[pipeline]
/// fn ci(src: Dir) {
///     for package in ["my-crate", "my-crate-macros"] {
///         cargo_steps::test_package(src, package);
///     }
/// }
/// # fn main() {}
/// ```
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    timeout = "45m"
)]
pub async fn test_package(ctx: &Ctx, src: Dir, package: String) -> Result<String> {
    // The package is an argument of the shell, never part of its script.
    let script = format!("{SETUP} && cargo test --locked -p \"$0\"");
    let out = ctx
        .container()
        .with_mounted_dir(MOUNT, &src)
        .exec(["sh", "-c", &script, &package])
        .await?;
    Ok(out.stdout)
}

/// Runs the workspace's tests like [`test`](fn@test), for suites that start containers themselves.
///
/// The step is given the Docker daemon by the `docker_socket` attribute: the daemon's socket
/// is mounted at `/var/run/docker.sock`, and a scratch folder shared with the host at the same
/// path is the container's `TMPDIR`, so folders the tests create and ask the daemon to mount
/// exist where the daemon looks. The image needs a `docker` client if the tests call it.
/// Containers that tanto runs inside the tests start are labelled with this step
/// (`TANTO_PARENT`) and removed when it ends, even when it fails or the run is interrupted.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    docker_socket,
    timeout = "60m"
)]
pub async fn test_with_docker(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir(MOUNT, &src)
        .sh(&format!(
            "{SETUP} && cargo test --locked --workspace --all-targets && cargo test --locked --workspace --doc"
        ))
        .await?;
    Ok(out.stdout)
}

/// Runs the tests of one package like [`test_package`](fn@test_package), for a package whose
/// tests start containers themselves: the step is given the Docker daemon as
/// [`test_with_docker`](fn@test_with_docker) describes.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    docker_socket,
    timeout = "60m"
)]
pub async fn test_package_with_docker(ctx: &Ctx, src: Dir, package: String) -> Result<String> {
    // The package is an argument of the shell, never part of its script.
    let script = format!(
        "{SETUP} && cargo test --locked -p \"$0\" --all-targets && cargo test --locked -p \"$0\" --doc"
    );
    let out = ctx
        .container()
        .with_mounted_dir(MOUNT, &src)
        .exec(["sh", "-c", &script, &package])
        .await?;
    Ok(out.stdout)
}

/// Builds the rustdoc of the workspace, denying warnings, and returns it.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(RUSTDOCFLAGS = "-D warnings"),
    timeout = "30m"
)]
pub async fn doc(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let c = ctx.container().with_mounted_dir(MOUNT, &src);
    // `/target/doc` holds the docs of every workspace the volume documented: it is emptied
    // first, under [`OUTPUTS_LOCK`], so the copy holds this workspace's alone (with
    // `--no-deps` nothing else is documented again, and the workspace's own crates always
    // are: the copy's files are newer than any build).
    c.sh(&format!(
        "{SETUP} && exec 9>{OUTPUTS_LOCK} && flock 9 && rm -rf /target/doc && \
         cargo doc --locked --workspace --no-deps && rm -rf /tmp/doc && cp -r /target/doc /tmp/doc"
    ))
    .await?;
    c.dir("/tmp/doc").await
}

/// The lock, in the `cargo-target` volume, that [`doc`] and [`build`] hold from their cargo
/// command to the copy of what it made (on a file descriptor of the step's shell, so it goes
/// when that command ends, however it ends): what they copy out of the shared folder is then what
/// their own command left there, never another workspace's.
pub const OUTPUTS_LOCK: &str = "/target/.cargo-steps-outputs.lock";

/// Builds the workspace's binaries with `profile` and returns them.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    timeout = "45m"
)]
pub async fn build(ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let c = ctx.container().with_mounted_dir(MOUNT, &src);
    // The profile's folder in the shared volume holds the binaries of every workspace built
    // there: only those cargo names as this build's executables are copied.
    c.sh(&format!(
        r#"{SETUP} && exec 9>{OUTPUTS_LOCK} && flock 9 && \
           cargo build --locked --workspace --bins --profile {profile} \
           --message-format=json-render-diagnostics > /tmp/build.json && \
           rm -rf /tmp/bin && mkdir -p /tmp/bin && \
           grep -o '"executable":"[^"]*"' /tmp/build.json | cut -d'"' -f4 | xargs -r cp -t /tmp/bin/"#
    ))
    .await?;
    c.dir("/tmp/bin").await
}

/// Checks, lints, tests, documents and builds a workspace: the usual Rust CI.
#[pipeline]
pub fn rust_ci(src: Dir) -> Dir {
    fmt_check(src);
    clippy(src);
    test(src);
    doc(src);
    build(src, "release")
}

/// Publishes the crate.
#[step(image = IMAGE, side_effect, cache("/usr/local/cargo/registry" = "cargo-registry"))]
pub async fn publish(ctx: &Ctx, src: Dir, token: Secret) -> Result<()> {
    ctx.container()
        .with_dir("/workspace", &src)
        .with_workdir("/workspace")
        .with_secret_env("CARGO_REGISTRY_TOKEN", &token) // this command's env only
        .with_secret_file("/run/secrets/token", &token) // in memory, mode 0400
        .exec(["cargo", "publish"])
        .await?;
    Ok(())
}

/// Publishes the crate in `src` with the registry token `token`.
#[pipeline]
pub fn release(src: Dir, token: Secret) {
    publish(src, token);
}
