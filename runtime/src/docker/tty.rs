//! Commands with a terminal: a shell for a person (`-i`, `shell STEP`), attached and resized.

use bollard::exec::{StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;

use super::DockerBackend;
use crate::docker::request::{docker_error, exec_options};
use crate::engine::backend::{ExecSpec, InteractiveExec};
use tanto_engine::{Error, Result};

impl DockerBackend {
    /// Starts `spec` in container `id` on a terminal of `size`, its input attached.
    pub(super) async fn interactive(
        &self,
        id: &str,
        spec: &ExecSpec,
        size: (u16, u16),
    ) -> Result<InteractiveExec> {
        {
            let options = exec_options(spec, true);
            let created = self
                .docker
                .create_exec(id, options)
                .await
                .map_err(|e| docker_error(&self.endpoint, "create a shell", &e))?;
            let start = StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            };
            let started = self
                .docker
                .start_exec(&created.id, Some(start))
                .await
                .map_err(|e| docker_error(&self.endpoint, "start a shell", &e))?;
            let StartExecResults::Attached { output, input } = started else {
                return Err(Error::Docker("a shell started detached".into()));
            };
            // The size is set once it runs: a terminal opens at the daemon's default otherwise.
            let _ = self.resize(&created.id, size).await;
            let endpoint = self.endpoint.clone();
            let output = output.map(move |item| match item {
                Ok(log) => Ok(log.into_bytes()),
                Err(e) => Err(docker_error(&endpoint, "read a shell's output", &e)),
            });
            Ok(InteractiveExec {
                id: created.id,
                output: output.boxed(),
                input,
            })
        }
    }

    /// Resizes the terminal of command `exec_id` to `size`.
    pub(super) async fn resize(&self, exec_id: &str, size: (u16, u16)) -> Result<()> {
        {
            let (height, width) = size;
            self.docker
                .resize_exec(exec_id, bollard::exec::ResizeExecOptions { height, width })
                .await
                .map_err(|e| docker_error(&self.endpoint, "resize a shell's terminal", &e))
        }
    }
}
