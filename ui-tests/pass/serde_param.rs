//! A custom serde type is a step input and output, and a pipeline input.
use serde::{Deserialize, Serialize};
use tanto::__internal::graph::Plan;
use tanto::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    triple: String,
    release: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    passed: u32,
}

#[step]
async fn test(_ctx: &Ctx, src: Dir, target: Target) -> Result<Report> {
    let _ = (src, target);
    Ok(Report { passed: 1 })
}

#[step]
async fn publish(_ctx: &Ctx, report: Report, channel: Option<String>) -> Result<()> {
    let _ = (report, channel);
    Ok(())
}

#[pipeline]
fn ci(src: Dir, target: Target) -> Report {
    let report = test(src, target);
    publish(report, None);
    report
}

fn main() {
    let plan = Plan::of::<ci>();
    let input = &plan.pipeline.params[1];
    assert_eq!((input.name, input.ty, input.is_dir), ("target", "Target", false));
    assert_eq!(plan.steps().count(), 2);
}
