//! Creating a step's container under a name that says whose it is, `tanto-RUN-LABEL-N`, as
//! its services (`tanto-RUN-…`) and network (`tanto-RUN`) are named, so `docker ps` shows
//! which run and step each belongs to. The labels stay what cleanup goes by.

use std::sync::atomic::{AtomicU64, Ordering};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;

use crate::docker::DockerBackend;
use crate::docker::request::{docker_error, status};
use crate::engine::backend::{ContainerSpec, LABEL_RUN, LABEL_STEP};
use tanto_engine::Result;

/// The longest part of a name a step's label gives.
const LABEL_PART: usize = 40;

/// The name of the next container of `spec`'s run and step: `tanto-RUN-LABEL-N`, the label
/// cut to what a container name may hold (letters, digits, `_`, `.`, `-`) and to
/// [`LABEL_PART`], and `N` counting this process's containers, so no two are alike.
fn container_name(spec: &ContainerSpec) -> Option<String> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let label = |key: &str| spec.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let run = label(LABEL_RUN)?;
    let step = label(LABEL_STEP)?;
    let mut part = String::new();
    for c in step.chars() {
        let c = if c.is_ascii_alphanumeric() || "_.".contains(c) {
            c
        } else {
            '-'
        };
        if !(c == '-' && (part.is_empty() || part.ends_with('-'))) {
            part.push(c);
        }
        if part.len() == LABEL_PART {
            break;
        }
    }
    let part = part.trim_end_matches('-');
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let run: String = (run.chars())
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .collect();
    Some(match part {
        "" => format!("tanto-{run}-{n}"),
        part => format!("tanto-{run}-{part}-{n}"),
    })
}

impl DockerBackend {
    /// Creates a container of `spec` from `body`, named for its run and step; a name that
    /// another container holds (the daemon's 409) leaves it to the daemon to name.
    pub(super) async fn create_named(
        &self,
        spec: &ContainerSpec,
        body: ContainerCreateBody,
    ) -> Result<String> {
        if let Some(name) = container_name(spec) {
            let options = CreateContainerOptionsBuilder::default().name(&name).build();
            match self
                .docker
                .create_container(Some(options), body.clone())
                .await
            {
                Ok(created) => return Ok(created.id),
                Err(e) if status(&e) == Some(409) => {
                    tracing::debug!("container name {name} is taken: {e}");
                }
                Err(e) => return Err(docker_error(&self.endpoint, "create a container", &e)),
            }
        }
        let created = self
            .docker
            .create_container(None, body)
            .await
            .map_err(|e| docker_error(&self.endpoint, "create a container", &e))?;
        Ok(created.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::ImageId;

    fn spec(step: &str) -> ContainerSpec {
        ContainerSpec {
            image: ImageId::new("sha256:00".to_owned()),
            labels: vec![
                (LABEL_RUN.to_owned(), "8306e4e60f55".to_owned()),
                (LABEL_STEP.to_owned(), step.to_owned()),
            ],
            mounts: Vec::new(),
            network: false,
            memory: None,
            millicpus: None,
        }
    }

    #[test]
    fn a_name_holds_the_run_and_the_label_as_far_as_a_name_may() {
        let name = |step: &str| {
            let name = container_name(&spec(step)).unwrap();
            // The count at the end differs from call to call.
            name.rsplit_once('-').unwrap().0.to_owned()
        };
        assert_eq!(name("build"), "tanto-8306e4e60f55-build");
        assert_eq!(
            name("cell[1.80,serde]"),
            "tanto-8306e4e60f55-cell-1.80-serde"
        );
        assert_eq!(name("paquet_été"), "tanto-8306e4e60f55-paquet_-t");
        assert_eq!(name("[\n::error::x]"), "tanto-8306e4e60f55-error-x");
        assert_eq!(name("[日本]"), "tanto-8306e4e60f55");
        assert_eq!(
            name(&"x".repeat(100)),
            format!("tanto-8306e4e60f55-{}", "x".repeat(40))
        );
        assert_ne!(
            container_name(&spec("a")),
            container_name(&spec("a")),
            "two containers of one step"
        );
    }
}
