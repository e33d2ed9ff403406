//! `cargo xtask ci`: the project's CI as a tanto pipeline over the workspace.

use std::path::PathBuf;
use std::process::ExitCode;

use tanto::prelude::*;

/// The image the CI steps run in: the offline Rust image that `cargo xtask images` makes.
const RUST_IMAGE: &str = "tanto-test/rust:1.95";

/// Builds every example, so the code the README shows keeps compiling.
#[step(
    image = "rust:1.95-slim",
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    timeout = "30m"
)]
pub(crate) async fn build_examples(ctx: &Ctx, src: Dir) -> Result<()> {
    ctx.container()
        .with_mounted_dir("/src", &src)
        .sh(
            "export CARGO_HOME=/cargo-home CARGO_TARGET_DIR=/target CARGO_TERM_COLOR=never; cd /src && \
             cargo build --locked -p hello -p cargo-steps --all-targets",
        )
        .await?;
    Ok(())
}

/// tanto's CI: format, lints, tests, docs and the examples, each in a container.
///
/// The test step is the only one given the Docker daemon, because the suite's integration
/// tests start containers.
#[pipeline]
pub(crate) fn ci(src: Dir) {
    cargo_steps::fmt_check(src);
    cargo_steps::clippy(src);
    cargo_steps::test_with_docker(src);
    cargo_steps::doc(src);
    build_examples(src);
}

/// The workspace root, which `ci` hashes unless `--src` says otherwise.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the tanto CLI with the project's pipelines.
pub(crate) fn cli(args: &[String]) -> ExitCode {
    let mut argv = vec!["cargo xtask".to_owned()];
    argv.extend(args.iter().cloned());
    if args.first().is_some_and(|a| a == "ci")
        && !args.iter().any(|a| a == "--src" || a.starts_with("--src="))
    {
        argv.push("--src".to_owned());
        argv.push(workspace_root().display().to_string());
    }
    if args.first().is_some_and(|a| a == "ci")
        && let Err(e) = crate::daemon::ensure().and_then(|()| crate::images::ensure())
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    tanto::cli()
        .name("cargo xtask")
        .image_alias(cargo_steps::IMAGE, RUST_IMAGE)
        .pipeline(ci)
        .run_from(argv)
}

#[cfg(test)]
mod tests {
    use tanto::__internal::graph::Plan;
    use tanto::__internal::graph::{Arg, NodeKind};

    use super::ci;

    /// The main job's graph, recorded without running a step or reaching Docker: the five
    /// checks of the README, each on the `src` input alone and in the image that `cli` maps to
    /// the offline one, and the daemon given to the test step only.
    #[test]
    fn ci_plan_is_five_steps_on_src_each_in_the_aliased_image() {
        let plan = Plan::of::<ci>();
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

        let src = &plan.nodes[0];
        assert_eq!(src.label, "src");
        assert!(
            matches!(&src.kind, NodeKind::Input { param } if param.is_dir),
            "the first node is the `src: Dir` input: {src:?}"
        );

        let steps: Vec<_> = plan.steps().collect();
        let labels: Vec<&str> = steps.iter().map(|(node, _)| node.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "fmt_check",
                "clippy",
                "test_with_docker",
                "doc",
                "build_examples"
            ]
        );
        assert_eq!(
            plan.nodes.len(),
            1 + steps.len(),
            "only `src` and the steps"
        );

        for (node, info) in steps {
            let step = &node.label;
            assert_eq!(
                info.settings.image,
                Some(cargo_steps::IMAGE),
                "step `{step}` must run in `{}`, the image `cargo xtask ci` maps to the offline one",
                cargo_steps::IMAGE
            );
            assert_eq!(
                node.args,
                [Arg::Handle {
                    node: src.id,
                    part: 0
                }],
                "step `{step}` takes `src` and nothing else"
            );
            assert_eq!(
                info.settings.docker_socket,
                step == "test_with_docker",
                "only the test step is given the Docker daemon; `{step}` differs"
            );
        }
    }
}
