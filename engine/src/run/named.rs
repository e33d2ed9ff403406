//! The steps a name on the command line stands for (`--no-cache`, `--plan STEP`, `shell
//! STEP`): a label, a step fn's name or a nested pipeline's label, and the error that lists
//! the steps when it is none of these.

use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind, Plan, StepInfo};
use crate::report::shown;

/// The labels of the steps that `steps`, which flag `--flag` names, stand for: a label; a step
/// fn's name, for each step it made (`test_package` for `test_package[a]`, `test_package[b]`
/// and `lint/test_package`); or a nested pipeline's label, for each step in it (`lint`, or
/// `check[1.80]` for `check[1.80]/clippy`). An error names one that is none of these.
pub(crate) fn steps_named(plan: &Plan, steps: &[String], flag: &str) -> Result<Vec<String>> {
    let mut labels = Vec::new();
    for step in steps {
        let step = &as_labelled(step);
        let found: Vec<String> = (plan.steps())
            .filter(|(n, info)| {
                let label = &*n.label;
                info.name == step.as_str()
                    || label.strip_prefix(step.as_str()).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with('/') || rest.starts_with('[')
                    })
            })
            .map(|(n, _)| n.label.to_string())
            .collect();
        if found.is_empty() {
            check_steps(plan, std::slice::from_ref(step), flag)?;
        }
        labels.extend(found);
    }
    Ok(labels)
}

/// `name` as a label spells it: a `/` between brackets, in a loop's items, is the `∕` that
/// labels show it as (a `/` outside them separates nested pipelines), so
/// `--no-cache 'cell[p/q]'` names `cell[p∕q]`.
fn as_labelled(name: &str) -> String {
    let mut depth = 0usize;
    name.chars()
        .map(|c| match c {
            '[' => {
                depth += 1;
                c
            }
            ']' => {
                depth = depth.saturating_sub(1);
                c
            }
            '/' if depth > 0 => '\u{2215}',
            c => c,
        })
        .collect()
}

/// The one step of `plan` that `name` stands for, with its metadata, as [`steps_named`] reads it: a label, or a
/// step fn's name or a nested pipeline's label that stands for exactly one step. An error
/// names what it is not, or lists the steps it stands for.
pub(crate) fn one_step<'p>(plan: &'p Plan, name: &str) -> Result<(&'p Node, &'p StepInfo)> {
    let name = &as_labelled(name);
    let step = |label: &str| plan.find(label).and_then(|n| Some((n, n.step()?)));
    if let Some(found) = step(name) {
        return Ok(found);
    }
    let labels = steps_named(plan, &[name.to_owned()], "").unwrap_or_default();
    match labels.as_slice() {
        [] => Err(Error::Usage(no_such_step(plan, name))),
        [one] => step(one).ok_or_else(|| Error::Usage(no_such_step(plan, name))),
        many => {
            let listed: Vec<String> = many.iter().map(|l| format!("`{}`", shown(l))).collect();
            Err(Error::Usage(format!(
                "`{}` stands for {} steps of `{}`; name one by its label: {}",
                shown(name),
                many.len(),
                plan.pipeline.name,
                listed.join(", ")
            )))
        }
    }
}

/// Checks that each of `steps`, which flag `--flag` names, is a step of `plan`.
pub(crate) fn check_steps(plan: &Plan, steps: &[String], flag: &str) -> Result<()> {
    match steps
        .iter()
        .find(|step| plan.find(step).and_then(|n| n.step()).is_none())
    {
        Some(step) => Err(Error::Usage(format!(
            "--{flag}: {}",
            no_such_step(plan, step)
        ))),
        None => Ok(()),
    }
}

