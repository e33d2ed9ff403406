//! The pipelines that `cargo xtask bench` times: one step running `true`, and `ci20`, a
//! 20-step CI-shaped graph whose scripts are those of `bench/ci20.Dockerfile` and
//! `bench/ci20.sh` (both generated from `xtask/src/bench/workload.rs`; keep them in step).
//!
//! Every `ci20` step runs one shell script in busybox with the source tree at `/src` and its
//! upstream outputs as files `/in/0`, `/in/1`…; its output is the script's stdout.

use tanto::prelude::*;

/// Runs `true`: nothing but the cost of one container.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn truth(ctx: &Ctx, tag: String) -> Result<()> {
    ctx.container().exec(["true", &tag]).await?;
    Ok(())
}

/// One step, for the per-container overhead.
#[pipeline]
pub fn one() {
    truth("once");
}

/// Runs `script` with the source tree at `/src` (when given) and `inputs` at `/in/N`.
async fn script(ctx: &Ctx, src: Option<&Dir>, inputs: &[String], script: &str) -> Result<String> {
    let mut c = ctx.container();
    if let Some(src) = src {
        c = c.with_mounted_dir("/src", src);
    }
    for (i, input) in inputs.iter().enumerate() {
        c = c.with_new_file(format!("/in/{i}"), input.as_bytes());
    }
    Ok(c.sh(script).await?.stdout)
}

/// A step over the source tree.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn src0(ctx: &Ctx, src: Dir, sh: String) -> Result<String> {
    script(ctx, Some(&src), &[], &sh).await
}

/// A step over the source tree and one upstream output.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn src1(ctx: &Ctx, src: Dir, a: String, sh: String) -> Result<String> {
    script(ctx, Some(&src), &[a], &sh).await
}

/// A step over one upstream output.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn val1(ctx: &Ctx, a: String, sh: String) -> Result<String> {
    script(ctx, None, &[a], &sh).await
}

/// A step over two upstream outputs.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn val2(ctx: &Ctx, a: String, b: String, sh: String) -> Result<String> {
    script(ctx, None, &[a, b], &sh).await
}

/// A step over three upstream outputs.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn val3(ctx: &Ctx, a: String, b: String, c: String, sh: String) -> Result<String> {
    script(ctx, None, &[a, b, c], &sh).await
}

/// Twenty steps shaped like a project's CI: checks fanned out over the source, a build
/// feeding four test steps, a diamond into coverage, a five-step release chain, and a gate.
#[pipeline]
pub fn ci20(src: Dir) -> String {
    let manifest = src0(src, "cat /src/Cargo.toml /src/Cargo.lock | md5sum");
    src0(src, "find /src -type f | sort | md5sum");
    let lint = src0(src, "grep -r -c fn /src/crates | sort | md5sum");
    val1(manifest, "(cat /in/0; echo audit) | md5sum");
    let build = src1(
        src,
        manifest,
        "(cat /in/0; find /src/crates -type f | sort | xargs cat) | md5sum",
    );
    let unit = val1(build, "(cat /in/0; echo unit) | md5sum");
    let integ = val1(build, "(cat /in/0; echo integ) | md5sum");
    let doctest = val1(build, "(cat /in/0; echo doctest) | md5sum");
    let smoke = val1(build, "(cat /in/0; echo smoke) | md5sum");
    let coverage = val2(unit, integ, "(cat /in/0 /in/1; echo coverage) | md5sum");
    let package = val1(build, "(cat /in/0; echo package) | md5sum");
    let sbom = val1(package, "(cat /in/0; echo sbom) | md5sum");
    let sign = val1(sbom, "(cat /in/0; echo sign) | md5sum");
    let upload = val1(sign, "(cat /in/0; echo upload) | md5sum");
    let notify = val1(upload, "(cat /in/0; echo notify) | md5sum");
    let docs = src1(src, build, "(cat /in/0 /src/docs/*) | md5sum");
    val1(docs, "(cat /in/0; echo links) | md5sum");
    src0(src, "grep -r -L SPDX /src/crates | wc -l");
    let report = val3(
        coverage,
        doctest,
        smoke,
        "(cat /in/0 /in/1 /in/2; echo report) | md5sum",
    );
    val3(
        report,
        notify,
        lint,
        "(cat /in/0 /in/1 /in/2; echo gate) | md5sum",
    )
}
