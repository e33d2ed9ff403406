//! How a step's container was set up when it last ran, recorded in the store so that
//! `BIN PIPELINE shell STEP` can open a fresh container just like it: its image, where its
//! inputs were mounted or copied (by content digest), and its last command's env, working
//! directory and user. Secrets are recorded by name only.

use serde::{Deserialize, Serialize};

use crate::artifact::Dir;
use crate::digest::Digest;
use crate::step::Ctx;
use crate::step::container::{Container, CopyFrom, MountKind};
use crate::step::live::Slot;

/// A step's container, as it last ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// The image reference it ran.
    pub image: String,
    /// Its mounts and copies, in the order they were declared.
    pub inputs: Vec<Placed>,
    /// Its last command's variables; secret ones are not here.
    pub env: Vec<(String, String)>,
    /// The names of its last command's secret variables.
    pub secret_env: Vec<String>,
    /// Its last command's working directory.
    pub workdir: Option<String>,
    /// Its last command's user.
    pub user: Option<String>,
    /// Its last command, as shown.
    pub command: Option<String>,
}

/// Something put at `target` in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// The absolute path in the container.
    pub target: String,
    /// What is there.
    pub what: Input,
}

/// What a [`Placed`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Input {
    /// A folder with this digest, mounted read-only.
    MountedDir {
        /// Its content digest.
        digest: Digest,
    },
    /// A folder with this digest, copied writable.
    CopiedDir {
        /// Its content digest.
        digest: Digest,
    },
    /// A named volume.
    Cache {
        /// Its name.
        volume: String,
    },
    /// The daemon's socket.
    DockerSocket,
    /// Something that `shell` does not recreate: a file, bytes, a secret's folder.
    Other,
}

impl Ctx {
    /// The recipe of this step's container, if it has one up.
    pub(crate) async fn recipe(&self) -> Option<Recipe> {
        let state = self.container_state();
        let slot = state.slot.lock().await;
        let Slot::Live(live) = &*slot else {
            return None;
        };
        let mut inputs: Vec<Placed> = live
            .mounts
            .iter()
            .map(|m| Placed {
                target: m.target.clone(),
                what: match &m.kind {
                    MountKind::Dir(dir) => Input::MountedDir {
                        digest: dir.digest(),
                    },
                    MountKind::Cache(volume) => Input::Cache {
                        volume: volume.clone(),
                    },
                    MountKind::DockerSocket => Input::DockerSocket,
                    MountKind::Secrets => Input::Other,
                },
            })
            .collect();
        inputs.extend(live.copies.iter().map(|(target, from)| Placed {
            target: target.clone(),
            what: match from {
                CopyFrom::Dir(dir) => Input::CopiedDir {
                    digest: dir.digest(),
                },
                _ => Input::Other,
            },
        }));
        let last = state
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let (spec, command) = match last {
            Some((spec, command)) => (Some(spec), Some(command)),
            None => (None, None),
        };
        Some(Recipe {
            image: live.image.clone(),
            inputs,
            env: spec.as_ref().map(|s| s.env.clone()).unwrap_or_default(),
            secret_env: spec
                .as_ref()
                .map(|s| s.secret_env.iter().map(|(k, _)| k.clone()).collect())
                .unwrap_or_default(),
            workdir: spec.as_ref().and_then(|s| s.workdir.clone()),
            user: spec.as_ref().and_then(|s| s.user.clone()),
            command,
        })
    }
}

impl Container {
    /// This builder with `recipe`'s image, inputs (each folder given by `dir_of` its digest),
    /// env, working directory and user: a container like the one the recipe was taken from.
    pub(crate) fn like(&self, recipe: &Recipe, dir_of: &dyn Fn(&Digest) -> Option<Dir>) -> Self {
        let mut c = self.with_image(&recipe.image);
        for placed in &recipe.inputs {
            c = match &placed.what {
                Input::MountedDir { digest } => match dir_of(digest) {
                    Some(dir) => c.with_mounted_dir(&placed.target, &dir),
                    None => c,
                },
                Input::CopiedDir { digest } => match dir_of(digest) {
                    Some(dir) => c.with_dir(&placed.target, &dir),
                    None => c,
                },
                Input::Cache { volume } => c.with_cache(&placed.target, volume),
                Input::DockerSocket | Input::Other => c,
            };
        }
        for (key, value) in &recipe.env {
            c = c.with_env(key, value);
        }
        if let Some(workdir) = &recipe.workdir {
            c = c.with_workdir(workdir);
        }
        if let Some(user) = &recipe.user {
            c = c.with_user(user);
        }
        c
    }
}
