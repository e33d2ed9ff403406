//! `shell STEP --run-upstream`: the run of the pipeline made first, with STEP run again, and
//! what `shell` says when that run, or the lack of one, leaves nothing to set up.

use std::ffi::OsString;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::graph::{Node, ParamInfo, Plan};
use crate::report::{say, shown};
use crate::run::engine::run;
use crate::run::options::{EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, RunOptions};
use crate::run::summary::StepStatus;

/// Runs `plan` with the step of `node` run again, cached or not: only a run records its
/// container as today's inputs set it up (a hit, after a change undone, records none). The
/// run goes on past a failure, so the step runs unless what it takes failed. Returns how the
/// run went, or why the step did not run in it.
pub(super) async fn run_first<'a>(
    plan: &'a Plan,
    raw: &[(ParamInfo, Option<OsString>)],
    node: &'a Node,
    options: RunOptions,
    aliases: &[(String, String)],
    interrupted: &CancellationToken,
) -> Result<Ran<'a>> {
    let pipeline = plan.pipeline.name;
    say!(
        "tanto: running `{pipeline}` first, with `{}` run again, so its shell has today's inputs",
        shown(&node.label)
    );
    let options = RunOptions {
        keep_going: true,
        interactive: None,
        no_cache: Some(vec![node.label.to_string()]),
        ..options
    };
    let mut steps = Vec::new();
    let code = run(plan, raw.to_vec(), options, aliases, &mut steps).await;
    if code == EXIT_INTERRUPTED || interrupted.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let ran = Ran {
        pipeline,
        code,
        failed: (steps.iter())
            .find(|s| matches!(s.status, StepStatus::Failed { .. }))
            .map(|s| Arc::clone(&s.label)),
        asked: &node.label,
    };
    let step = steps.iter().find(|s| s.label == node.label);
    match step.map(|s| &s.status) {
        Some(StepStatus::Done | StepStatus::Shared | StepStatus::Failed { .. }) => Ok(ran),
        _ => {
            let why = format!("`{}` did not run", shown(&node.label));
            Err(upstream_failed(&ran, &why))
        }
    }
}

/// Why `shell` cannot set the step up, and how `--run-upstream` would: the run needs every
/// required flag, where the shell reads only those of folders and files.
pub(super) fn run_upstream_hint(
    plan: &Plan,
    raw: &[(ParamInfo, Option<OsString>)],
    node: &Node,
    why: &str,
) -> String {
    let with = match missing_flags(raw) {
        None => String::new(),
        Some(flags) => format!(", with {flags},"),
    };
    format!(
        "{why}: pass --run-upstream{with} to run `{}` with `{}` run again",
        plan.pipeline.name,
        shown(&node.label)
    )
}

/// The flags the run that `--run-upstream` makes needs and `raw` lacks, all of them: `--a,
/// --b and --c`.
fn missing_flags(raw: &[(ParamInfo, Option<OsString>)]) -> Option<String> {
    let missing: Vec<String> = (raw.iter())
        .filter(|(p, value)| value.is_none() && p.is_required())
        .map(|(p, _)| format!("--{}", p.flag()))
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
    }
}

/// Refuses `--run-upstream` without a flag its run needs, before anything runs or a store is
/// made: the shell reads only the flags of folders and files, the run all of them.
pub(super) fn check_run_flags(plan: &Plan, raw: &[(ParamInfo, Option<OsString>)]) -> Result<()> {
    match missing_flags(raw) {
        None => Ok(()),
        Some(flags) => Err(Error::Usage(format!(
            "--run-upstream runs `{}` first, which needs {flags} too",
            plan.pipeline.name
        ))),
    }
}

/// The run of `pipeline` that `shell --run-upstream` made for the step labelled `asked`: its
/// exit code and the first step that failed in it.
pub(super) struct Ran<'a> {
    pipeline: &'a str,
    code: u8,
    failed: Option<Arc<str>>,
    asked: &'a str,
}

/// Why `shell --run-upstream` cannot set the step up after its run: a run that failed is a
/// failure, not a usage error, and says which step to look into. A shell like the container
/// of the step that failed is offered only for another step: the asked one failed before it
/// had a container, or the shell would be open.
pub(super) fn upstream_failed(run: &Ran<'_>, why: &str) -> Error {
    let (pipeline, code) = (run.pipeline, run.code);
    let itself = run.failed.as_deref() == Some(run.asked);
    match run.failed.as_deref().map(shown) {
        Some(step) if itself => Error::Other(format!(
            "the run of `{pipeline}` that --run-upstream made failed at `{step}` itself (see above): {why}; fix what its output says, then open the shell again"
        )),
        Some(step) => Error::Other(format!(
            "the run of `{pipeline}` that --run-upstream made failed at `{step}` (see above): {why}; fix `{step}`, or open a shell like its container with `shell '{step}'`"
        )),
        None if code == EXIT_USAGE => Error::Usage(format!(
            "the run of `{pipeline}` that --run-upstream made did not start (see above): {why}"
        )),
        None if code != EXIT_OK => Error::Other(format!(
            "the run of `{pipeline}` that --run-upstream made failed (see above): {why}"
        )),
        None => Error::Other(format!(
            "{why}, even after the run of `{pipeline}` that --run-upstream made"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::options::EXIT_FAILED;

    #[test]
    fn a_run_that_failed_at_the_asked_step_offers_no_shell_of_it() {
        let run = |failed: Option<&str>| Ran {
            pipeline: "ci",
            code: EXIT_FAILED,
            failed: failed.map(Arc::from),
            asked: "db_test",
        };
        assert_eq!(
            upstream_failed(&run(Some("db_test")), "why").to_string(),
            "the run of `ci` that --run-upstream made failed at `db_test` itself (see above): why; fix what its output says, then open the shell again"
        );
        assert_eq!(
            upstream_failed(&run(Some("build")), "why").to_string(),
            "the run of `ci` that --run-upstream made failed at `build` (see above): why; fix `build`, or open a shell like its container with `shell 'build'`"
        );
    }
}
