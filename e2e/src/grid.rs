//! A grid of cells that fail or linger on request, joined and published on release: for `-i`
//! and `shell STEP` on a failed or cancelled run.

use tanto::prelude::*;

/// The feature sets of each `n` in the `grid` fixture.
pub const GRID_FEATURES: [&str; 2] = ["default", "serde"];

/// One cell: exits 7 after printing `failing` on stderr when `src/fail-N-FEATURE` exists,
/// sleeps 30 s first when `src/slow-N-FEATURE` does, else prints `N/FEATURE`.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn cell(ctx: &Ctx, src: Dir, n: String, feature: String) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .exec([
            "sh",
            "-c",
            "if [ -e /src/fail-$0-$1 ]; then echo failing >&2; exit 7; fi; \
             if [ -e /src/slow-$0-$1 ]; then sleep 30; fi; echo $0/$1",
            &n,
            &feature,
        ])
        .await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// Joins the cells' results, one a line.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn join_cells(ctx: &Ctx, results: Vec<String>) -> Result<String> {
    let out = ctx.container().exec(["echo", &results.join(" ")]).await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// Publishes the joined results: a side effect, never cached.
#[step(image = "tanto-test/busybox:latest", network = false, side_effect)]
pub async fn publish_results(ctx: &Ctx, summary: String) -> Result<()> {
    ctx.container().exec(["echo", &summary]).await?;
    Ok(())
}

/// Runs a cell per `n` and feature set, joins them, and publishes them under `--release`.
#[pipeline]
pub fn grid(src: Dir, ns: Vec<String>, release: bool) -> String {
    let mut results = Vec::new();
    for n in &ns {
        for feature in GRID_FEATURES {
            results.push(cell(src, n, feature));
        }
    }
    let summary = join_cells(results);
    if release {
        publish_results(summary);
    }
    summary
}
