//! A pipeline is called inside another exactly like a step; its steps are labelled by scope.
use tanto::__internal::graph::Plan;
use tanto::prelude::*;

mod checks {
    use tanto::prelude::*;

    #[step]
    pub async fn fmt(_ctx: &Ctx, src: Dir) -> Result<()> {
        let _ = src;
        Ok(())
    }

    #[step]
    pub async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
        let _ = profile;
        Ok(src)
    }

    /// Formats, then builds.
    #[pipeline]
    pub fn lint_and_build(src: Dir, profile: String) -> Dir {
        fmt(src);
        build(src, profile)
    }
}

#[step]
async fn smoke(_ctx: &Ctx, bin: Dir) -> Result<()> {
    let _ = bin;
    Ok(())
}

#[pipeline(name = "release")]
fn release(src: Dir) {
    let bin = checks::lint_and_build(src, "release");
    smoke(bin);
    let again = checks::lint_and_build(src, "dev");
    smoke(again);
}

fn main() {
    let plan = Plan::of::<release>();
    assert_eq!(plan.pipeline.name, "release");
    let labels: Vec<&str> = plan.steps().map(|(n, _)| &*n.label).collect();
    assert_eq!(
        labels,
        [
            "lint_and_build/fmt",
            "lint_and_build/build",
            "smoke",
            "lint_and_build/fmt-2",
            "lint_and_build/build-2",
            "smoke-2",
        ]
    );
}
