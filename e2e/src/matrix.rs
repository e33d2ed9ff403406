//! A matrix: every feature set with every toolchain, joined, and published on release.

use tanto::prelude::*;

/// The feature sets the `matrix` fixture runs with every toolchain it is given.
pub const FEATURES: [&str; 3] = ["default", "serde", "full"];

/// The input of one matrix cell: the content of `src/TOOLCHAIN/FEATURE.txt`, `none` without one.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn cell_input(ctx: &Ctx, src: Dir, toolchain: String, feature: String) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .exec([
            "sh",
            "-c",
            "cat \"/src/$0/$1.txt\" 2>/dev/null || echo none",
            &toolchain,
            &feature,
        ])
        .await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// One cell of the matrix: what `toolchain` makes of `feature`'s input.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn cell(ctx: &Ctx, input: String, toolchain: String, feature: String) -> Result<String> {
    let line = format!("{toolchain}/{feature}: {input}");
    let out = ctx.container().exec(["echo", &line]).await?;
    Ok(out.stdout.trim_end().to_owned())
}

/// Joins the cells' results, one a line, in the order given.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn join_cells(ctx: &Ctx, results: Vec<String>) -> Result<String> {
    let c = ctx
        .container()
        .with_new_file("/results.txt", results.join("\n"));
    Ok(c.sh("cat /results.txt").await?.stdout)
}

/// Publishes the joined results: a side effect, never cached.
#[step(image = "tanto-test/busybox:latest", network = false, side_effect)]
pub async fn publish_results(ctx: &Ctx, summary: String) -> Result<()> {
    ctx.container()
        .with_new_file("/summary.txt", summary)
        .sh("wc -l < /summary.txt")
        .await?;
    Ok(())
}

/// Runs every feature set with every toolchain, joins the results, and publishes them
/// under `--release`.
#[pipeline]
pub fn matrix(src: Dir, toolchains: Vec<String>, release: bool) -> String {
    let mut results = Vec::new();
    for toolchain in &toolchains {
        for feature in FEATURES {
            let input = cell_input(src, toolchain, feature);
            results.push(cell(input, toolchain, feature));
        }
    }
    let summary = join_cells(results);
    if release {
        publish_results(summary);
    }
    summary
}
