//! Pipelines for the scheduler and the CLI: fan-outs, failures, a step that sleeps until
//! interrupted, a missing image, timeouts (in a command and in a step's own code), side effects, a CPU limit and the live view.

use tanto::prelude::*;

/// Sleeps `secs` seconds in a container.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn nap(ctx: &Ctx, secs: u32) -> Result<()> {
    ctx.container().exec(["sleep", &secs.to_string()]).await?;
    Ok(())
}

/// Prints a line to stdout, one to stderr and one more to stdout, then exits 3.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn broken(ctx: &Ctx, after: u32) -> Result<()> {
    ctx.container()
        .sh(&format!(
            "sleep {after}; echo 'checking'; sleep 0.2; echo 'something broke' >&2; sleep 0.2; echo 'giving up'; exit 3"
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

/// Appends `+` to `prev` in a container, with one command.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn hop(ctx: &Ctx, prev: String) -> Result<String> {
    let out = ctx.container().exec(["echo", &format!("{prev}+")]).await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// Three calls of one step in a chain: each step of the same code after the first may take
/// the first's hint that it runs one command.
#[pipeline]
pub fn relay() -> String {
    let one = hop("go");
    let two = hop(one);
    hop(two)
}

/// Prints a line and half of one, then sleeps 30 s under a one-second timeout.
#[step(image = "tanto-test/busybox:latest", network = false, timeout = "1s")]
pub async fn overdue(ctx: &Ctx) -> Result<()> {
    let script = "echo waiting for the lock; printf 'still waiting'; sleep 30";
    ctx.container().exec(["sh", "-c", script]).await?;
    Ok(())
}

/// One step that times out.
#[pipeline]
pub fn late() {
    overdue();
}

/// Runs a command, then waits 30 s in its own code under a one-second timeout.
#[step(image = "tanto-test/busybox:latest", network = false, timeout = "1s")]
pub async fn dawdles(ctx: &Ctx) -> Result<()> {
    ctx.container().exec(["echo", "done"]).await?;
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    Ok(())
}

/// One step whose own code runs past its timeout, after its command ended.
#[pipeline]
pub fn dawdling() {
    dawdles();
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

/// Runs a command in its container, then panics.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn blows_up(ctx: &Ctx) -> Result<()> {
    ctx.container().exec(["true"]).await?;
    panic!("a bug in the step's own code");
}

/// One step whose code panics.
#[pipeline]
pub fn panicky() {
    blows_up();
}
