//! A step called directly with a standalone context, as a unit test calls it: an image that is
//! not on this machine runs as the image an alias maps it to, as in a run, and without the
//! alias the failure a test prints (its `Debug`) is the message that says what to do.

use tanto::prelude::*;

/// An image no test machine has, and no registry it reaches serves.
const ABSENT: &str = "tanto-e2e/absent:1";

/// Says hello from the step's image.
#[step(image = ABSENT, network = false)]
async fn greet(ctx: &Ctx) -> Result<String> {
    let out = ctx.container().sh("echo hello").await?;
    Ok(out.stdout.trim().to_owned())
}

#[tokio::test]
async fn an_alias_runs_a_step_whose_image_is_not_here() {
    let ctx = Ctx::standalone_with_aliases::<greet>([(ABSENT, "tanto-test/busybox:latest")])
        .await
        .expect("a standalone context");
    let said = greet(&ctx).await;
    ctx.close().await.expect("close");
    assert_eq!(said.expect("the step ran"), "hello");
}

#[tokio::test]
async fn without_it_the_failure_prints_its_message() {
    let ctx = Ctx::standalone::<greet>()
        .await
        .expect("a standalone context");
    let failed = greet(&ctx).await.expect_err("the image is not here");
    ctx.close().await.expect("close");
    let printed = format!("{failed:?}");
    assert_eq!(printed, failed.to_string());
    assert!(
        printed.starts_with(&format!(
            "image `{ABSENT}` is not present and could not be pulled: "
        )),
        "{printed}"
    );
}
