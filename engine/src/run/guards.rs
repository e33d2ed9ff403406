//! What a step's run is held to, around what its key can hold before it runs: its timeout,
//! the host inputs it read (which must still hold what its key says when it ends), and the
//! images it chose at run time (whose tags must not have moved since its result was recorded)
//! or made (which must still be in the daemon).

use std::sync::Arc;

use crate::artifact::{Artifact, Dir, File, Origin};
use crate::cache::{ActionResult, Reason, hash_dir_with};
use crate::error::Result;
use crate::graph::{Arg, StepInfo};
use crate::report::{say, shown};
use crate::step::{Ctx, RunContext};

/// A host input a step reads where it lies, by parameter.
#[derive(Debug, Clone)]
pub(super) enum HostInput {
    /// A folder bound from the command line.
    Dir(Dir),
    /// A file bound from the command line.
    File(File),
}

/// The host folders and files among a step's `inputs`: a `Dir` with a host origin, and a
/// `File` that comes from a pipeline input rather than from a step (`is_step` by node).
pub(super) fn host_inputs(
    info: &StepInfo,
    inputs: &[Artifact],
    args: &[Arg],
    is_step: &[bool],
) -> Vec<(&'static str, HostInput)> {
    let params = info.params.iter().zip(inputs).zip(args);
    params
        .filter_map(|((param, input), arg)| match input {
            Artifact::Dir(dir) if matches!(dir.origin(), Origin::Host { .. }) => {
                Some((param.name, HostInput::Dir(dir.clone())))
            }
            Artifact::File(file) => match arg {
                Arg::Handle { node, .. } if !is_step.get(node.index()).copied().unwrap_or(true) => {
                    Some((param.name, HostInput::File(file.clone())))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The first of `inputs` whose content no longer matches its digest. A folder is re-hashed
/// through the stat cache (a `stat` per file when nothing changed; its trees were stored when
/// it was bound, and the engine saves the stat cache once at the end); a file is read again.
pub(super) async fn changed_during_run(
    run: &RunContext,
    inputs: &[(&'static str, HostInput)],
) -> Option<&'static str> {
    if inputs.is_empty() {
        return None;
    }
    let store = Arc::clone(&run.store);
    let inputs = inputs.to_vec();
    tokio::task::spawn_blocking(move || {
        inputs.into_iter().find_map(|(param, input)| {
            let same = match &input {
                HostInput::Dir(dir) => {
                    let now = hash_dir_with(dir.path(), &dir.select(), store.stat_cache());
                    now.is_ok_and(|h| h.digest == dir.digest())
                }
                HostInput::File(file) => store
                    .hash_input_file(file.path())
                    .is_ok_and(|now| now.digest() == file.digest()),
            };
            (!same).then_some(param)
        })
    })
    .await
    .unwrap_or(None)
}

/// Why the recorded result `hit` no longer stands, if an image its step chose at run time now
/// resolves to another id (or to none). An image chosen by its id (an `Image` input) cannot
/// move, and need not be in the daemon for the result to stand: a step that runs from it
/// loads it then. A `shared` result (from the remote cache, which another machine wrote) is
/// checked against the images here only, never by pulling what it names.
pub(super) async fn moved_image(
    run: &RunContext,
    hit: &ActionResult,
    shared: bool,
) -> Option<Reason> {
    for (image, id) in &hit.images {
        if image == id {
            continue;
        }
        let now = if shared {
            match run.local_image(image).await {
                Ok(Some(now)) if now == *id => continue,
                Ok(Some(now)) => now,
                Ok(None) => "nothing here (a shared result is not checked by pulling)".into(),
                Err(e) => format!("nothing it resolves to ({e})"),
            }
        } else {
            let progress = |line: &str| say!("tanto: pulling {}: {}", shown(image), shown(line));
            match run.resolve_image(image, &progress).await {
                Ok(now) if now.to_string() == *id => continue,
                Ok(now) => now.to_string(),
                Err(e) => format!("nothing it resolves to ({e})"),
            }
        };
        return Some(Reason::RuntimeImageChanged {
            image: image.clone(),
            old: id.clone(),
            new: now,
        });
    }
    None
}

/// Why cached `outputs` cannot be used when an image among them is no longer in the daemon
/// (pruned, say): a miss, never an error.
pub(super) async fn missing_image(
    run: &RunContext,
    outputs: &[Artifact],
) -> Result<Option<String>> {
    for output in outputs {
        if let Artifact::Image(image) = output
            && run.backend.image_content(image.id()).await?.is_none()
        {
            return Ok(Some(format!(
                "its output image {} is no longer in the daemon (removed or pruned)",
                image.id()
            )));
        }
    }
    Ok(None)
}

/// Runs `body` under the step's timeout, if it has one. A command cut short by it is named in
/// the error, with its last lines.
pub(super) async fn with_timeout<F>(ctx: &Ctx, body: F) -> Result<Vec<Artifact>>
where
    F: std::future::Future<Output = Result<Vec<Artifact>>>,
{
    let Some(after) = ctx.step().settings.timeout else {
        return body.await;
    };
    // The body is dropped at the end of this statement, and with it the command it ran,
    // which leaves what it printed for the error.
    let outcome = tokio::time::timeout(after, body).await;
    outcome.unwrap_or_else(|_| Err(ctx.timeout_error()))
}
