//! Pipelines for the layering tests: host files put on a base image as one new layer, with no
//! container created.

use tanto::prelude::*;

/// Puts `tree` at `/srv/tree` and `tool` at `/usr/local/bin/tool` on busybox, as an image
/// that runs the tool; nothing runs, so no container is made. `name` labels the image.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub(crate) async fn bundle(
    ctx: &Ctx,
    tree: Dir,
    tool: File,
    name: Option<String>,
) -> Result<Image> {
    ctx.container()
        .with_dir("/srv/tree", &tree)
        .with_file("/usr/local/bin/tool", &tool)
        .with_env("TREE", "/srv/tree")
        .with_entrypoint(["/usr/local/bin/tool"])
        .with_label("org.example.bundle", name.unwrap_or_default())
        .snapshot()
        .await
}

/// The image of `--tree` and `--tool` on busybox, labelled `--name`.
#[pipeline]
pub fn bundled(tree: Dir, tool: File, name: Option<String>) -> Image {
    bundle(tree, tool, name)
}
