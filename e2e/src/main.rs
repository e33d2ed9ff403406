//! Pipelines that exercise the scheduler and the CLI end to end: fan-outs, failures and
//! timeouts, a step that sleeps until interrupted, an early-cutoff chain, side effects, images
//! reached by alias or pulled from a registry, a CPU limit, and what a step sees of a folder.
//! The tests in `tests/` run this binary against a real Docker daemon (and Podman).

mod bench;
mod hardening;
mod images;
mod layers;
mod services;
mod services_client;
mod shared;
mod test_reports;

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

/// Looks at `src`, then fails.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn probe(ctx: &Ctx, src: Dir) -> Result<()> {
    let c = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .with_env("PROBE", "on");
    c.sh("echo probing > /tmp/probe.log; exit 3").await?;
    Ok(())
}

/// A step that fails with a folder mounted: what `-i` opens a shell into.
#[pipeline]
pub fn probe_fail(src: Dir) {
    probe(src);
}

/// Lists what `pack` made.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn look(ctx: &Ctx, made: Dir) -> Result<String> {
    let c = ctx
        .container()
        .with_mounted_dir("/in", &made)
        .with_workdir("/in")
        .with_env("LOOKING", "yes");
    Ok(c.sh("ls").await?.stdout)
}

/// `pack` feeds `look`: a step whose input comes from another step, through the cache.
#[pipeline]
pub fn unpacked(src: Dir) -> String {
    let made = pack(src);
    look(made)
}

/// Sleeps 30 s under a one-second timeout.
#[step(image = "tanto-test/busybox:latest", network = false, timeout = "1s")]
pub async fn overdue(ctx: &Ctx) -> Result<()> {
    ctx.container().exec(["sleep", "30"]).await?;
    Ok(())
}

/// One step that times out.
#[pipeline]
pub fn late() {
    overdue();
}

/// Says `n`, as a deploy would act: a side effect, never cached.
#[step(image = "tanto-test/busybox:latest", network = false, side_effect)]
pub async fn announce(ctx: &Ctx, n: u32) -> Result<String> {
    let out = ctx
        .container()
        .exec(["echo", &format!("announced {n}")])
        .await?;
    Ok(out.stdout)
}

/// The same side effect twice, with the same input.
#[pipeline]
pub fn effects() {
    announce(7);
    announce(7);
}

/// Names an image that exists nowhere; `main` aliases it to busybox.
#[step(image = "tanto-test/aliased:none", network = false)]
pub async fn via_alias(ctx: &Ctx) -> Result<String> {
    let out = ctx
        .container()
        .exec(["echo", "ran through the alias"])
        .await?;
    Ok(out.stdout)
}

/// One step whose image exists only as an alias target.
#[pipeline]
pub fn alias() -> String {
    via_alias()
}

/// The image name that `main` aliases to `$TANTO_FIXTURE_PULL`, an image in a registry.
const PULLED: &str = "tanto-test/pulled:none";

/// Runs in an image that must be pulled: `$TANTO_FIXTURE_PULL` names it.
#[step(image = "tanto-test/pulled:none", network = false)]
pub async fn from_registry(ctx: &Ctx) -> Result<String> {
    let out = ctx
        .container()
        .exec(["echo", "ran in the pulled image"])
        .await?;
    Ok(out.stdout)
}

/// One step in an image pulled from a registry.
#[pipeline]
pub fn pull() -> String {
    from_registry()
}

/// The CPU quota its container runs under, as `QUOTA PERIOD` in microseconds.
#[step(image = "tanto-test/busybox:latest", network = false, cpus = "0.5")]
pub async fn half_cpu(ctx: &Ctx) -> Result<String> {
    // cgroup v2 has one file; v1 (Docker 20.10's default here) has two.
    let out = ctx
        .container()
        .sh(r#"cat /sys/fs/cgroup/cpu.max 2>/dev/null ||
               echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)""#)
        .await?;
    Ok(out.stdout)
}

/// One step limited to half a CPU.
#[pipeline]
pub fn limited() -> String {
    half_cpu()
}

/// How `src` reaches the container: the number of mounts at or under `/src` (0: uploaded),
/// then every entry's name, then the content of the files that have any.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn shown(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh(r#"echo "mounts $(awk '$5 == "/src" || index($5, "/src/") == 1' /proc/self/mountinfo | wc -l)"
               find . -mindepth 1 | sort
               find . -type f ! -empty | sort | xargs -r cat"#)
        .await?;
    Ok(out.stdout)
}

/// Shows what a step sees of `src`, all but `secret/` and what `.gitignore` leaves out.
#[pipeline]
pub fn view(#[dir(exclude = "secret/**")] src: Dir) -> String {
    shown(src)
}

/// Writes `text` into a file in a container and keeps it: an output stored as a blob.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn saved(ctx: &Ctx, text: String) -> Result<File> {
    let c = ctx.container().with_new_file("/in.txt", text);
    c.sh("tr a-z A-Z < /in.txt > /out.txt").await?;
    c.file("/out.txt").await
}

/// One step whose output is a file in the store.
#[pipeline]
pub fn stored(text: String) -> File {
    saved(text)
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
    let mut cli = tanto::cli();
    // Only where a test names a registry's image: otherwise the step's image is missing.
    if let Ok(image) = std::env::var("TANTO_FIXTURE_PULL") {
        cli = cli.image_alias(PULLED, image);
    }
    cli = test_reports::register(cli);
    cli.image_alias("tanto-test/aliased:none", "tanto-test/busybox:latest")
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
        .pipeline(late)
        .pipeline(effects)
        .pipeline(alias)
        .pipeline(pull)
        .pipeline(limited)
        .pipeline(view)
        .pipeline(stored)
        .pipeline(chatty)
        .pipeline(packed)
        .pipeline(secretive)
        .pipeline(secretive_fail)
        .pipeline(secret_by_name)
        .pipeline(probe_fail)
        .pipeline(unpacked)
        .pipeline(hardening::shaped)
        .pipeline(hardening::shaped_file)
        .pipeline(hardening::nested)
        .pipeline(services::pg)
        .pipeline(services::pg_shared)
        .pipeline(services::pg_wired)
        .pipeline(services::svc_keyed)
        .pipeline(services::svc_never)
        .pipeline(services::svc_exits)
        .pipeline(services::svc_missing)
        .pipeline(services::svc_hold)
        .pipeline(services::svc_restarted)
        .pipeline(services::svc_consumer_fails)
        .pipeline(services::svc_twice)
        .pipeline(images::imaged)
        .pipeline(images::image_read)
        .pipeline(images::pushed)
        .pipeline(images::layered)
        .pipeline(layers::bundled)
        .pipeline(services_client::pg_client)
        .pipeline(services_client::redis_client)
        .pipeline(bench::one)
        .pipeline(bench::ci20)
        .pipeline(matrix)
        .pipeline(shared::shared)
        .pipeline(shared::shared_dir)
        .pipeline(shared::shared_logs)
        .run()
}
