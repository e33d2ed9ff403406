//! Snapshots hold what the container holds: what commands did to copied files stays done,
//! names and link targets longer than a tar header's 100 bytes are kept whole (with or
//! without a command), and a layer of copies is bounded like a capture. Each step is called
//! directly with a standalone context, against the real daemon.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use tanto::prelude::*;

/// Copies two files, changes one and removes the other with a command, and snapshots.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn modify(ctx: &Ctx) -> Result<Image> {
    let c = ctx
        .container()
        .with_new_file("/app/conf", "original\n")
        .with_new_file("/app/gone", "should be deleted\n");
    c.sh("echo modified > /app/conf && rm /app/gone && chmod 600 /app/conf")
        .await?;
    c.snapshot().await
}

/// Copies `tree` to `/srv/long` and snapshots it, with no command: a loaded layer.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn long_layered(ctx: &Ctx, tree: Dir) -> Result<Image> {
    ctx.container()
        .with_dir("/srv/long", &tree)
        .snapshot()
        .await
}

/// Copies `tree` to `/srv/long`, runs a command that changes nothing, and snapshots: a
/// commit.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn long_committed(ctx: &Ctx, tree: Dir) -> Result<Image> {
    let c = ctx.container().with_dir("/srv/long", &tree);
    c.exec(["true"]).await?;
    c.snapshot().await
}

/// Copies 3 MiB with a limit of 1 MiB and snapshots.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn oversized(ctx: &Ctx) -> Result<Image> {
    ctx.container()
        .with_new_file("/big", vec![0u8; 3 << 20])
        .with_max_output(1 << 20)
        .snapshot()
        .await
}

/// What `script` prints in a container of `image`, which is removed afterwards.
fn shown_then_removed(image: &Image, script: &str) -> String {
    let ran = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            image.id(),
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let removed = Command::new("docker")
        .args(["rmi", image.id()])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{ran:?}");
    assert!(removed.status.success(), "{removed:?}");
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

#[tokio::test]
async fn what_commands_did_to_copies_stays_done() {
    let ctx = Ctx::standalone::<modify>().await.unwrap();
    let image = modify(&ctx).await;
    ctx.close().await.unwrap();
    let shown = shown_then_removed(
        &image.unwrap(),
        "cat /app/conf; stat -c %a /app/conf; test -e /app/gone && echo back || echo gone",
    );
    assert_eq!(shown, "modified\n600\ngone\n");
}

/// A folder with a file named with 150 `L`s, a folder named with 100 `d`s holding `f`, and
/// a link to `/` followed by 200 `t`s.
fn long_tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("L".repeat(150)), "long\n").unwrap();
    let folder = root.path().join("d".repeat(100));
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("f"), "f\n").unwrap();
    let target = format!("/{}", "t".repeat(200));
    std::os::unix::fs::symlink(target, root.path().join("longlink")).unwrap();
    root
}

/// What a container of `image` shows of `/srv/long`: every name, the link's target and the
/// file in the long-named folder.
const LONG_SCRIPT: &str = "cd /srv/long && ls -A && readlink longlink && cat d*/f";

fn long_expected() -> String {
    format!(
        "{}\n{}\nlonglink\n/{}\nf\n",
        "L".repeat(150),
        "d".repeat(100),
        "t".repeat(200)
    )
}

#[tokio::test]
async fn long_names_and_links_are_kept_whole_in_a_loaded_layer() {
    let tree = long_tree();
    let ctx = Ctx::standalone::<long_layered>().await.unwrap();
    let image = long_layered(&ctx, ctx.host_dir(tree.path()).unwrap()).await;
    ctx.close().await.unwrap();
    let shown = shown_then_removed(&image.unwrap(), LONG_SCRIPT);
    assert_eq!(shown, long_expected());
}

#[tokio::test]
async fn long_names_and_links_are_kept_whole_in_a_commit() {
    let tree = long_tree();
    let ctx = Ctx::standalone::<long_committed>().await.unwrap();
    let image = long_committed(&ctx, ctx.host_dir(tree.path()).unwrap()).await;
    ctx.close().await.unwrap();
    let shown = shown_then_removed(&image.unwrap(), LONG_SCRIPT);
    assert_eq!(shown, long_expected());
}

#[tokio::test]
async fn a_layer_of_copies_past_the_limit_is_refused_like_a_capture() {
    let ctx = Ctx::standalone::<oversized>().await.unwrap();
    let made = oversized(&ctx).await;
    ctx.close().await.unwrap();
    if let Ok(image) = &made {
        Command::new("docker")
            .args(["rmi", image.id()])
            .output()
            .unwrap();
    }
    let Err(Error::OutputTooLarge { path, limit, .. }) = made else {
        panic!("expected the layer to be refused, got {made:?}");
    };
    assert_eq!((path.as_str(), limit.as_str()), ("/big", "1 MiB"));
}
