//! How a step's container was set up when it last ran, recorded in the store so that
//! `BIN PIPELINE shell STEP` can open a fresh container just like it: its image, where its
//! inputs were mounted or copied (folders and files by content digest), and its last command's
//! env, working directory and user. Secrets are recorded by name only, and bytes the step wrote
//! (`with_new_file`) not at all: they may hold what a secret exposed.

use serde::{Deserialize, Serialize};

use crate::artifact::Artifact;
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
    /// The names it bound services under: `shell` does not start them, and says so.
    #[serde(default)]
    pub services: Vec<String>,
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
    /// A file with this digest, copied writable.
    CopiedFile {
        /// Its content digest.
        digest: Digest,
        /// Whether it had the executable bits.
        executable: bool,
    },
    /// This machine's CA bundle ([`Container::with_host_ca_bundle`]), copied again.
    HostCaBundle,
    /// A named volume.
    Cache {
        /// Its name.
        volume: String,
    },
    /// The daemon's socket.
    DockerSocket,
    /// Bytes the step wrote to a new file: not recorded, so not recreated.
    NewFile,
    /// The in-memory folder of the step's secret files: not recorded, so not recreated.
    Secrets,
    /// What another version of tanto recorded and this one does not know: not recreated.
    #[serde(other)]
    Other,
}

impl Input {
    /// The content digest of a folder or file input, which `shell` finds again.
    pub fn digest(&self) -> Option<Digest> {
        match self {
            Input::MountedDir { digest }
            | Input::CopiedDir { digest }
            | Input::CopiedFile { digest, .. } => Some(*digest),
            _ => None,
        }
    }

    /// Why `shell` leaves this input out, for those it cannot recreate.
    pub fn left_out(&self) -> Option<&'static str> {
        match self {
            Input::NewFile => Some("bytes the step wrote, which are not recorded"),
            Input::Secrets => Some("the step's secret files, which are not recorded"),
            Input::Other => Some("recorded by another version of tanto"),
            _ => None,
        }
    }
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
                    MountKind::Secrets => Input::Secrets,
                },
            })
            .collect();
        inputs.extend(live.copies.iter().map(|(target, from)| Placed {
            target: target.clone(),
            what: match from {
                CopyFrom::Dir(dir) => Input::CopiedDir {
                    digest: dir.digest(),
                },
                CopyFrom::File(file) => Input::CopiedFile {
                    digest: file.digest(),
                    executable: file.is_executable(),
                },
                CopyFrom::HostCaBundle => Input::HostCaBundle,
                CopyFrom::Bytes(_) => Input::NewFile,
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
            services: live.services.clone(),
        })
    }
}

impl Container {
    /// This builder with `recipe`'s image, inputs (its folders and files found again, in
    /// `found` at the same places as in `recipe.inputs`), env, working directory and user: a
    /// container like the one the recipe was taken from, but for what [`Input::left_out`]
    /// names.
    pub(crate) fn like(&self, recipe: &Recipe, found: &[Option<Artifact>]) -> Self {
        let mut c = self.with_image(&recipe.image);
        for (i, placed) in recipe.inputs.iter().enumerate() {
            let target = &placed.target;
            let artifact = found.get(i).cloned().flatten();
            c = match (&placed.what, artifact) {
                (Input::MountedDir { .. }, Some(Artifact::Dir(dir))) => {
                    c.with_mounted_dir(target, &dir)
                }
                (Input::CopiedDir { .. }, Some(Artifact::Dir(dir))) => c.with_dir(target, &dir),
                (Input::CopiedFile { .. }, Some(Artifact::File(file))) => {
                    c.with_file(target, &file)
                }
                (Input::HostCaBundle, _) => c.with_host_ca_bundle(),
                (Input::Cache { volume }, _) => c.with_cache(target, volume),
                _ => c,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_kind_of_another_version_reads_as_left_out() {
        let placed: Placed = serde_json::from_str(
            r#"{"target":"/x","what":{"kind":"from_the_future","path":"/y"}}"#,
        )
        .expect("parses");
        assert_eq!(placed.what, Input::Other);
        assert_eq!(
            placed.what.left_out(),
            Some("recorded by another version of tanto")
        );
        let file = Input::CopiedFile {
            digest: Digest::of(b"a"),
            executable: true,
        };
        let back: Input =
            serde_json::from_str(&serde_json::to_string(&file).expect("encodes")).expect("parses");
        assert_eq!(back, file);
        assert_eq!(back.digest(), Some(Digest::of(b"a")));
        assert_eq!(back.left_out(), None);
    }
}