/// Says that `plan` has no step labelled `step`, and lists those it has. Labels and what was
/// typed are shown, never obeyed: a loop's items come from flags.
pub(crate) fn no_such_step(plan: &Plan, step: &str) -> String {
    let known: Vec<_> = plan
        .steps()
        .map(|(n, _)| format!("`{}`", shown(&n.label)))
        .collect();
    let mut text = format!(
        "there is no step `{}` in `{}`; its steps are {}",
        shown(step),
        plan.pipeline.name,
        known.join(", ")
    );
    // A step a loop or a branch adds only for some values is not there for others.
    let flags: Vec<String> = (plan.shaped_by.iter())
        .filter_map(|(node, _)| match &plan.node(*node).kind {
            NodeKind::Input { param } => Some(format!("--{}", param.flag())),
            _ => None,
        })
        .collect();
    if !flags.is_empty() {
        text.push_str(&format!(
            " (with the values given to {}, which change the graph; other values may add it)",
            flags.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{one_step, steps_named};
    use crate::graph::{Builder, PipelineInfo, RunFn, StepInfo};

    const fn pipeline(name: &'static str) -> PipelineInfo {
        PipelineInfo {
            name,
            path: name,
            doc: "",
            params: &[],
        }
    }

    /// `build`, `build` again, `lint/clippy`, `check[1.80]/clippy`, `test[a]` and
    /// `shard[p∕q]/cell`.
    fn plan() -> crate::graph::Plan {
        let never: RunFn = |_, _| Box::pin(async { Ok(Vec::new()) });
        let mut b = Builder::new();
        b.step(StepInfo::shape("build"), never, Vec::new());
        b.step(StepInfo::shape("build"), never, Vec::new());
        b.nested(pipeline("lint"), |b| {
            b.step(StepInfo::shape("clippy"), never, Vec::new())
        });
        b.enter_item("1.80");
        b.nested(pipeline("check"), |b| {
            b.step(StepInfo::shape("clippy"), never, Vec::new())
        });
        b.leave_item();
        b.enter_item("a");
        b.step(StepInfo::shape("test"), never, Vec::new());
        b.leave_item();
        b.enter_item("p/q");
        b.nested(pipeline("shard"), |b| {
            b.step(StepInfo::shape("cell"), never, Vec::new())
        });
        b.leave_item();
        b.finish(pipeline("ci"), Vec::new())
    }

    fn named(steps: &[&str]) -> Result<Vec<String>, String> {
        let steps: Vec<String> = steps.iter().map(|s| (*s).to_owned()).collect();
        steps_named(&plan(), &steps, "plan").map_err(|e| e.to_string())
    }

    #[test]
    fn a_slash_in_an_item_may_be_typed_as_it_is() {
        // Shown as `∕`, typed as `/`: between brackets it is an item's, outside a nesting.
        assert_eq!(named(&["shard[p/q]/cell"]).unwrap(), ["shard[p∕q]/cell"]);
        assert_eq!(named(&["shard[p∕q]"]).unwrap(), ["shard[p∕q]/cell"]);
        assert_eq!(named(&["shard[p/q]"]).unwrap(), ["shard[p∕q]/cell"]);
    }

    #[test]
    fn a_name_stands_for_the_steps_it_made_and_a_nested_pipeline_for_its_steps() {
        assert_eq!(named(&["build"]).unwrap(), ["build", "build-2"]);
        assert_eq!(named(&["build-2"]).unwrap(), ["build-2"]);
        assert_eq!(
            named(&["clippy"]).unwrap(),
            ["lint/clippy", "check[1.80]/clippy"]
        );
        assert_eq!(named(&["lint"]).unwrap(), ["lint/clippy"]);
        assert_eq!(named(&["check"]).unwrap(), ["check[1.80]/clippy"]);
        assert_eq!(named(&["check[1.80]"]).unwrap(), ["check[1.80]/clippy"]);
        assert_eq!(named(&["test"]).unwrap(), ["test[a]"]);
        // A prefix of a name is no name.
        assert_eq!(
            named(&["lin"]).unwrap_err(),
            "--plan: there is no step `lin` in `ci`; its steps are `build`, `build-2`, \
             `lint/clippy`, `check[1.80]/clippy`, `test[a]`, `shard[p∕q]/cell`"
        );
        assert!(named(&["che"]).is_err() && named(&["buil"]).is_err());
    }

    #[test]
    fn one_step_takes_a_name_that_stands_for_one_and_lists_the_steps_of_one_that_does_not() {
        let plan = plan();
        let one = |name: &str| one_step(&plan, name).map(|(n, _)| n.label.to_string());
        assert_eq!(one("build-2").unwrap(), "build-2");
        assert_eq!(one("test").unwrap(), "test[a]");
        assert_eq!(one("check").unwrap(), "check[1.80]/clippy");
        assert_eq!(one("shard[p/q]/cell").unwrap(), "shard[p∕q]/cell");
        assert_eq!(
            one("clippy").unwrap_err().to_string(),
            "`clippy` stands for 2 steps of `ci`; name one by its label: `lint/clippy`, `check[1.80]/clippy`"
        );
        assert_eq!(
            one("lin").unwrap_err().to_string(),
            "there is no step `lin` in `ci`; its steps are `build`, `build-2`, `lint/clippy`, \
             `check[1.80]/clippy`, `test[a]`, `shard[p∕q]/cell`"
        );
    }
}
