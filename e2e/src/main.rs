//! Pipelines that exercise the scheduler and the CLI end to end: fan-outs, failures, a step
//! that sleeps until interrupted, and an early-cutoff chain. The tests in `tests/` run this
//! binary against a real Docker daemon.

mod bench;

use std::process::ExitCode;

use tanto::prelude::*;

/// Sleeps `secs` seconds in a container.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn nap(ctx: &Ctx, secs: u32) -> Result<()> {
    ctx.container().exec(["sleep", &secs.to_string()]).await?;
    Ok(())
}

/// Prints to stderr, then exits 3.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn broken(ctx: &Ctx, after: u32) -> Result<()> {
    ctx.container()
        .sh(&format!(
            "sleep {after}; echo 'something broke' >&2; exit 3"
        ))
        .await?;
    Ok(())
}

/// Six one-second steps with no edges between them.
#[pipeline]
pub fn wide() {
    nap(1);
    nap(1);
    nap(1);
    nap(1);
    nap(1);
    nap(1);
}

/// A step that fails after a second, beside two that take ten.
#[pipeline]
pub fn failing() {
    broken(1);
    nap(10);
    nap(11);
}

/// One step that sleeps for a minute, to be interrupted.
#[pipeline]
pub fn sleepy() {
    nap(60);
}

/// The sorted names of the files in `src`, without their content.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn names(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh("find . -type f | sort")
        .await?;
    Ok(out.stdout)
}

/// Upper-cases its input.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn shout(ctx: &Ctx, text: String) -> Result<String> {
    let out = ctx
        .container()
        .with_new_file("/in.txt", text)
        .sh("tr a-z A-Z < /in.txt")
        .await?;
    Ok(out.stdout)
}

/// Prints the content of every file under `src` that has any.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn contents(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh("find . -type f ! -empty | sort | xargs -r cat")
        .await?;
    Ok(out.stdout)
}

/// Reads the files of `src` that count: its sources and manifests, never `src/fixtures`.
#[pipeline]
pub fn selected(
    #[dir(include = ["src/**", "Cargo.*"], exclude = "src/fixtures/**")] src: Dir,
) -> String {
    contents(src)
}

/// A selection with a glob that does not parse.
#[pipeline]
pub fn bad_glob(#[dir(include = "src/[")] src: Dir) -> String {
    contents(src)
}

/// `names` feeds `shout`: editing a file's content re-runs `names`, whose output is the same,
/// so `shout` stays cached.
#[pipeline]
pub fn cutoff(src: Dir) -> String {
    let listed = names(src);
    shout(listed)
}

/// Counts the files of `src`, slowly, so a test can edit `src` meanwhile.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn slow_count(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .sh("sleep 2; find /src -type f | wc -l")
        .await?;
    Ok(out.stdout)
}

/// One slow step over `src`.
#[pipeline]
pub fn slow(src: Dir) -> String {
    slow_count(src)
}

fn main() -> ExitCode {
    tanto::cli()
        .pipeline(wide)
        .pipeline(failing)
        .pipeline(sleepy)
        .pipeline(cutoff)
        .pipeline(selected)
        .pipeline(bad_glob)
        .pipeline(slow)
        .pipeline(bench::one)
        .pipeline(bench::ci20)
        .run()
}
