//! Holds a standalone context (as a unit test of a step makes one) until it is killed: what
//! the standalone tests kill, to see that the next context reaps the store it left.

use tanto::prelude::*;

/// Says hello; never run, only named for its settings.
#[step(image = "tanto-test/busybox:latest", network = false)]
async fn greet(ctx: &Ctx) -> Result<()> {
    ctx.container().exec(["true"]).await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let ctx = Ctx::standalone::<greet>().await?;
    println!("ready");
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    ctx.close().await
}
