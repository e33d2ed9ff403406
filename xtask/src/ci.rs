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
    // Set up as `cargo-steps` sets up its own builds in the shared volumes.
    let setup = cargo_steps::SETUP;
    ctx.container()
        .with_mounted_dir(cargo_steps::MOUNT, &src)
        .sh(&format!(
            "{setup} && cargo build --locked -p hello -p cargo-steps --all-targets"
        ))
        .await?;
    Ok(())
}

/// The crates whose tests need no Docker daemon, each tested on its own: one that builds only
/// thanks to features another member turns on fails before it is published.
pub(crate) const ALONE: [&str; 4] = ["tanto-engine", "tanto-macros", "cargo-steps", "ui-tests"];

/// The crate whose tests start containers: its test step is the only one given the daemon.
pub(crate) const WITH_DOCKER: &str = "tanto";

/// tanto's CI: format, lints, tests, docs and the examples, each in a container.
///
/// The test steps return a `TestReport` (nextest, in the offline image), so the summary names
/// each failing test with where it failed, and `--junit` and GitHub Actions see every test.
///
/// The runtime's tests start containers, so their step is the only one given the Docker
/// daemon. The end-to-end suites (`e2e`, the examples' tests) drive servers and tools on the
/// host (a registry, Podman, tmux, private daemons) and run with `cargo xtask test`.
#[pipeline]
pub(crate) fn ci(src: Dir) {
    cargo_steps::fmt_check(src);
    cargo_steps::clippy(src);
    cargo_steps::test_report_package_with_docker(src, WITH_DOCKER);
    for package in ALONE {
        cargo_steps::test_report_package(src, package); // test_report_package[tanto-engine], ..
    }
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

    use super::{ALONE, WITH_DOCKER, ci};

    /// The main job's graph, recorded without running a step or reaching Docker: the checks of
    /// the README, each on the `src` input and in the image that `cli` maps to the offline
    /// one, a test of each crate of `ALONE` on its own, and the daemon given to the runtime's
    /// test step only.
    #[test]
    fn ci_plan_is_the_checks_on_src_each_in_the_aliased_image() {
        let plan = Plan::of::<ci>();
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        assert!(
            plan.unknown.is_empty() && plan.shaped_by.is_empty(),
            "no flag shapes it"
        );

        let src = &plan.nodes[0];
        assert_eq!(&*src.label, "src");
        assert!(
            matches!(&src.kind, NodeKind::Input { param } if param.is_dir),
            "the first node is the `src: Dir` input: {src:?}"
        );

        let steps: Vec<_> = plan.steps().collect();
        let labels: Vec<&str> = steps.iter().map(|(node, _)| &*node.label).collect();
        assert_eq!(
            labels,
            [
                "fmt_check",
                "clippy",
                "test_report_package_with_docker",
                "test_report_package[tanto-engine]",
                "test_report_package[tanto-macros]",
                "test_report_package[cargo-steps]",
                "test_report_package[ui-tests]",
                "doc",
                "build_examples"
            ]
        );
        assert_eq!(
            plan.nodes.len(),
            1 + steps.len(),
            "only `src` and the steps"
        );

        let on_src = Arg::Handle {
            node: src.id,
            part: 0,
        };
        for (node, info) in steps {
            let step: &str = &node.label;
            assert_eq!(
                info.settings.image,
                Some(cargo_steps::IMAGE),
                "step `{step}` must run in `{}`, the image `cargo xtask ci` maps to the offline one",
                cargo_steps::IMAGE
            );
            let package = match step.strip_prefix("test_report_package[") {
                Some(package) => {
                    let package = package.trim_end_matches(']');
                    assert!(ALONE.contains(&package), "{step}");
                    Some(package)
                }
                None => (step == "test_report_package_with_docker").then_some(WITH_DOCKER),
            };
            match package {
                Some(package) => assert_eq!(
                    node.args,
                    [on_src.clone(), Arg::Literal(package.into())],
                    "step `{step}` takes `src` and its package"
                ),
                None => assert_eq!(
                    node.args,
                    std::slice::from_ref(&on_src),
                    "step `{step}` takes `src` and nothing else"
                ),
            }
            assert_eq!(
                info.settings.docker_socket,
                step == "test_report_package_with_docker",
                "only the runtime's test step is given the Docker daemon; `{step}` differs"
            );
        }
    }
}
