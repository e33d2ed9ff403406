//! A step's single command run as its container's own process (PID 1), when the last run of
//! the step's code ran exactly one: no keep-alive, no exec, nothing to end afterwards.
//!
//! The store keeps the hint per step, with the digest of the code that ran
//! ([`Store::single_command`](crate::cache::Store::single_command)), so an edit of the step
//! forgets it. A step whose label has no record for its code takes the hint of the last step
//! of the same code to end in the same run, if one has (the calls of one step fn in a
//! fan-out, a chain or a matrix: [`RunContext::single_by_code`](crate::RunContext)). A run
//! without the hint uses the keep-alive container. Never as PID 1:
//!
//! - a command with secret variables, or a step with secret files: a container's
//!   configuration, which `docker inspect` and a commit show, would hold them;
//! - `docker_socket`: what runs inside reaches back through a scratch folder and its labels;
//! - a run with `-i`, whose shell into a failed step needs a running container.
//!
//! When a step with the hint runs a second command after all (its behaviour changed with its
//! data), its exited container is committed to a temporary image and the step goes on in a
//! keep-alive container made from it, with the same mounts, network and services; the image
//! is removed with that container. What differs from a step that had the keep-alive from the
//! start: a process that the first command left running in the background is gone, and the
//! first command's variables stay set in the new container (a commit keeps them) for later
//! commands that do not set them.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use crate::backend::{ExecSpec, ImageId, ImageSettings};
use crate::error::Result;
use crate::step::container::{Container, MountKind};
use crate::step::live::{Live, Mode};

impl Container {
    /// Whether the step's first command, `command`, may run as its container's own process.
    pub(super) fn may_run_single(&self, command: &ExecSpec) -> bool {
        let state = self.ctx.container_state();
        state.hint.load(Ordering::Relaxed)
            && self.ctx.run().interactive.is_none()
            && command.secret_env.is_empty()
            && self.spec.secret_env.is_empty()
            && self.spec.secret_files.is_empty()
            && !(self.spec.mounts.iter())
                .any(|m| matches!(m.kind, MountKind::DockerSocket | MountKind::Secrets))
    }

    /// Replaces `live`, made for a single command that has run (or never started), with a
    /// keep-alive container holding its files: committed to a temporary image, removed, and
    /// created again from that image with the same mounts, network and services.
    pub(super) async fn keep_alive(&self, live: &mut Live) -> Result<()> {
        let run = self.ctx.run();
        let state = self.ctx.container_state();
        tracing::debug!(
            "step `{}` runs another command: its container goes on as a keep-alive",
            self.ctx.label()
        );
        let image = run
            .backend
            .commit(&live.id, &ImageSettings::default())
            .await?
            .id;
        *state
            .temp_image
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(image.clone());
        run.backend.remove(&live.id).await?;
        state.stopped(&live.id);
        let mut spec = live.created.clone();
        spec.image = ImageId::new(image);
        let id = run.backend.start(&spec).await?;
        state.started(&id, self.ctx.label(), false);
        live.id = id;
        live.mode = Mode::KeepAlive;
        let links: Vec<(String, String)> = (state.services.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| l.link.clone())
            .collect();
        if !links.is_empty() {
            let network = run.services.network(run).await?;
            run.backend
                .connect_network(&network, &live.id, &links)
                .await?;
        }
        Ok(())
    }
}
