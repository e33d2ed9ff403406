//! Pipelines whose images are resolved another way: through an alias, or pulled from a
//! registry.

use tanto::prelude::*;

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
pub const PULLED: &str = "tanto-test/pulled:none";

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
