//! `BIN PIPELINE shell STEP`: a shell in a fresh container set up like the one `STEP` last ran
//! in, its inputs taken from the cache (or, with `--run-upstream`, from a run made first).

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::cache::{Recorded, Store};
use crate::error::{Error, Result};
use crate::graph::{Node, ParamInfo, Plan, StepInfo};
use crate::input::bind;
use crate::report::EventSink;
use crate::report::{say, shown, shown_lines};
use crate::run::engine::{block_on, init_logging};
use crate::run::named::one_step;
use crate::run::options::{EXIT_DAEMON, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, RunOptions};
use crate::run::signals::Stops;
use crate::run::upstream::{check_run_flags, run_first, run_upstream_hint, upstream_failed};
use crate::step::{Ctx, Input, Recipe, RunContext, attach_shell};

/// What `shell STEP` is asked.
#[derive(Debug, Clone)]
pub struct ShellRequest {
    /// The step's label.
    pub step: String,
    /// Run the pipeline first when an input is not in the cache.
    pub run_upstream: bool,
    /// The shell to open.
    pub shell: String,
}

/// Opens the shell; returns its exit code once the person exits it. Before it opens, the
/// run's codes: 2 for a usage or configuration error (a shell or an image the daemon does not
/// have, too), 3 for a daemon that went away, 1 for another failure (an upstream run that
/// failed), 130 for Ctrl-C, SIGTERM or SIGHUP.
pub fn shell_command(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    request: ShellRequest,
    options: RunOptions,
    aliases: &[(String, String)],
) -> u8 {
    if let Err(e) = init_logging() {
        say!("error: {}", shown_lines(&e.to_string()));
        return EXIT_USAGE;
    }
    // A step that is not there is the first thing to say, terminal or not.
    if let Err(e) = step_of(plan, &request.step) {
        say!("error: {}", shown_lines(&e.to_string()));
        return EXIT_USAGE;
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        say!(
            "error: `shell` opens a shell on this terminal, and there is none: run it from a terminal"
        );
        return EXIT_USAGE;
    }
    block_on(async {
        let interrupted = CancellationToken::new();
        let signals = watch_signals(interrupted.clone());
        let code = match open(plan, raw, &request, options, aliases, &interrupted).await {
            // A code outside a byte's range cannot be an exit status; say it failed.
            Ok(code) => u8::try_from(code).unwrap_or(EXIT_FAILED),
            Err(Error::Cancelled) => {
                say!("tanto: interrupted; the shell's container is removed");
                EXIT_INTERRUPTED
            }
            Err(e) => {
                say!("error: {}", shown_lines(&e.to_string()));
                code_of(&e)
            }
        };
        signals.abort();
        code
    })
}

/// The node and metadata of the step `label` stands for in `plan` (its label, or a step fn's
/// name that made one step), or the usage error that lists its steps.
fn step_of<'p>(plan: &'p Plan, label: &str) -> Result<(&'p Node, StepInfo)> {
    one_step(plan, label).map(|(node, info)| (node, *info))
}

/// The exit code of an error that kept the shell from opening: as a run's, 2 for a usage or
/// configuration error (a missing image, a daemon that does not answer), 3 for a daemon that
/// went away, 1 for the rest.
fn code_of(e: &Error) -> u8 {
    match e {
        Error::Usage(_) | Error::ImageUnavailable { .. } | Error::DaemonUnreachable { .. } => {
            EXIT_USAGE
        }
        Error::DaemonLost { .. } => EXIT_DAEMON,
        _ => EXIT_FAILED,
    }
}

/// Cancels `interrupted` on Ctrl-C, SIGTERM or SIGHUP, which then end `shell` as they end a
/// run: its container removed, exit code 130. (On the shell's raw terminal, Ctrl-C is a key
/// for the shell.)
fn watch_signals(interrupted: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Some(mut stops) = Stops::new()
            && stops.next().await
        {
            interrupted.cancel();
        }
    })
}

/// `work`'s result, or [`Error::Cancelled`] once `interrupted` is cancelled.
async fn unless<T>(
    interrupted: &CancellationToken,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        () = interrupted.cancelled() => Err(Error::Cancelled),
        result = work => result,
    }
}

