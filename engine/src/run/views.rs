//! What a run shows and where: the progress view the flags and the terminal call for, the
//! files `--trace`, `--junit` and `GITHUB_STEP_SUMMARY` name, the closing summary, and the
//! folder of the run's log files.

use std::io::IsTerminal;

use crate::cache::Store;
use crate::graph::Plan;
use crate::report::{
    JsonView, Junit, PlainView, Stdout, StepSummary, Summary, Trace, TtyView, View, say, tty,
};
use crate::run::options::{Progress, RunOptions};

/// The views of a run with `options`, and whether a person reads them (not `--progress json`).
pub(super) fn pick_views(options: &RunOptions, plan: &Plan) -> (Vec<Box<dyn View>>, bool) {
    let ci = std::env::var_os("CI").is_some();
    let terminal = std::io::stderr().is_terminal();
    // The tree needs room and a terminal that moves the cursor.
    let drawable = terminal
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && usize::from(console::Term::stderr().size().1) >= tty::MIN_WIDTH;
    let progress = match options.progress {
        // A shell may take the terminal: plain lines wait for it, a live tree would not.
        Progress::Auto if options.interactive.is_some() => Progress::Plain,
        Progress::Tty if options.interactive.is_some() => {
            say!(
                "tanto: `-i` shows plain progress: a live tree would draw over the shell it may open"
            );
            Progress::Plain
        }
        Progress::Auto if drawable && !ci => Progress::Tty,
        Progress::Auto => Progress::Plain,
        Progress::Tty if !drawable => {
            say!(
                "tanto: `--progress tty` needs a terminal on standard error, not dumb and at least {} columns wide; showing plain progress",
                tty::MIN_WIDTH
            );
            Progress::Plain
        }
        p => p,
    };
    let mut views: Vec<Box<dyn View>> = Vec::new();
    let human = progress != Progress::Json;
    match progress {
        Progress::Json => views.push(Box::new(JsonView::new(Stdout))),
        Progress::Tty => views.push(Box::new(TtyView::new(plan))),
        _ => views.push(Box::new(PlainView::new(
            std::io::stderr(),
            std::env::var_os("GITHUB_ACTIONS").is_some(),
        ))),
    }
    if let Some(path) = &options.trace {
        views.push(Box::new(Trace::new(path.clone())));
    }
    if let Some(path) = &options.junit {
        views.push(Box::new(Junit::new(path.clone(), plan)));
    }
    // GitHub Actions shows this file on the job's page.
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        views.push(Box::new(StepSummary::new(path.into(), plan)));
    }
    if human {
        views.push(Box::new(Summary::in_plan_order(plan)));
    }
    (views, human)
}

/// The folder of the log files of run `run_id`.
pub(super) fn log_dir(store: &Store, run_id: &str) -> std::path::PathBuf {
    store.root().join("logs").join(run_id)
}
