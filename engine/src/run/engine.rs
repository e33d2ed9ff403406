//! One run of a pipeline from the command line: bind inputs, connect, schedule, report, exit.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::secrets::guard_secrets;
use crate::backend::Backend;
use crate::cache::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{ParamInfo, Plan};
use crate::input::{ViewMode, bind};
use crate::report::{Event, EventSink, Hold, LogFiles, MAX_QUEUED_LINES, drive, plural, shown};
use crate::report::{say, shown_lines};
use crate::run::images::{plan_images, resolve_images};
use crate::run::log;
use crate::run::named::steps_named;
use crate::run::options::{
    EXIT_DAEMON, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Progress, RunOptions,
};
use crate::run::outputs::{
    check_out_dir, export_outputs, print_outputs, print_plan, print_plan_json, require_cache,
};
use crate::run::runner::StepRunner;
use crate::run::scheduler::Scheduler;
use crate::run::signals::{Stops, stopped_early, until_stopped, watch_export, watch_signals};
use crate::run::summary::{Outcome, RunSummary, StepStatus};
use crate::run::views::{log_dir, pick_views};
use crate::step::{Interactive, RunContext};

/// Runs `plan` with the command line's raw inputs and options; returns the exit code.
pub fn execute(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    options: RunOptions,
    aliases: &[(String, String)],
) -> u8 {
    if let Err(e) = init_logging().and_then(|()| check_options(&options)) {
        say!("error: {}", shown_lines(&e.to_string()));
        return EXIT_USAGE;
    }
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    block_on(run(plan, raw, options, aliases, &mut Vec::new()))
}

/// Runs `command` to its exit code on a runtime of its own, which is then dropped without
/// waiting for its blocking threads: a read of the terminal for a shell (`-i`, `shell`)
/// cannot be cancelled, and once the command is over nothing waits for it.
pub(crate) fn block_on(command: impl Future<Output = u8>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    let code = runtime.block_on(command);
    runtime.shutdown_background();
    code
}

/// Checks what the flags name before anything runs: `--out` must be a folder (or not exist
/// yet), `--trace` and `--junit` files that can be written.
fn check_options(options: &RunOptions) -> Result<()> {
    if let Some(out) = &options.out
        && !options.plan
    {
        check_out_dir(out)?;
    }
    if options.interactive.is_some()
        && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal())
    {
        return Err(Error::Usage(
            "-i opens a shell on this terminal, and there is none: run it from a terminal, or without -i".into(),
        ));
    }
    for (flag, path) in [("--trace", &options.trace), ("--junit", &options.junit)] {
        if let Some(path) = path {
            std::fs::File::create(path).map_err(|e| {
                Error::Usage(format!("{flag}: cannot write `{}`: {e}", path.display()))
            })?;
        }
    }
    Ok(())
}

/// Shows the runtime's warnings (a discarded cache entry, a container that could not be
/// removed) on standard error; `TANTO_LOG` picks another level, e.g. `TANTO_LOG=debug`, or
/// directives such as `tanto=debug`. A value that is neither is a usage error.
pub(super) fn init_logging() -> Result<()> {
    let directives = std::env::var("TANTO_LOG").unwrap_or_default();
    let filter = log::Filter::parse(&directives).ok_or_else(|| {
        Error::Usage(format!(
            "TANTO_LOG=`{}` is not a log level: use one of {} (`warn` is the default), or directives such as `tanto=debug`",
            directives.trim(),
            log::LEVELS.join(", ")
        ))
    })?;
    log::install(
        filter,
        std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    );
    Ok(())
}

/// A short unique id for this run, also on every container's `tanto.run` label.
fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}", std::process::id());
    Digest::of(seed.as_bytes()).short()
}

