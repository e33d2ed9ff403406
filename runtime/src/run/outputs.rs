//! What a run shows at its end: the pipeline's outputs, copied to `--out` or printed, and
//! `--plan`'s verdicts.

use std::path::Path;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::graph::Plan;
use crate::run::options::EXIT_OK;
use crate::run::runner::Explained;
use crate::run::scheduler::RunSummary;

pub(super) fn print_outputs(plan: &Plan, summary: &RunSummary) {
    let Some(outputs) = summary.final_outputs(plan) else {
        return;
    };
    for artifact in outputs {
        match artifact {
            Artifact::Dir(d) => println!(
                "output: {} (dir {})",
                d.path().display(),
                d.digest().short()
            ),
            Artifact::File(f) => println!(
                "output: {} (file {})",
                f.path().display(),
                f.digest().short()
            ),
            Artifact::Value(v) if v.is_null() => {}
            Artifact::Value(v) => println!("output: {v}"),
        }
    }
}

/// Copies the pipeline's final outputs into `out`: folders merged in, files by name, values as
/// `output-N.json`.
pub(super) fn export_outputs(plan: &Plan, summary: &RunSummary, out: &Path) -> Result<()> {
    let outputs = summary
        .final_outputs(plan)
        .ok_or_else(|| Error::Other("the pipeline produced no outputs to export".into()))?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(format!("create {}", out.display()), e))?;
    for (i, artifact) in outputs.iter().enumerate() {
        match artifact {
            Artifact::Dir(d) => crate::cache::copy_tree(d.path(), out)?,
            Artifact::File(f) => {
                let name = f.path().file_name().map_or_else(
                    || format!("output-{i}"),
                    |n| n.to_string_lossy().into_owned(),
                );
                std::fs::copy(f.path(), out.join(name))
                    .map_err(|e| Error::io("copy an output", e))?;
            }
            Artifact::Value(v) => {
                std::fs::write(out.join(format!("output-{i}.json")), v.to_string())
                    .map_err(|e| Error::io("write an output", e))?
            }
        }
    }
    Ok(())
}

pub(super) fn print_plan(explained: &[Explained]) -> u8 {
    let width = explained.iter().map(|e| e.label.len()).max().unwrap_or(4);
    for e in explained {
        let verdict = if e.cached { "cached" } else { "run" };
        match &e.reason {
            Some(reason) => println!("{verdict:<7} {:<width$}  {reason}", e.label),
            None => println!("{verdict:<7} {}", e.label),
        }
    }
    let runs = explained.iter().filter(|e| !e.cached).count();
    println!("\n{} of {} steps would run", runs, explained.len());
    EXIT_OK
}