async fn open(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    request: &ShellRequest,
    options: RunOptions,
    aliases: &[(String, String)],
    interrupted: &CancellationToken,
) -> Result<i64> {
    let (node, info) = step_of(plan, &request.step)?;
    let pipeline = plan.pipeline.name;
    let history = format!("{pipeline}/{}", node.label);
    if request.run_upstream {
        check_run_flags(plan, &raw)?;
    }
    let store = Arc::new(Store::open_default()?);
    // The run that `--run-upstream` makes first, and how it went.
    let ran = match request.run_upstream {
        true => Some(run_first(plan, &raw, node, options.clone(), aliases, interrupted).await?),
        false => None,
    };
    // Only folders and files are set up again, so only their flags are read: a secret or a
    // value the pipeline needs is asked for by the run that `--run-upstream` makes, if any.
    let placed: Vec<_> = raw
        .iter()
        .filter(|(p, value)| p.is_dir || (p.is_file && value.is_some()))
        .cloned()
        .collect();
    let inputs = unless(interrupted, bind(placed, Arc::clone(&store))).await?;
    // `Found(None)`: the step ran and started no container.
    let (found, rerun_helps) = match store.recipe::<Option<Recipe>>(&history)? {
        Recorded::None => never_set_up(&store, &history, &node.label, false),
        Recorded::Found(None) => never_set_up(&store, &history, &node.label, true),
        Recorded::Damaged => (
            Err(format!(
                "the record of `{}`'s container was damaged (it has been removed), so there is none to set it up again from",
                shown(&node.label)
            )),
            true,
        ),
        Recorded::Found(Some(recipe)) => (
            resolve(&store, &history, &recipe, &inputs).map(|found| (recipe, found)),
            true,
        ),
    };
    let (recipe, found) = match (found, ran) {
        (Ok(found), _) => found,
        (Err(why), Some(ran)) => return Err(upstream_failed(&ran, &why)),
        (Err(why), None) if !rerun_helps => return Err(Error::Usage(why)),
        (Err(why), None) => return Err(Error::Usage(run_upstream_hint(plan, &raw, node, &why))),
    };
    let _lease = store.lease()?;
    let backend = unless(interrupted, (options.connect)()).await?;
    let run_id = format!("shell-{}", std::process::id());
    let context = RunContext::new(run_id, backend, store, EventSink::discard())
        .with_image_aliases(aliases.iter().cloned());
    let step = Step {
        info,
        label: &node.label,
        recipe: &recipe,
    };
    enter(Arc::new(context), step, found, &request.shell, interrupted).await
}

/// Why the store holds no record of the container of the step labelled `label` (`history`
/// in the store): it has not run here, its last run failed before a container started (a
/// service that was never ready, an image it could not get), it ran and started none
/// (`started_none`: it works through the daemon, as a push does, or in its own code), or its
/// result came from the shared cache. With whether running it again may record one: not for
/// a step that started none.
fn never_set_up<T>(
    store: &Store,
    history: &str,
    label: &str,
    started_none: bool,
) -> (std::result::Result<T, String>, bool) {
    let label = shown(label);
    let Some(key) = store.last_key(history).ok().flatten() else {
        let why = format!(
            "`{label}` has not run yet, so there is no record of its container to set up again"
        );
        return (Err(why), true);
    };
    if let Ok(Some(_)) = store.last_failure(history, &key.digest()) {
        let why = format!(
            "`{label}` failed before its container started when it last ran, so there is no record of one to set up again"
        );
        (Err(why), true)
    } else if started_none {
        let why = format!(
            "`{label}` started no container when it last ran: it did its work without one (through the daemon, as a push does, or in its own code), so there is no container to open a shell like"
        );
        (Err(why), false)
    } else {
        let why = format!(
            "`{label}` last ran without a container of its own here (its result came from the shared cache), so there is no record of one to set up again"
        );
        (Err(why), true)
    }
}

/// Each folder and file the recipe places, in its order (`None` for the other inputs), found
/// by its digest among the bound inputs or in the store; else why not, naming the input and
/// the step that makes it.
fn resolve(
    store: &Store,
    history: &str,
    recipe: &Recipe,
    inputs: &[Artifact],
) -> std::result::Result<Vec<Option<Artifact>>, String> {
    let mut found = Vec::new();
    for placed in &recipe.inputs {
        let Some(digest) = placed.what.digest() else {
            found.push(None);
            continue;
        };
        let bound = inputs.iter().find(|a| match (a, &placed.what) {
            (Artifact::Dir(d), Input::MountedDir { .. } | Input::CopiedDir { .. }) => {
                d.digest() == digest
            }
            (Artifact::File(f), Input::CopiedFile { executable, .. }) => {
                f.digest() == digest && f.is_executable() == *executable
            }
            _ => false,
        });
        let stored = || match placed.what {
            Input::CopiedFile { executable, .. } => {
                store.file_as(digest, executable).map(Artifact::File)
            }
            _ => store.dir(digest).map(Artifact::Dir),
        };
        match bound.cloned().map(Ok).unwrap_or_else(stored) {
            Ok(artifact) => found.push(Some(artifact)),
            Err(_) => {
                let key = store.last_key(history).ok().flatten();
                let input = key.as_ref().and_then(|k| {
                    k.inputs
                        .iter()
                        .find(|(_, i)| i.digest == digest)
                        .map(|(name, i)| (name.clone(), i.upstream.clone()))
                });
                return Err(match input {
                    Some((name, Some(upstream))) => format!(
                        "its input `{name}` at {} comes from `{upstream}`, whose result is not in the cache",
                        placed.target
                    ),
                    Some((name, None)) => format!(
                        "its input `{name}` at {} has changed since it ran",
                        placed.target
                    ),
                    None => format!("what it had at {} is not in the cache", placed.target),
                });
            }
        }
    }
    Ok(found)
}

