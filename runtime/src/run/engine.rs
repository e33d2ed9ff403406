//! One run of a pipeline from the command line: bind inputs, connect, schedule, report, exit.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::backend::{Backend, DockerBackend};
use crate::cache::Store;
use crate::cli::{
    Binding, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Progress, RunOptions, bind_inputs,
};
use crate::ctx::{DirViews, RunContext};
use crate::error::{Error, Result};
use crate::graph::{ParamInfo, Plan};
use crate::report::{
    Event, EventSink, JsonView, LogFiles, PlainView, Summary, Trace, TtyView, View, drive,
};
use crate::run::runner::{Explained, StepRunner};
use crate::run::{RunSummary, Scheduler};

/// Runs `plan` with the command line's raw inputs and options; returns the exit code.
pub fn execute(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<std::ffi::OsString>)>,
    options: RunOptions,
    aliases: &[(String, String)],
) -> u8 {
    init_logging();
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    let bindings = match bind_inputs(&raw) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    runtime.block_on(run(plan, bindings, options, aliases))
}

/// Shows the runtime's warnings (a discarded cache entry, a container that could not be
/// removed) on standard error; `TANTO_LOG` picks another level, e.g. `TANTO_LOG=debug`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANTO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("CI").is_none())
        .with_target(false)
        .without_time()
        .try_init();
}

/// A short unique id for this run, also on every container's `tanto.run` label.
fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}", std::process::id());
    crate::Digest::of(seed.as_bytes()).short()
}

fn pick_views(options: &RunOptions, store: &Store, run_id: &str) -> (Vec<Box<dyn View>>, bool) {
    let ci = std::env::var_os("CI").is_some();
    let progress = match options.progress {
        Progress::Auto if std::io::stderr().is_terminal() && !ci => Progress::Tty,
        Progress::Auto => Progress::Plain,
        p => p,
    };
    let mut views: Vec<Box<dyn View>> = Vec::new();
    let human = progress != Progress::Json;
    match progress {
        Progress::Json => views.push(Box::new(JsonView::new(std::io::stdout()))),
        Progress::Tty => views.push(Box::new(TtyView::new())),
        _ => views.push(Box::new(PlainView::new(
            std::io::stdout(),
            std::env::var_os("GITHUB_ACTIONS").is_some(),
        ))),
    }
    views.push(Box::new(LogFiles::new(log_dir(store, run_id))));
    if let Some(path) = &options.trace {
        views.push(Box::new(Trace::new(path.clone())));
    }
    if human {
        views.push(Box::new(Summary::new()));
    }
    (views, human)
}

fn log_dir(store: &Store, run_id: &str) -> std::path::PathBuf {
    store.root().join("logs").join(run_id)
}

/// Cancels `cancel` on Ctrl-C or SIGTERM.
fn watch_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
        }
        eprintln!("\ntanto: interrupted; stopping steps and removing their containers");
        cancel.cancel();
    });
}

async fn run(
    plan: &Plan,
    bindings: Vec<Binding>,
    options: RunOptions,
    aliases: &[(String, String)],
) -> u8 {
    let store = match Store::open_default() {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let backend: Arc<dyn Backend> = match DockerBackend::connect().await {
        Ok(b) => Arc::new(b),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = backend.reap_orphans().await {
        tracing::warn!("could not reap containers left by dead runs: {e}");
    }
    let dir_views = match DirViews::from_env() {
        Ok(views) => views,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let run_id = new_run_id();
    let (events, rx) = EventSink::channel();
    let (views, human) = pick_views(&options, &store, &run_id);
    let view_task = tokio::spawn(drive(rx, views));
    let context = RunContext::new(
        run_id.clone(),
        Arc::clone(&backend),
        Arc::clone(&store),
        events.clone(),
    )
    .with_image_aliases(aliases.iter().cloned())
    .with_dir_views(dir_views);
    let cancel = context.cancel.clone();
    watch_signals(cancel.clone());
    let context = Arc::new(context);

    let runner = match StepRunner::new(
        Arc::clone(&context),
        plan,
        &bindings,
        options.no_cache.clone(),
    )
    .await
    {
        Ok(r) => Arc::new(r),
        Err(e) => {
            drop((context, events));
            let _ = view_task.await;
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };

    if options.plan {
        let explained = runner.explain_plan(plan).await;
        drop((runner, context, events));
        let _ = view_task.await;
        return print_plan(&explained);
    }

    events.send(Event::RunStarted {
        run_id: run_id.clone(),
        pipeline: plan.pipeline.name.to_owned(),
        steps: plan.steps().count(),
    });
    let scheduler = Scheduler::new(options.jobs, events.clone())
        .keep_going(options.keep_going)
        .with_cancel(cancel.clone())
        .with_log_dir(log_dir(&store, &run_id));
    let summary = scheduler.run(plan, Arc::new(Arc::clone(&runner))).await;
    if let Err(e) = context.remove_run().await {
        eprintln!("warning: could not remove the containers of run {run_id}: {e}");
    }
    if let Err(e) = store.save_stat_cache() {
        tracing::warn!("could not save the stat cache: {e}");
    }
    drop((scheduler, runner, context, events));
    let _ = view_task.await;
    let mut code = exit_code(&summary);
    if code == EXIT_OK
        && let Some(out) = &options.out
    {
        match export_outputs(plan, &summary, out) {
            Ok(()) => {
                if human {
                    println!("tanto: outputs written to {}", out.display());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_FAILED;
            }
        }
    } else if code == EXIT_OK && human {
        print_outputs(plan, &summary);
    }
    code
}

fn exit_code(summary: &RunSummary) -> u8 {
    if summary.interrupted {
        EXIT_INTERRUPTED
    } else if summary.success() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn print_outputs(plan: &Plan, summary: &RunSummary) {
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
fn export_outputs(plan: &Plan, summary: &RunSummary, out: &Path) -> Result<()> {
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

fn print_plan(explained: &[Explained]) -> u8 {
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

/// `BIN cache stats|prune`.
pub fn cache_command(m: &clap::ArgMatches) -> u8 {
    init_logging();
    let store = match Store::open_default() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let result = match m.subcommand() {
        Some(("stats", _)) => store.stats().map(|s| print!("{s}")),
        Some(("verify", _)) => match store.verify() {
            Ok(report) if report.is_clean() => {
                println!(
                    "the cache is sound: {} blobs, {} trees, {} records, {} checkouts checked",
                    report.blobs, report.trees, report.records, report.checkouts
                );
                Ok(())
            }
            Ok(report) => {
                for problem in &report.problems {
                    println!("removed: {problem}");
                }
                println!(
                    "the damaged entries above were removed; the steps they served will run again"
                );
                Ok(())
            }
            Err(e) => Err(e),
        },
        Some(("prune", p)) => {
            let max_bytes = p.get_one::<u64>("max-size").copied();
            let max_age = p.get_one::<std::time::Duration>("max-age").copied();
            if max_bytes.is_none() && max_age.is_none() {
                eprintln!("error: say what to prune with --max-size SIZE and/or --max-age AGE");
                return EXIT_USAGE;
            }
            store.prune(max_bytes, max_age).map(|r| print!("{r}"))
        }
        _ => Ok(()),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}
