//! Containers as values: `release` builds a std-only Rust service in the Rust image, copies
//! its static binary into a busybox image, smoke-tests that image and returns it (`--out DIR`
//! writes `DIR/package.tar`, which `docker load` accepts); `pack` builds and packages
//! without the smoke test; `publish` also pushes it to a registry and prints the manifest
//! digest.

use image_steps::publish as push;
use tanto::prelude::*;

/// The target the service is built for: a static binary runs on busybox, which has no glibc.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the service in `src` as a static release binary.
#[step(image = "tanto-test/rust:1.95", network = false)]
async fn build(ctx: &Ctx, src: Dir) -> Result<File> {
    let c = ctx
        .container()
        .with_dir("/src", &src)
        .with_workdir("/src")
        .with_env("RUSTFLAGS", "-C target-feature=+crt-static")
        .with_env("CARGO_TERM_COLOR", "never");
    c.exec([
        "cargo",
        "build",
        "--release",
        "--offline",
        "--target",
        TARGET,
    ])
    .await?;
    c.file(format!("/src/target/{TARGET}/release/hello-service"))
        .await
}

/// Puts the binary into a slim busybox image that runs it, listening on 8080.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn package(ctx: &Ctx, bin: File) -> Result<Image> {
    ctx.container()
        .with_file("/app/hello-service", &bin)
        .with_entrypoint(["/app/hello-service"])
        .with_exposed_port("8080")
        .with_label("org.opencontainers.image.title", "hello-service")
        .snapshot()
        .await
}

/// Starts the service from `image` and asks it for a page; returns the image, tested, so
/// that what ships it reads it from here and waits for the test.
#[step(network = false)]
async fn smoke(ctx: &Ctx, image: Image) -> Result<Image> {
    let out = ctx
        .container()
        .from(&image)
        .sh("/app/hello-service & for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 1")
        .await?;
    if !out.stdout.contains("hello from ship") {
        return Err(Error::other(format!(
            "the service answered {:?}",
            out.stdout
        )));
    }
    Ok(image)
}

/// Where the image goes in `registry`; a registry that makes no reference fails here, before
/// the build is done.
#[step]
async fn reference(_ctx: &Ctx, registry: String) -> Result<PushTarget> {
    PushTarget::new(format!("{registry}/ship/hello-service:latest"))
}

/// Builds the service in `--src`, packages it and smoke-tests the image.
#[pipeline]
fn release(src: Dir) -> Image {
    let bin = build(src);
    let image = package(bin);
    smoke(image);
    image
}

/// Builds the service in `--src` and packages it, without the smoke test: what a multi-stage
/// Dockerfile does (`cargo xtask bench ship` measures the two side by side).
#[pipeline]
fn pack(src: Dir) -> Image {
    let bin = build(src);
    package(bin)
}

/// `release`, then pushes the image to `--registry HOST:PORT` as user `ship` with
/// `--password`; prints the manifest digest.
#[pipeline]
fn publish(src: Dir, registry: String, password: Secret) -> String {
    let bin = build(src);
    let image = package(bin);
    // What `smoke` returns: the push waits for the test, and a failed test stops it.
    let tested = smoke(image);
    let to = reference(registry);
    push(tested, to, "ship", password)
}

fn main() -> std::process::ExitCode {
    tanto::cli()
        .pipeline(release)
        .pipeline(pack)
        .pipeline(publish)
        .run()
}
