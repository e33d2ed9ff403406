//! Pipelines for the shared-cache tests (a real BuildGrid): a folder with files, an
//! executable, a link and whatever the source holds, a listing of it as a file, and its size
//! as a value.

use tanto::prelude::*;

/// Copies `src` into `/out` after `pause` seconds, and adds an executable script and a link.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn bundle(ctx: &Ctx, src: Dir, pause: u32) -> Result<Dir> {
    let c = ctx.container().with_mounted_dir("/src", &src);
    c.sh(format!(
        "sleep {pause}; mkdir -p /out/bin && cp -R /src/. /out/ && \
         printf '#!/bin/sh\\necho hi\\n' > /out/bin/hi && chmod 755 /out/bin/hi && \
         ln -s bin/hi /out/hi"
    ))
    .await?;
    c.dir("/out").await
}

/// The sorted list of files in `dir` with their sizes, as a file.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn listing(ctx: &Ctx, dir: Dir) -> Result<File> {
    let c = ctx.container().with_mounted_dir("/in", &dir);
    c.sh("cd /in && find . -type f -exec wc -c {} + | sort > /listing.txt")
        .await?;
    c.file("/listing.txt").await
}

/// How many bytes `dir` holds, as a value.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn weigh(ctx: &Ctx, dir: Dir) -> Result<u64> {
    let c = ctx.container().with_mounted_dir("/in", &dir);
    let out = c.sh("cat $(find /in -type f) | wc -c").await?;
    Ok(out.stdout.trim().parse()?)
}

/// A folder made from `src`, its listing and its weight: the final output is the listing.
#[pipeline]
pub fn shared(src: Dir, pause: u32) -> File {
    let made = bundle(src, pause);
    weigh(made);
    listing(made)
}

/// The folder made from `src` itself as the final output.
#[pipeline]
pub fn shared_dir(src: Dir) -> Dir {
    bundle(src, 0)
}

/// Writes known lines on its stdout and its stderr, and counts the files of `src`.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn chatty(ctx: &Ctx, src: Dir) -> Result<u64> {
    let c = ctx.container().with_mounted_dir("/src", &src);
    let out = c
        .sh("echo 'out: one'; echo 'err: two' >&2; echo 'out: three'; find /src -type f | wc -l")
        .await?;
    Ok(out
        .stdout
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .parse()?)
}

/// Prints `token` on both streams, as a careless step would.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn telling(ctx: &Ctx, token: Secret) -> Result<()> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    c.sh("echo \"token: $TOKEN\"; echo \"again: $TOKEN\" >&2")
        .await?;
    Ok(())
}

/// Writes `token` into a file and keeps it, as a careless step would.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn spill(ctx: &Ctx, token: Secret) -> Result<File> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    c.sh("echo \"token: $TOKEN\" > /spilled.txt").await?;
    c.file("/spilled.txt").await
}

/// Prints what `spilled` holds on both streams: a step without a secret input whose output
/// shows one.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn reveal(ctx: &Ctx, spilled: File) -> Result<()> {
    let c = ctx.container().with_file("/spilled.txt", &spilled);
    c.sh("cat /spilled.txt; sed s/token/again/ /spilled.txt >&2")
        .await?;
    Ok(())
}

/// A step with known output, one that prints a secret, and one that prints a secret another
/// step leaked into a file, for the logs the shared cache keeps.
#[pipeline]
pub fn shared_logs(src: Dir, token: Secret) -> u64 {
    telling(token);
    let spilled = spill(token);
    reveal(spilled);
    chatty(src)
}

/// `mib` MiB of random bytes as a file: a step whose output differs each time it runs, as
/// most real builds' do.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn noise(ctx: &Ctx, src: Dir, mib: u32) -> Result<File> {
    let c = ctx.container().with_mounted_dir("/src", &src);
    c.sh(format!(
        "dd if=/dev/urandom of=/noise.bin bs=1048576 count={mib} 2>/dev/null"
    ))
    .await?;
    c.file("/noise.bin").await
}

/// Waits `secs` seconds in every run (a side effect), and says how long.
#[step(image = "tanto-test/busybox:latest", network = false, side_effect)]
pub(crate) async fn nap(ctx: &Ctx, secs: u32) -> Result<u32> {
    ctx.container().sh(format!("sleep {secs}")).await?;
    Ok(secs)
}

/// How many bytes `bytes` holds, read once `after` is done.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn measure(ctx: &Ctx, bytes: File, after: u32) -> Result<u64> {
    let c = ctx.container().with_file("/bytes.bin", &bytes);
    let out = c.sh(format!("wc -c < /bytes.bin # after {after}")).await?;
    Ok(out.stdout.trim().parse()?)
}

/// Random bytes (`mib` MiB) and their size, measured after a nap of `wait` seconds: the
/// final output is the bytes, which no run makes twice alike.
#[pipeline]
pub fn remade(src: Dir, mib: u32, wait: u32) -> File {
    let bytes = noise(src, mib);
    let waited = nap(wait);
    measure(bytes, waited);
    bytes
}
