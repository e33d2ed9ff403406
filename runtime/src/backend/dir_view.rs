//! How a read-only mount of a host `Dir` shows a container only what the `Dir`'s digest
//! covers: the folder itself, its linked view, or the folder with masks.

use std::path::Path;
use std::sync::Arc;

use crate::backend::{Mount, MountSource};
use crate::cache::HiddenKind;
use crate::error::{Error, Result};
use crate::{Dir, DirViews, RunContext};

/// The most entries a bind mount of a `Dir` hides with masks; beyond it, the folder is
/// uploaded without them.
const MAX_MASKS: usize = 100;

/// The read-only mounts that show `dir` at `target` with only what its digest covers: the
/// folder itself when it leaves nothing out; else its linked view (hard links in the
/// store); else the folder with an empty folder or file masking each left-out entry.
/// `None` when masks cannot do it either (too many, or a symlink or special file to hide)
/// and the folder must be uploaded without those entries instead.
pub(crate) async fn mounts(
    run: &RunContext,
    dir: &Dir,
    target: &str,
) -> Result<Option<Vec<Mount>>> {
    let store = Arc::clone(&run.store);
    let link = run.dir_views == DirViews::Linked;
    let (hidden, linked) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let hidden = dir.hidden()?.to_vec();
            let linked = if hidden.is_empty() || !link {
                None
            } else {
                dir.linked_view(&store).map(Path::to_path_buf)
            };
            Ok::<_, Error>((hidden, linked))
        })
        .await
        .map_err(|e| Error::Other(format!("listing a folder panicked: {e}")))??
    };
    // The daemon resolves bind sources itself: give it absolute paths.
    let bind = |host: &Path| -> Result<Mount> {
        let host = std::fs::canonicalize(host)
            .map_err(|e| Error::io(format!("mount {} at {target}", host.display()), e))?;
        Ok(Mount {
            target: target.to_owned(),
            source: MountSource::Bind {
                host,
                read_only: true,
            },
        })
    };
    if let Some(view) = linked {
        return Ok(Some(vec![bind(&view)?]));
    }
    if hidden.len() > MAX_MASKS {
        return Ok(None);
    }
    let mut mounts = vec![bind(dir.path())?];
    for h in &hidden {
        let Some(rel) = h.path.to_str() else {
            return Ok(None);
        };
        let source = match h.kind {
            HiddenKind::Dir => MountSource::EmptyDir,
            HiddenKind::File => MountSource::Bind {
                host: run.store.empty_file()?,
                read_only: true,
            },
            HiddenKind::Symlink | HiddenKind::Special => return Ok(None),
        };
        mounts.push(Mount {
            target: format!("{}/{rel}", target.trim_end_matches('/')),
            source,
        });
    }
    Ok(Some(mounts))
}
