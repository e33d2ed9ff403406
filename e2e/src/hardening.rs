//! Pipelines for the hardening tests: outputs shaped by a script the test chooses (hostile
//! links, files captured by name), and a step that runs a nested tanto run through the
//! daemon's socket.

use tanto::prelude::*;

/// Runs `script` in an empty `/out` and captures that folder, whatever the script put there.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn shape_dir(ctx: &Ctx, script: String) -> Result<Dir> {
    let c = ctx.container().with_workdir("/");
    c.sh(format!("mkdir -p /out && cd /out && {script}"))
        .await?;
    c.dir("/out").await
}

/// A folder whose content `--script` makes, in `/out`.
#[pipeline]
pub fn shaped(script: String) -> Dir {
    shape_dir(script)
}

/// Two folders, shaped by `first` and `second`, both exported into one `--out`.
#[pipeline]
pub fn shaped_twice(first: String, second: String) -> (Dir, Dir) {
    let a = shape_dir(first);
    let b = shape_dir(second);
    (a, b)
}

/// Runs `script` at `/`, then captures the folder `path`, spelled as the test chooses.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn capture_at(ctx: &Ctx, script: String, path: String) -> Result<Dir> {
    let c = ctx.container().with_workdir("/");
    c.sh(script).await?;
    c.dir(path).await
}

/// The folder `--path` after `--script` ran.
#[pipeline]
pub fn captured(script: String, path: String) -> Dir {
    capture_at(script, path)
}

/// Runs `script` at `/`, then captures the file `path`.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn capture_file_at(ctx: &Ctx, script: String, path: String) -> Result<File> {
    let c = ctx.container().with_workdir("/");
    c.sh(script).await?;
    c.file(path).await
}

/// The file `--path` after `--script` ran.
#[pipeline]
pub fn captured_file(script: String, path: String) -> File {
    capture_file_at(script, path)
}

/// Runs `script` in `/work`, then captures the file `/work/notes.txt`.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn shape_file(ctx: &Ctx, script: String) -> Result<File> {
    let c = ctx.container();
    c.sh(format!("mkdir -p /work && cd /work && {script}"))
        .await?;
    c.file("/work/notes.txt").await
}

/// The file `notes.txt` that `--script` writes.
#[pipeline]
pub fn shaped_file(script: String) -> File {
    shape_file(script)
}

/// Runs `script` in the Rust image with the daemon's socket, and the folder `bin` (the host's
/// `fixture` binary) at `/nested`: the script can start a nested tanto run of its own.
#[step(image = "tanto-test/rust:1.95", docker_socket)]
pub(crate) async fn nest(ctx: &Ctx, bin: Dir, script: String) -> Result<()> {
    ctx.container()
        .with_mounted_dir("/nested", &bin)
        .with_env("TANTO_CACHE_DIR", "/tmp/nested-cache")
        .sh(script)
        .await?;
    Ok(())
}

/// One `docker_socket` step that runs `--script` with `--bin` mounted at `/nested`.
#[pipeline]
pub fn nested(bin: Dir, script: String) {
    nest(bin, script);
}
