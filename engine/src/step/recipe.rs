//! How a step's container was set up when it last ran, recorded in the store so that
//! `BIN PIPELINE shell STEP` can open a fresh container just like it: its image, where its
//! inputs were mounted or copied (folders and files by content digest), and its last command's
//! env, working directory and user, and the services it bound, in full, which `shell` starts
//! again. Secrets are recorded by name only, and bytes the step wrote (`with_new_file`) not at
//! all: they may hold what a secret exposed. A service takes no secret (its env is plain text,
//! part of its definition), so it is recorded whole, unless its definition holds a secret's
//! value that the step read: then by name only.

use serde::{Deserialize, Serialize};

use crate::artifact::Artifact;
use crate::digest::Digest;
use crate::report::Redactor;
use crate::step::container::{Container, CopyFrom, MountKind};
use crate::step::live::Slot;
use crate::step::service::Service;
use crate::step::{Ctx, RunContext};

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
    /// The names it bound services under: all that recipes held before the services were
    /// recorded in full (and all that such a version of tanto reads).
    #[serde(default)]
    pub services: Vec<String>,
    /// Each of those services, in full, which `shell` starts again; a name without one here
    /// is not started, and the shell says why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_definitions: Vec<BoundService>,
}

/// A service a step bound, as its recipe holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BoundService {
    /// The name the step reached it by and its definition (image reference, command, env,
    /// ports, readiness check, timeout, and whether it was shared): `shell` starts it again.
    Defined {
        /// The name it was bound under.
        name: String,
        /// What it is.
        service: Service,
    },
    /// A service whose definition held one of the run's secrets (a value the step read from
    /// one and put in its env or command): not recorded, so not started.
    Withheld {
        /// The name it was bound under.
        name: String,
        /// Why it is not recorded.
        withheld: String,
    },
    /// What another version of tanto recorded and this one cannot read: not started.
    Other(serde_json::Value),
}

/// Why a [`BoundService::Withheld`] service is not recorded.
const HELD_A_SECRET: &str = "its definition held a secret, which is not recorded";

impl BoundService {
    /// The name it was bound under, if this version can read it.
    fn name(&self) -> Option<&str> {
        match self {
            BoundService::Defined { name, .. } | BoundService::Withheld { name, .. } => Some(name),
            BoundService::Other(value) => value.get("name").and_then(serde_json::Value::as_str),
        }
    }
}

impl Recipe {
    /// Records in `run`'s store, for `shell STEP`, how the step labelled `label` (`history`
    /// there) set up its container, with what a secret exposed in its env or command masked;
    /// `None` records that it ran and started none (it did its work through the daemon, or in
    /// its own code), so `shell` can say so rather than offer to run it again.
    pub(crate) fn remember(run: &RunContext, history: &str, label: &str, recipe: Option<Recipe>) {
        let recipe = recipe.map(|mut recipe| {
            for (_, value) in &mut recipe.env {
                *value = run.events.redact(value);
            }
            // A command line may hold what a secret variable expanded to.
            recipe.command = recipe.command.map(|c| run.events.redact(&c));
            recipe
        });
        if let Err(e) = run.store.set_recipe(history, &recipe) {
            tracing::warn!("could not remember how `{label}` ran: {e}");
        }
    }

    /// The services `shell` starts again, by the names the step bound them under.
    pub fn services_to_start(&self) -> Vec<(&str, &Service)> {
        (self.service_definitions.iter())
            .filter_map(|bound| match bound {
                BoundService::Defined { name, service } => Some((name.as_str(), service)),
                _ => None,
            })
            .collect()
    }

    /// Why `shell` does not start each of the other services, a line each.
    pub fn services_not_started(&self) -> Vec<String> {
        let mut why = Vec::new();
        for name in &self.services {
            let bound = (self.service_definitions.iter()).find(|b| b.name() == Some(name));
            let reason = match bound {
                Some(BoundService::Defined { .. }) => continue,
                Some(BoundService::Withheld { withheld, .. }) => withheld.clone(),
                Some(BoundService::Other(_)) => "another version of tanto recorded it".to_owned(),
                None => "the step last ran under a version of tanto that recorded only its name; run it again to record it in full".to_owned(),
            };
            why.push(format!(
                "service `{}` is not started here, so that name does not resolve: {}",
                crate::report::shown(name),
                crate::report::shown(&reason)
            ));
        }
        why
    }
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
            services: live.services.iter().map(|(name, _)| name.clone()).collect(),
            service_definitions: (live.services.iter())
                .map(|(name, service)| recorded(&self.run().events.redactor(), name, service))
                .collect(),
        })
    }
}

