//! How a step's inputs reach its container when it is created: cache volumes, the daemon's
//! socket, and read-only `Dir` mounts that show only what the `Dir`'s digest covers (the
//! folder itself, its linked view, the folder with masks, or an upload).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::artifact::Dir;
use crate::backend::archive::{self, CopyEntry, CopySource};
use crate::backend::{
    ContainerSpec, ExecSpec, ImageId, LABEL_HOST, LABEL_OWNER, LABEL_PARENT_RUN, LABEL_PARENT_STEP,
    LABEL_PID, LABEL_RUN, LABEL_STEP, Mount, MountSource, Owner, Parent, host_name,
};
use crate::error::{Error, Result};
use crate::input::{HiddenKind, ViewMode};
use crate::step::container::{Container, CopyFrom, HOST_CA_BUNDLE, MountKind};
use crate::step::live::{Live, Mode};
use crate::step::run::RunContext;

/// Where `docker_socket` mounts the daemon's socket in the container.
pub(crate) const SOCKET_TARGET: &str = "/var/run/docker.sock";

/// The most entries a bind mount of a `Dir` hides with masks; beyond it, the folder is
/// uploaded without them.
const MAX_MASKS: usize = 100;

impl Container {
    /// Creates and starts the step's container from `image` with the declared mounts, and
    /// registers it with the run. With `single`, the container is made to run that command as
    /// its own process instead of a keep-alive, and left for [`Container::open`] to start
    /// once the copies are in.
    // Long, but one match: each kind of declared mount becomes the daemon's mounts in one arm.
    pub(super) async fn create(&self, image: &str, single: Option<&ExecSpec>) -> Result<Live> {
        let run = self.ctx.run();
        let backend = &run.backend;
        let settings = &self.ctx.step().settings;
        let log = |line: &str| {
            tracing::info!("step `{}`: {line}", self.ctx.label());
            self.ctx.note(line);
        };
        let image_id: ImageId = run.resolve_image(image, &log).await?;
        self.ctx.used_image(image, &image_id.to_string());

        let mut mounts = Vec::new();
        let mut uploads = Vec::new();
        let mut scratch = None;
        for decl in &self.spec.mounts {
            let source = match &decl.kind {
                MountKind::Dir(dir) => {
                    let shown = if backend.is_local() {
                        dir_mounts(run, dir, &decl.target).await?
                    } else {
                        None
                    };
                    match shown {
                        Some(shown) => mounts.extend(shown),
                        None => uploads.push((decl.target.clone(), CopyFrom::Dir(dir.clone()))),
                    }
                    continue;
                }
                MountKind::Cache(volume) => MountSource::Volume {
                    name: volume.clone(),
                },
                MountKind::Secrets => MountSource::Memory,
                MountKind::DockerSocket => {
                    let socket = backend.socket_path().filter(|_| backend.is_local());
                    let Some(socket) = socket else {
                        return Err(Error::Usage(format!(
                            "step `{}` asks for `docker_socket`, but the daemon at {} is not a local socket",
                            self.ctx.label(),
                            backend.endpoint()
                        )));
                    };
                    let dir = tempfile::Builder::new()
                        .prefix("tanto-scratch-")
                        .tempdir()
                        .map_err(|e| {
                            Error::io("create the scratch folder of a docker_socket step", e)
                        })?;
                    run.track_scratch(dir.path());
                    let path = dir.path().display().to_string();
                    mounts.push(Mount {
                        target: path.clone(),
                        source: MountSource::Bind {
                            host: path.into(),
                            read_only: false,
                        },
                    });
                    scratch = Some(dir);
                    MountSource::Bind {
                        host: socket.into(),
                        read_only: false,
                    }
                }
            };
            mounts.push(Mount {
                target: decl.target.clone(),
                source,
            });
        }
        let mut labels = vec![
            (LABEL_HOST.to_owned(), host_name().to_owned()),
            (LABEL_PID.to_owned(), std::process::id().to_string()),
            (LABEL_OWNER.to_owned(), Owner::current().label()),
            (LABEL_RUN.to_owned(), run.run_id.clone()),
            (LABEL_STEP.to_owned(), self.ctx.label().to_owned()),
        ];
        // A run started inside a `docker_socket` step: its parent removes what it leaves.
        if let Some(parent) = Parent::current() {
            labels.push((LABEL_PARENT_RUN.to_owned(), parent.run.clone()));
            labels.push((LABEL_PARENT_STEP.to_owned(), parent.step.clone()));
        }
        labels.sort();
        let spec = ContainerSpec {
            image: image_id,
            labels,
            mounts,
            network: settings.network,
            memory: settings.memory,
            millicpus: settings.millicpus,
        };
        // Services first: the step's container starts only once they are ready.
        let leases = self.acquire_services().await?;
        run.creating();
        let id = match single {
            Some(command) => backend.create_command(&spec, command).await?,
            None => backend.start(&spec).await?,
        };
        self.ctx
            .container_state()
            .started(&id, self.ctx.label(), scratch.is_some());
        // Before a single command starts: it runs with the services reachable.
        self.connect_services(&id, leases).await?;
        let live = Live {
            id,
            image: image.to_owned(),
            services: self.spec.services.clone(),
            mounts: self.spec.mounts.clone(),
            applied: HashSet::new(),
            copies: Vec::new(),
            secrets: HashSet::new(),
            scratch,
            created: spec,
            mode: if single.is_some() {
                Mode::Created
            } else {
                Mode::KeepAlive
            },
        };
        if !uploads.is_empty() {
            // Remote read-only inputs: root-owned copies, made once when the container starts.
            let tar = archive::copies_tar(copy_entries(run, uploads).await?, (0, 0));
            if let Err(e) = backend.upload(&live.id, tar).await {
                if backend.remove(&live.id).await.is_ok() {
                    self.ctx.container_state().stopped(&live.id);
                }
                return Err(e);
            }
        }
        Ok(live)
    }
}

