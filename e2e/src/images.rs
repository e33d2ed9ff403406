//! Pipelines for the image tests: a step that snapshots its container as an `Image`, and a
//! step that starts from that image.

use tanto::prelude::*;

/// Writes `msg` to `/srv/msg` in busybox and snapshots the container as an image that prints
/// it.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn package(ctx: &Ctx, msg: Option<String>) -> Result<Image> {
    let msg = msg.unwrap_or_default();
    let c = ctx
        .container()
        .with_env("GREETING", "hello")
        .with_workdir("/srv")
        .with_entrypoint(["cat"])
        .with_cmd(["/srv/msg"])
        .with_exposed_port("8080")
        .with_label("org.example.kind", "test")
        .with_label("org.example.msg", &msg);
    ctx.container()
        .sh(format!("mkdir -p /srv && printf '%s' '{msg}' > /srv/msg"))
        .await?;
    c.snapshot().await
}

/// Reads `/srv/msg` and `$GREETING` in a container started from `image`.
#[step(network = false)]
pub(crate) async fn read_back(ctx: &Ctx, image: Image) -> Result<String> {
    let out = ctx
        .container()
        .from(&image)
        .sh("printf '%s %s' \"$GREETING\" \"$(cat /srv/msg)\"")
        .await?;
    Ok(out.stdout)
}

/// An image holding `--msg` (optional only because a required value flag cannot also be
/// global, which every pipeline input is), checked by a step that runs from it.
#[pipeline]
pub fn imaged(msg: Option<String>) -> Image {
    let image = package(msg);
    read_back(image);
    image
}

/// What a step running from the image of `--msg` reads in it.
#[pipeline]
pub fn image_read(msg: Option<String>) -> String {
    let image = package(msg);
    read_back(image)
}

/// The image of `--msg`, pushed as `--reference` by user `tanto` with `--password`: prints
/// the manifest digest.
#[pipeline]
pub fn pushed(msg: Option<String>, reference: PushTarget, password: Secret) -> String {
    let image = package(msg);
    image_steps::publish(image, reference, "tanto", password)
}

/// Copies `msg` into `/srv/app/msg` on busybox and snapshots that without running anything;
/// `salt` only changes the step's key, not what it makes.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn layer(ctx: &Ctx, msg: Option<String>, salt: Option<String>) -> Result<Image> {
    let (msg, _) = (msg.unwrap_or_default(), salt);
    ctx.container()
        .with_new_file("/srv/app/msg", msg.clone())
        .with_cmd(["cat", "/srv/app/msg"])
        .with_label("org.example.msg", msg)
        .snapshot()
        .await
}

/// What `/srv/app/msg` holds in `image`.
#[step(network = false)]
pub(crate) async fn cat_back(ctx: &Ctx, image: Image) -> Result<String> {
    let out = ctx
        .container()
        .from(&image)
        .exec(["cat", "/srv/app/msg"])
        .await?;
    Ok(out.stdout)
}

/// A layer of `--msg` (made again when `--salt` changes) read back by a step downstream.
#[pipeline]
pub fn layered(msg: Option<String>, salt: Option<String>) -> String {
    let image = layer(msg, salt);
    cat_back(image)
}

/// Snapshots an image labelled with `--msg`, then fails: the daemon has the image, and no
/// result names it.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn snapshot_then_fail(ctx: &Ctx, msg: Option<String>) -> Result<Image> {
    let msg = msg.unwrap_or_default();
    let image = ctx
        .container()
        .with_new_file("/srv/msg", msg.clone())
        .with_label("org.example.msg", msg)
        .snapshot()
        .await?;
    ctx.container().sh("exit 4").await?;
    Ok(image)
}

/// One step that makes an image and then fails.
#[pipeline]
pub fn fails_after_image(msg: Option<String>) -> Image {
    snapshot_then_fail(msg)
}