/// How the recipe records `service`, bound as `name`: in full, unless its definition holds a
/// value `redactor` masks, one of the run's secrets, which the store must never hold.
fn recorded(redactor: &Redactor, name: &str, service: &Service) -> BoundService {
    let Ok(mut value) = serde_json::to_value(service) else {
        return BoundService::Withheld {
            name: name.to_owned(),
            withheld: "its definition cannot be encoded".to_owned(),
        };
    };
    let plain = value.clone();
    redactor.redact_json(&mut value);
    if value == plain {
        BoundService::Defined {
            name: name.to_owned(),
            service: service.clone(),
        }
    } else {
        BoundService::Withheld {
            name: name.to_owned(),
            withheld: HELD_A_SECRET.to_owned(),
        }
    }
}

impl Container {
    /// This builder with `recipe`'s image, inputs (its folders and files found again, in
    /// `found` at the same places as in `recipe.inputs`), env, working directory, user and
    /// services: a container like the one the recipe was taken from, but for what
    /// [`Input::left_out`] and [`Recipe::services_not_started`] name.
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
        for (name, service) in recipe.services_to_start() {
            c = c.with_service(name, service);
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

    /// A recipe of `busybox` with these service names and definitions.
    fn recipe(services: &[&str], definitions: Vec<BoundService>) -> Recipe {
        Recipe {
            image: "busybox".into(),
            inputs: Vec::new(),
            env: Vec::new(),
            secret_env: Vec::new(),
            workdir: None,
            user: None,
            command: None,
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            service_definitions: definitions,
        }
    }

    #[test]
    fn a_service_is_recorded_in_full_and_a_recipe_of_names_still_reads() {
        let db = Service::new("tanto-test/postgres:15")
            .with_port(5432)
            .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
            .ready_when_exec(["pg_isready"])
            .shared();
        let full = recipe(&["db"], vec![recorded(&Redactor::default(), "db", &db)]);
        let json = serde_json::to_string(&full).expect("encodes");
        let back: Recipe = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, full);
        assert_eq!(back.services_to_start(), vec![("db", &db)]);
        assert!(back.services_to_start()[0].1.is_shared());
        assert!(back.services_not_started().is_empty());

        let old = r#"{"image":"busybox","inputs":[],"env":[],"secret_env":[],"workdir":null,"user":null,"command":null,"services":["db"]}"#;
        let old: Recipe = serde_json::from_str(old).expect("an older recipe parses");
        assert_eq!(old, recipe(&["db"], Vec::new()));
        assert!(old.services_to_start().is_empty());
        let why = old.services_not_started();
        assert_eq!(why.len(), 1);
        assert!(
            why[0].starts_with("service `db` is not started here, so that name does not resolve"),
            "{why:?}"
        );
        let older = r#"{"image":"busybox","inputs":[],"env":[],"secret_env":[],"workdir":null,"user":null,"command":null}"#;
        let older: Recipe = serde_json::from_str(older).expect("a recipe without services parses");
        assert_eq!(older, recipe(&[], Vec::new()));
    }

    #[test]
    fn a_service_that_held_a_secret_is_withheld_and_said_so() {
        let mut redactor = Redactor::default();
        redactor.add("hunter2-is-long");
        let db =
            Service::new("tanto-test/postgres:15").with_env("POSTGRES_PASSWORD", "hunter2-is-long");
        let withheld = recipe(&["db"], vec![recorded(&redactor, "db", &db)]);
        let json = serde_json::to_string(&withheld).expect("encodes");
        assert!(!json.contains("hunter2"), "{json}");
        let back: Recipe = serde_json::from_str(&json).expect("parses");
        assert!(back.services_to_start().is_empty());
        assert_eq!(
            back.services_not_started(),
            vec![format!(
                "service `db` is not started here, so that name does not resolve: {HELD_A_SECRET}"
            )]
        );
    }

    #[test]
    fn a_service_another_version_recorded_is_named_and_not_started() {
        let future = r#"{"image":"busybox","inputs":[],"env":[],"secret_env":[],"workdir":null,"user":null,"command":null,"services":["db"],"service_definitions":[{"name":"db","service":{"image":"x","ready":{"http":"/"}}}]}"#;
        let recipe: Recipe = serde_json::from_str(future).expect("parses");
        assert!(matches!(
            recipe.service_definitions[0],
            BoundService::Other(_)
        ));
        assert!(recipe.services_to_start().is_empty());
        let why = recipe.services_not_started();
        assert!(
            why.len() == 1
                && why[0].contains("`db`")
                && why[0].ends_with("another version of tanto recorded it"),
            "{why:?}"
        );
    }
}
