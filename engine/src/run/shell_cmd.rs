//! `BIN PIPELINE shell STEP`: a shell in a fresh container set up like the one `STEP` last ran
//! in, its inputs taken from the cache (or, with `--run-upstream`, from a run made first).

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::sync::Arc;

use crate::artifact::Artifact;
use crate::cache::Store;
use crate::error::{Error, Result};
use crate::graph::{ParamInfo, Plan};
use crate::input::bind;
use crate::report::EventSink;
use crate::report::{say, shown};
use crate::run::engine::{block_on, init_logging, run};
use crate::run::options::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, RunOptions};
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

/// Opens the shell; returns the exit code.
pub fn shell_command(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    request: ShellRequest,
    options: RunOptions,
    aliases: &[(String, String)],
) -> u8 {
    if let Err(e) = init_logging() {
        say!("error: {e}");
        return EXIT_USAGE;
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        say!(
            "error: `shell` opens a shell on this terminal, and there is none: run it from a terminal"
        );
        return EXIT_USAGE;
    }
    block_on(async {
        match open(plan, raw, &request, options, aliases).await {
            Ok(()) => EXIT_OK,
            Err(e @ Error::Usage(_)) => {
                say!("error: {e}");
                EXIT_USAGE
            }
            Err(e) => {
                say!("error: {e}");
                EXIT_FAILED
            }
        }
    })
}

async fn open(
    plan: &Plan,
    raw: Vec<(ParamInfo, Option<OsString>)>,
    request: &ShellRequest,
    options: RunOptions,
    aliases: &[(String, String)],
) -> Result<()> {
    let node = plan.find(&request.step).filter(|n| n.step().is_some());
    let Some((node, info)) = node.and_then(|n| n.step().map(|i| (n, *i))) else {
        let known: Vec<String> = plan
            .steps()
            .map(|(n, _)| format!("`{}`", n.label))
            .collect();
        return Err(Error::Usage(format!(
            "there is no step `{}` in `{}`; its steps are {}",
            request.step,
            plan.pipeline.name,
            known.join(", ")
        )));
    };
    let history = format!("{}/{}", plan.pipeline.name, node.label);
    let store = Arc::new(Store::open_default()?);
    let mut ran = false;
    // Only folders and files are set up again, so only their flags are read: a secret or a
    // value the pipeline needs is asked for by the run that `--run-upstream` makes, if any.
    let placed: Vec<_> = raw
        .iter()
        .filter(|(p, value)| p.is_dir || (p.is_file && value.is_some()))
        .cloned()
        .collect();
    loop {
        let inputs = bind(placed.clone(), Arc::clone(&store)).await?;
        let found = match store.recipe::<Recipe>(&history)? {
            None => Err(format!(
                "`{}` has not run yet, so there is no container to set up like its",
                node.label
            )),
            Some(recipe) => {
                resolve(&store, &history, &recipe, &inputs).map(|found| (recipe, found))
            }
        };
        match found {
            Ok((recipe, found)) => {
                let _lease = store.lease()?;
                let backend = (options.connect)().await?;
                let run_id = format!("shell-{}", std::process::id());
                let context = RunContext::new(run_id, backend, store, EventSink::discard())
                    .with_image_aliases(aliases.iter().cloned());
                return enter(
                    Arc::new(context),
                    info,
                    &node.label,
                    &recipe,
                    found,
                    &request.shell,
                )
                .await;
            }
            Err(why) if request.run_upstream && !ran => {
                say!("tanto: {why}; running `{}` first", plan.pipeline.name);
                let options = RunOptions {
                    keep_going: true,
                    interactive: None,
                    ..options.clone()
                };
                run(plan, raw.clone(), options, aliases).await;
                ran = true;
            }
            Err(why) => {
                return Err(Error::Usage(format!(
                    "{why}: run `{}` first, or pass --run-upstream",
                    plan.pipeline.name
                )));
            }
        }
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

/// Creates the container and opens the shell in it; removes it afterwards.
async fn enter(
    context: Arc<RunContext>,
    info: crate::graph::StepInfo,
    label: &str,
    recipe: &Recipe,
    found: Vec<Option<Artifact>>,
    shell: &str,
) -> Result<()> {
    let ctx = Ctx::new(Arc::clone(&context), info, label);
    let container = ctx.container().like(recipe, &found);
    say!("tanto: a fresh container set up like the one `{label}` last ran in");
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
    say!("tanto: exit the shell to remove it\n");
    let opened = attach_shell(&container, shell).await;
    let closed = ctx.close().await;
    let _ = context.remove_run().await;
    opened.and(closed)
}