/// The read-only mounts that show `dir` at `target` with only what its digest covers: the
/// folder itself when it leaves nothing out; else its linked view (hard links in the
/// store); else the folder with an empty folder or file masking each left-out entry.
/// `None` when masks cannot do it either (too many, or a symlink or special file to hide)
/// and the folder must be uploaded without those entries instead.
async fn dir_mounts(run: &RunContext, dir: &Dir, target: &str) -> Result<Option<Vec<Mount>>> {
    let views = Arc::clone(&run.views);
    let (hidden, linked) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let hidden = views.hidden(&dir)?;
            let linked = if hidden.is_empty() || views.mode() != ViewMode::Linked {
                None
            } else {
                views.linked(&dir)
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

/// The archive entries of `copies` (target, source): a `Dir` leaves out what its digest does
/// not cover, listed through the run's views on a blocking thread.
pub(super) async fn copy_entries(
    run: &RunContext,
    copies: Vec<(String, CopyFrom)>,
) -> Result<Vec<CopyEntry>> {
    let views = Arc::clone(&run.views);
    tokio::task::spawn_blocking(move || {
        copies
            .into_iter()
            .map(|(target, from)| {
                let source = match from {
                    CopyFrom::Dir(dir) => CopySource::Tree {
                        root: dir.path().to_path_buf(),
                        skip: views.hidden(&dir)?.into_iter().map(|h| h.path).collect(),
                    },
                    CopyFrom::File(file) => CopySource::File {
                        path: file.path().to_path_buf(),
                        executable: file.is_executable(),
                    },
                    CopyFrom::HostCaBundle => CopySource::File {
                        path: HOST_CA_BUNDLE.into(),
                        executable: false,
                    },
                    CopyFrom::Bytes(bytes) => CopySource::Bytes(bytes),
                };
                Ok(CopyEntry { target, source })
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Other(format!("listing a folder panicked: {e}")))?
}