/// The step `shell` sets up again: its settings, label and recipe.
struct Step<'a> {
    info: StepInfo,
    label: &'a str,
    recipe: &'a Recipe,
}

/// Starts the services the step bound, creates the container and opens the shell in it;
/// removes them all afterwards, however the shell ends. Returns the shell's exit code.
async fn enter(
    context: Arc<RunContext>,
    step: Step<'_>,
    found: Vec<Option<Artifact>>,
    shell: &str,
    interrupted: &CancellationToken,
) -> Result<i64> {
    let Step {
        info,
        label,
        recipe,
    } = step;
    let ctx = Ctx::new(Arc::clone(&context), info, label);
    let container = ctx.container().like(recipe, &found);
    say!(
        "tanto: a fresh container, set up as `{}`'s was when it last ran",
        shown(label)
    );
    for placed in &recipe.inputs {
        if let Some(why) = placed.what.left_out() {
            say!("tanto: {} is not set up here: {why}", shown(&placed.target));
        }
    }
    // What the recipe in the store says is shown, never obeyed by the terminal.
    if let Some(command) = &recipe.command {
        say!("tanto: its last command was: {}", shown(command));
    }
    if !recipe.secret_env.is_empty() {
        say!(
            "tanto: its secret variables ({}) are not set here",
            shown(&recipe.secret_env.join(", "))
        );
    }
    for why in recipe.services_not_started() {
        say!("tanto: {why}");
    }
    let services = recipe.services_to_start();
    if !services.is_empty() {
        let names: Vec<String> = (services.iter())
            .map(|(name, _)| format!("`{}`", shown(name)))
            .collect();
        say!(
            "tanto: starting its services ({}) and waiting until they are ready",
            names.join(", ")
        );
    }
    // The services start before the container, ready, on the shell's own network: as a
    // step's, so one that is not ready fails the same way, naming it, with its last log lines.
    let up = || {
        for (name, service) in &services {
            let fresh = if service.is_shared() {
                "what the steps that shared it in the run wrote is not in it"
            } else {
                "what the step wrote to it is not in it"
            };
            say!(
                "tanto: service `{}` ({}) is started here, a fresh one: {fresh}",
                shown(name),
                shown(service.image())
            );
        }
        say!("tanto: exit the shell to remove it\n");
    };
    let opened = unless(interrupted, attach_shell(&container, shell, up)).await;
    // However the shell ended: its container, then its services, then its network.
    let closed = ctx.close().await;
    let _ = context.remove_run().await;
    if !services.is_empty() {
        let logs = super::views::log_dir(&context.store, &context.run_id);
        if logs.is_dir() {
            say!("tanto: the services' output is kept in {}", logs.display());
        }
    }
    let code = opened?;
    closed.map(|()| code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyRecord;
    use std::time::SystemTime;

    #[test]
    fn no_record_of_a_container_says_whether_the_step_ran_failed_or_started_none() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("opens");
        let why = |step: &str, started_none| {
            let (why, rerun_helps) =
                never_set_up::<()>(&store, &format!("p/{step}"), step, started_none);
            (why.expect_err("no record"), rerun_helps)
        };
        assert_eq!(
            why("new", false),
            (
                "`new` has not run yet, so there is no record of its container to set up again"
                    .to_owned(),
                true
            )
        );
        let key = KeyRecord::new("p::failed", "code");
        store
            .set_last_failure("p/failed", &key, SystemTime::now())
            .expect("remembers");
        // A failure before a container started is that, whether or not one was recorded.
        for started_none in [false, true] {
            assert_eq!(
                why("failed", started_none),
                (
                    "`failed` failed before its container started when it last ran, so there is no record of one to set up again".to_owned(),
                    true
                )
            );
        }
        // A later run with another key that was a hit is not the failure.
        store
            .set_last_key("p/failed", &KeyRecord::new("p::failed", "edited"))
            .expect("remembers");
        store.set_last_key("p/hit", &key).expect("remembers");
        for step in ["failed", "hit"] {
            assert_eq!(
                why(step, false),
                (
                    format!(
                        "`{step}` last ran without a container of its own here (its result came from the shared cache), so there is no record of one to set up again"
                    ),
                    true
                )
            );
        }
        // One that ran and started none: running it again would not start one either.
        assert_eq!(
            why("hit", true),
            (
                "`hit` started no container when it last ran: it did its work without one (through the daemon, as a push does, or in its own code), so there is no container to open a shell like".to_owned(),
                false
            )
        );
    }
}
