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

/// Six calls of one one-second step with the same input: one key, so one container runs and
/// the other five share its run.
#[pipeline]
pub fn wide() {
    nap(1);
    nap(1);
    nap(1);
    nap(1);
    nap(1);
    nap(1);
}

/// Sleeps a second in a container; `n` only makes each call's key its own.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn nap_as(ctx: &Ctx, n: u32) -> Result<()> {
    ctx.container().exec(["sleep", "1"]).await?;
    let _ = n;
    Ok(())
}

/// Six one-second steps with six keys and no edges between them: `-j` alone limits how many
/// run at once.
#[pipeline]
pub fn spread() {
    nap_as(1);
    nap_as(2);
    nap_as(3);
    nap_as(4);
    nap_as(5);
    nap_as(6);
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

/// Exits 3 without printing anything.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn mute(ctx: &Ctx) -> Result<()> {
    ctx.container().sh("exit 3").await?;
    Ok(())
}

/// One step that fails silently.
#[pipeline]
pub fn silent() {
    mute();
}

/// Runs in an image that no machine has and no registry serves.
#[step(image = "tanto-test/missing:none", network = false)]
pub async fn nowhere(ctx: &Ctx) -> Result<()> {
    ctx.container().exec(["true"]).await?;
    Ok(())
}

/// A quick step beside one whose image is missing: neither may start.
#[pipeline]
pub fn no_image() {
    mute();
    nowhere();
}

/// Prints `NAME: tick N` twice a second for a while.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn chatter(ctx: &Ctx, name: String) -> Result<String> {
    ctx.container()
        .sh(&format!(
            "for i in $(seq 1 40); do echo \"{name}: tick $i\"; sleep 0.5; done"
        ))
        .await?;
    Ok(name)
}

/// Joins two names.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn gather(ctx: &Ctx, a: String, b: String) -> Result<String> {
    ctx.container().exec(["true"]).await?;
    Ok(format!("{a}+{b}"))
}

/// Two steps that print for twenty seconds, and one that waits on both: what the live view
/// shows mid-run.
#[pipeline]
pub fn chatty() -> String {
    let left = chatter("left");
    let right = chatter("right");
    gather(left, right)
}

/// Copies `src` into a folder of its own and returns it.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn pack(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let c = ctx.container().with_mounted_dir("/src", &src);
    c.sh("mkdir -p /out && cp -R /src/. /out/").await?;
    c.dir("/out").await
}

/// One step whose output is a folder, held in the store as blobs and trees.
#[pipeline]
pub fn packed(src: Dir) -> Dir {
    pack(src)
}

/// Shows `token` every way a careless step might: whole, in two halves with a pause between,
/// base64-encoded and read back from its file; then returns what it printed.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn leaky(ctx: &Ctx, token: Secret) -> Result<String> {
    let c = ctx
        .container()
        .with_secret_env("TOKEN", &token)
        .with_secret_file("/run/secrets/token", &token);
    let out = c
        .sh(r#"echo "whole: $TOKEN"
printf 'halves: %s' "$(printf %s "$TOKEN" | cut -c1-6)"; sleep 1; printf %s "$TOKEN" | cut -c7-
echo "base64: $(printf %s "$TOKEN" | base64)"
echo "file: $(cat /run/secrets/token) $(stat -c %a /run/secrets/token)"
sleep 2"#)
        .await?;
    Ok(out.stdout)
}

/// Puts what the step printed, secret and all, in a failing command's arguments.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn leaky_fail(ctx: &Ctx, token: Secret) -> Result<()> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    let printed = c.sh("printf %s \"$TOKEN\"").await?.stdout;
    c.exec(["sh", "-c", "echo \"no luck with $0\" >&2; exit 4", &printed])
        .await?;
    Ok(())
}

/// Logs in with `token` and does something whose result does not depend on which token.
#[step(
    image = "tanto-test/busybox:latest",
    network = false,
    secret_in_key = false
)]
pub async fn with_any_token(ctx: &Ctx, token: Secret) -> Result<String> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    let out = c.sh("test -n \"$TOKEN\" && echo logged in").await?;
    Ok(out.stdout)
}

/// A step keyed by its secret's name only.
#[pipeline]
pub fn secret_by_name(token: Secret) -> String {
    with_any_token(token)
}

/// A step that shows its secret every way it can, and returns it.
#[pipeline]
pub fn secretive(token: Secret) -> String {
    leaky(token)
}

/// A step that fails with its secret in a command's arguments.
#[pipeline]
pub fn secretive_fail(token: Secret) {
    leaky_fail(token);
}

/// The feature sets the `matrix` fixture runs with every toolchain it is given.
pub const FEATURES: [&str; 3] = ["default", "serde", "full"];

/// The input of one matrix cell: the content of `src/TOOLCHAIN/FEATURE.txt`, `none` without one.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn cell_input(ctx: &Ctx, src: Dir, toolchain: String, feature: String) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .exec([
            "sh",
            "-c",
            "cat \"/src/$0/$1.txt\" 2>/dev/null || echo none",
            &toolchain,
            &feature,
        ])
        .await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// One cell of the matrix: what `toolchain` makes of `feature`'s input.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn cell(ctx: &Ctx, input: String, toolchain: String, feature: String) -> Result<String> {
    let line = format!("{toolchain}/{feature}: {input}");
    let out = ctx.container().exec(["echo", &line]).await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// Joins the cells' results, one a line, in the order given.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn join_cells(ctx: &Ctx, results: Vec<String>) -> Result<String> {
    let c = ctx
        .container()
        .with_new_file("/results.txt", results.join("\n"));
    Ok(c.sh("cat /results.txt").await?.stdout)
}

/// Publishes the joined results: a side effect, never cached.
#[step(image = "tanto-test/busybox:latest", network = false, side_effect)]
pub async fn publish_results(ctx: &Ctx, summary: String) -> Result<()> {
    ctx.container()
        .with_new_file("/summary.txt", summary)
        .sh("wc -l < /summary.txt")
        .await?;
    Ok(())
}

/// Runs every feature set with every toolchain, joins the results, and publishes them
/// under `--release`.
#[pipeline]
pub fn matrix(src: Dir, toolchains: Vec<String>, release: bool) -> String {
    let mut results = Vec::new();
    for toolchain in &toolchains {
        for feature in FEATURES {
            let input = cell_input(src, toolchain, feature);
            results.push(cell(input, toolchain, feature));
        }
    }
    let summary = join_cells(results);
    if release {
        publish_results(summary);
    }
    summary
}

fn main() -> ExitCode {
    tanto::cli()
        .pipeline(wide)
        .pipeline(spread)
        .pipeline(failing)
        .pipeline(sleepy)
        .pipeline(cutoff)
        .pipeline(selected)
        .pipeline(bad_glob)
        .pipeline(slow)
        .pipeline(silent)
        .pipeline(no_image)
        .pipeline(chatty)
        .pipeline(packed)
        .pipeline(secretive)
        .pipeline(secretive_fail)
        .pipeline(secret_by_name)
        .pipeline(bench::one)
        .pipeline(bench::ci20)
        .pipeline(matrix)
        .run()
}
