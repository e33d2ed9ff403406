//! `#[dir(..)]` on a pipeline's `Dir` parameters lands in `INFO.params[i].select`; parameters
//! without it, and a nested pipeline's call, keep the default, and the plan warns that a
//! nested pipeline's own selections do not apply.
use tanto::prelude::*;
use tanto::DirSelect;
use tanto::__internal::graph::{Pipeline, Plan};

#[step]
async fn test(_ctx: &Ctx, src: Dir, assets: Dir, docs: Dir, profile: String) -> Result<()> {
    let _ = (src, assets, docs, profile);
    Ok(())
}

#[pipeline]
fn ci(
    #[dir(include = ["src/**", "Cargo.*"], exclude = "src/generated/**")] src: Dir,
    #[dir(exclude = ["*.psd", "raw/**"], gitignore = false)] assets: Dir,
    #[dir(gitignore = true)] docs: Dir,
    profile: String,
) {
    test(src, assets, docs, profile);
}

#[pipeline]
fn outer(#[dir(exclude = "target/**")] src: Dir) {
    ci(src, src, src, "dev");
}

fn main() {
    let params = <ci as Pipeline>::INFO.params;
    assert_eq!(
        params[0].select,
        DirSelect {
            include: &["src/**", "Cargo.*"],
            exclude: &["src/generated/**"],
            gitignore: true,
        }
    );
    assert_eq!(
        params[1].select,
        DirSelect {
            include: &[],
            exclude: &["*.psd", "raw/**"],
            gitignore: false,
        }
    );
    assert!(params[2].select.is_default());
    assert!(params[3].select.is_default());
    assert!(params[0].is_dir && !params[3].is_dir);

    let plan = Plan::of::<outer>();
    assert_eq!(plan.pipeline.params[0].select.exclude, ["target/**"]);
    assert_eq!(plan.steps().count(), 1);
    // `ci` runs nested in `outer`: its own selections do not apply, and the plan says so.
    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].starts_with("pipeline `ci` runs nested here, so `#[dir(..)]` on its `src` (only `src/**`, `Cargo.*`; not `src/generated/**`) does not apply"),
        "{}",
        plan.warnings[0]
    );
    assert!(plan.warnings[1].contains("on its `assets`"), "{}", plan.warnings[1]);
    assert!(Plan::of::<ci>().warnings.is_empty());
}