// Long, but linear: the phases of a run in order, each failing early with its exit code.
// `steps` is set to each step's outcome, in plan order, for `shell --run-upstream`.
pub(super) async fn run(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    options: RunOptions,
    aliases: &[(String, String)],
    steps: &mut Vec<Outcome>,
) -> u8 {
    // From here a signal is the run's: before the steps start it ends the run at once.
    let mut stops = Stops::new();
    // `--plan` reads the store and changes nothing in it, nor makes one.
    let opened = if options.plan {
        Store::open_to_look()
    } else {
        Store::open_default()
    };
    let store = match opened {
        Ok(store) => Arc::new(store),
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    // Held until the run returns: no prune removes what this run mounts, links or records.
    let _lease = match store.lease() {
        Ok(lease) => lease,
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    // What runs killed with `kill -9` staged in the store, as `reap` does their containers.
    store.reap_staging();
    // Connecting to the remote cache overlaps hashing the inputs too.
    let remote = match super::remote::connect(&options, plan) {
        Ok(remote) => remote,
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    // Connecting to Docker overlaps hashing the inputs, and so do reaping what dead runs
    // left and resolving the steps' images, once connected; bad input still fails at once,
    // without waiting for the daemon.
    let images = match plan_images(plan, aliases) {
        Ok(images) => images,
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    let connect = options.connect;
    let owned_aliases = aliases.to_vec();
    let mut connect = tokio::spawn(async move {
        let backend = connect().await?;
        // Beside the run: it removes only what dead owners left, and the run waits for it
        // at its end.
        let reaping = tokio::spawn(reap(Arc::clone(&backend)));
        let resolved = resolve_images(backend.as_ref(), images, &owned_aliases).await;
        Ok::<_, Error>((backend, reaping, resolved))
    });
    let inputs = match until_stopped(&mut stops, bind(raw, Arc::clone(&store))).await {
        Some(Ok(inputs)) => inputs,
        Some(Err(e)) => {
            connect.abort();
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
        None => {
            connect.abort();
            return stopped_early();
        }
    };
    let Some(backend) = until_stopped(&mut stops, &mut connect).await else {
        connect.abort();
        return stopped_early();
    };
    let backend =
        backend.unwrap_or_else(|e| Err(Error::Other(format!("connecting to Docker failed: {e}"))));
    let run_id = new_run_id();
    // The log files see every event as it happens; the views, a bounded queue of them.
    let logs = Box::new(LogFiles::new(log_dir(&store, &run_id)));
    let (events, rx) = EventSink::bounded(MAX_QUEUED_LINES, Some(logs));
    let token = remote.as_ref().and_then(super::remote::Connecting::token);
    guard_secrets(&inputs, token, &events);
    let hold = Hold::default();
    // For what this function prints itself, after the sink is gone.
    let redactor = events.redactor();
    let (backend, reaping, resolved): (Arc<dyn Backend>, _, _) = match backend {
        Ok((backend, reaping, resolved)) => (backend, reaping, resolved),
        Err(e) => {
            say!("error: {}", shown_lines(&redactor.redact(&e.to_string())));
            return EXIT_USAGE;
        }
    };
    let view_mode = match ViewMode::from_env() {
        Ok(mode) => mode,
        Err(e) => {
            say!("error: {}", shown_lines(&redactor.redact(&e.to_string())));
            return EXIT_USAGE;
        }
    };
    let (views, human) = pick_views(&options, plan);
    let view_task = {
        let hold = hold.clone();
        tokio::task::spawn_blocking(move || drive(rx, views, hold))
    };
    let context = RunContext::new(
        run_id.clone(),
        Arc::clone(&backend),
        Arc::clone(&store),
        events.clone(),
    )
    .with_image_aliases(aliases.iter().cloned())
    .with_view_mode(view_mode);
    let (mut context, resolved) = match resolved {
        Ok(ids) => (context.with_images(ids), Ok(())),
        Err(e) => (context, Err(e)),
    };
    context.interactive = options
        .interactive
        .as_ref()
        .map(|shell| Interactive::new(shell, options.keep_going, hold));
    let unused_remote = remote.as_ref().map(super::remote::Connecting::unused_line);
    let remote = match remote {
        Some(connecting) => match until_stopped(&mut stops, connecting.finish()).await {
            Some(remote) => remote,
            None => {
                drop((context, events));
                let _ = view_task.await;
                return stopped_early();
            }
        },
        None => Ok(None),
    };
    // The shared cache's token is a secret of the run from here on.
    let redactor = events.redactor();
    context.remote = match remote {
        Ok(remote) => remote,
        Err(e) => {
            drop((context, events));
            let _ = view_task.await;
            say!("error: {}", shown_lines(&redactor.redact(&e.to_string())));
            return EXIT_USAGE;
        }
    };
    let cancel = context.cancel.clone();
    // The watcher holds a sender of the views' channel: it is stopped before each wait for the
    // views to drain, which ends only when every sender is gone.
    let interrupted = context.interrupted.clone();
    let signals = watch_signals(
        stops,
        cancel.clone(),
        interrupted.clone(),
        context.abandon_handle(),
        events.clone(),
    );
    let context = Arc::new(context);

    if let Err(e) = resolved {
        drop((context, events));
        signals.abort();
        let _ = view_task.await;
        say!("error: {}", shown_lines(&redactor.redact(&e.to_string())));
        return if matches!(e, Error::DaemonLost { .. }) {
            EXIT_DAEMON
        } else {
            EXIT_USAGE
        };
    }
    // A step fn's name stands for each of its labels in a loop.
    let named = |steps: &[String], flag| steps_named(plan, steps, flag);
    let prepared = (|| {
        let forced = (options.no_cache.as_deref())
            .map(|s| named(s, "no-cache"))
            .transpose()?;
        let plan_steps = named(&options.plan_steps, "plan")?;
        let runner = StepRunner::new(Arc::clone(&context), plan, inputs, forced)?;
        Ok::<_, Error>((runner, plan_steps))
    })();
    let (runner, plan_steps) = match prepared {
        Ok((r, steps)) => (
            Arc::new(
                r.require_cache(options.require_cache)
                    .looking_only(options.plan),
            ),
            steps,
        ),
        Err(e) => {
            drop((context, events));
            signals.abort();
            let _ = view_task.await;
            say!("error: {}", shown_lines(&redactor.redact(&e.to_string())));
            return EXIT_USAGE;
        }
    };

    if options.plan || options.require_cache {
        let explained = runner.explain_plan(plan, &plan_steps).await;
        let refused = options
            .require_cache
            .then(|| require_cache(&explained))
            .flatten();
        if options.plan || refused.is_some() {
            drop((runner, context, events));
            signals.abort();
            let _ = tokio::join!(view_task, reaping);
            if let Some(code) = refused {
                return code;
            }
            if options.progress == Progress::Json {
                return print_plan_json(plan, &explained);
            }
            return print_plan(&explained, &plan_steps);
        }
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
    let scheduler = match &context.interactive {
        Some(i) => scheduler.with_shells(Arc::clone(&i.log)),
        None => scheduler,
    };
    let mut summary = scheduler.run(plan, Arc::new(Arc::clone(&runner))).await;
    steps.clone_from(&summary.steps);
    let fetched = match &options.out {
        Some(_) if exit_code(&summary) == EXIT_OK => {
            runner.materialize_outputs(plan, &mut summary).await
        }
        _ => Ok(Vec::new()),
    };
    runner.count_ran_again(&mut summary);
    let index_stopped = super::remote::finish(&context, summary.success(), &interrupted).await;
    let remote_hits = context.remote.as_ref().map_or(0, |r| r.stats().hits);
    // Printed once the views are done, so it follows every line they print.
    let remote_line = match context.remote.as_deref() {
        Some(remote) => Some(super::remote::summary_line(remote)),
        None => unused_remote,
    };
    let cached = summary.counts().cached as u64;
    if let Err(e) = store.add_hits(cached.saturating_sub(remote_hits), remote_hits) {
        tracing::warn!("could not count this run's cache hits: {e}");
    }
    let _ = reaping.await;
    let cleanup = context.remove_run().await.err();
    if let Err(e) = store.save_stat_cache() {
        tracing::warn!("could not save the stat cache: {e}");
    }
    drop((scheduler, runner, context, events));
    // Listening before the run's watcher stops, so no signal falls between the two.
    let export_stops = options.out.as_ref().and_then(|_| Stops::new());
    signals.abort();
    let views = view_task.await.unwrap_or_default();
    if let Some(line) = remote_line {
        say!("{line}");
    }
    let mut code = exit_code(&summary);
    if index_stopped && code == EXIT_OK {
        code = EXIT_INTERRUPTED;
    }
    // A signal that closed a `-i` shell came after the step's failure: still an interruption.
    if interrupted.is_cancelled() && code != EXIT_DAEMON {
        code = EXIT_INTERRUPTED;
    }
    if code == EXIT_DAEMON {
        // Says what the cleanup's failure would say, and what to do.
        explain_lost_daemon(&summary, backend.endpoint());
    } else if let Some(e) = cleanup {
        say!(
            "warning: could not remove every container of run {run_id}: {e}; they end when tanto exits, and the next run removes what is left"
        );
    }
    if code == EXIT_OK
        && let Err(e) = &fetched
    {
        say!(
            "error: --out: {}",
            shown_lines(&redactor.redact(&e.to_string()))
        );
        code = EXIT_FAILED;
    } else if code == EXIT_OK
        && let Some(out) = &options.out
    {
        // Its shared output could not be fetched: what the step made here again is written.
        for label in fetched.iter().flatten() {
            say!(
                "warning: --out: the output of `{label}` was made here again (the shared one could not be fetched), and differs from the shared one"
            );
        }
        let watcher = watch_export(export_stops, interrupted.clone());
        let exported = export_outputs(plan, &summary, out, backend.as_ref(), &interrupted).await;
        watcher.abort();
        match exported {
            Ok(0) => say!(
                "tanto: `{}` has no outputs; nothing was written to {}",
                plan.pipeline.name,
                out.display()
            ),
            Ok(n) => say!(
                "tanto: {} written to {}",
                plural(n, "output"),
                out.display()
            ),
            Err(Error::Cancelled) => {
                say!(
                    "tanto: interrupted: --out stopped before every output was in {}; each file there is as it was or whole",
                    out.display()
                );
                code = EXIT_INTERRUPTED;
            }
            Err(e) => {
                say!(
                    "error: --out: {}",
                    shown_lines(&redactor.redact(&e.to_string()))
                );
                code = EXIT_FAILED;
            }
        }
    } else if code == EXIT_OK && human {
        print_outputs(plan, &summary, &redactor);
    }
    // `--junit` or `--trace` could not be written (each said why).
    if code == EXIT_OK && views.iter().any(|v| v.unwritten()) {
        code = EXIT_FAILED;
    }
    // The run is over: what a task given up still has staged goes now, not with the task.
    store.remove_staging();
    code
}

/// Removes what runs whose owners are gone left on the daemon.
async fn reap(backend: Arc<dyn Backend>) {
    if let Err(e) = backend.reap_orphans().await {
        tracing::warn!("could not reap containers left by dead runs: {e}");
    }
}

/// The code a run ends with: a daemon that went away, and a missing image (a configuration
/// problem, not a step's failure), have codes of their own.
fn exit_code(summary: &RunSummary) -> u8 {
    let kinds: Vec<&str> = summary.failure_kinds().collect();
    if summary.interrupted {
        EXIT_INTERRUPTED
    } else if summary.success() {
        EXIT_OK
    } else if kinds.contains(&"daemon_lost") {
        EXIT_DAEMON
    } else if kinds.contains(&"image_unavailable") {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// Says, after a run the daemon's death ended, which step it ended and what to do.
fn explain_lost_daemon(summary: &RunSummary, endpoint: &str) {
    let step = summary.steps.iter().find_map(|s| match &s.status {
        StepStatus::Failed {
            kind: "daemon_lost",
            ..
        } => Some(&*s.label),
        _ => None,
    });
    let during = step.map_or_else(String::new, |step| {
        format!(" during step `{}`", shown(step))
    });
    say!(
        "error: the Docker daemon at {endpoint} went away{during}; start it again (or set DOCKER_HOST to one that runs) and re-run: nothing was cached as a failure, and the next run removes what this one left there"
    );
}
