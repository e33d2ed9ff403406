//! A step's single command run as its container's own process (PID 1): created, attached
//! before it starts so no output is lost, and waited for.

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{AttachContainerOptionsBuilder, WaitContainerOptionsBuilder};
use futures_util::StreamExt as _;

use super::DockerBackend;
use crate::docker::cleanup::Unclaimed;
use crate::docker::request::{command_body, docker_error, status};
use crate::engine::backend::{ContainerSpec, ExecSpec, StartedExec};
use tanto_engine::{Error, Result};

impl DockerBackend {
    pub(super) async fn create_command_impl(
        &self,
        spec: &ContainerSpec,
        command: &ExecSpec,
    ) -> Result<String> {
        if !command.secret_env.is_empty() {
            return Err(Error::Other(
                "a command with secret variables must run as an exec: a container's configuration shows its variables".into(),
            ));
        }
        let mut body = command_body(spec, command);
        // Podman takes an empty entrypoint for none given, and runs the image's with the
        // command as its arguments: there the command's program is the entrypoint itself.
        if self.podman
            && let Some(cmd) = body.cmd.as_mut()
            && !cmd.is_empty()
        {
            body.entrypoint = Some(vec![cmd.remove(0)]);
        }
        self.create_named(spec, body).await
    }

    pub(super) async fn start_command_impl(&self, id: &str) -> Result<StartedExec> {
        // Removed if this start is abandoned (a deadline, a cancellation) before it returns.
        let unclaimed = Unclaimed {
            backend: Some(self.clone()),
            id: id.to_owned(),
        };
        let options = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        // Attached before it starts, as `docker run` does: the output from its first byte.
        let attached = self
            .docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| docker_error(&self.endpoint, "attach to a container", &e))?;
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| docker_error(&self.endpoint, "start a container", &e))?;
        Ok(StartedExec {
            id: unclaimed.claim(),
            output: self.command_output(attached.output, attached.input),
        })
    }

    pub(super) async fn exit_code_impl(&self, id: &str) -> Result<i64> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = self.docker.wait_container(id, Some(options));
        let doing = format!("wait for container {id} to exit");
        match wait.next().await {
            Some(Ok(answer)) => Ok(answer.status_code),
            // bollard reports a non-zero exit as an error that carries the code.
            Some(Err(BollardError::DockerContainerWaitError { code, error }))
                if error.is_empty() =>
            {
                Ok(code)
            }
            Some(Err(BollardError::DockerContainerWaitError { error, .. })) => {
                Err(Error::Docker(format!("{doing}: {error}")))
            }
            Some(Err(e)) if status(&e) == Some(404) => Err(Error::Docker(format!(
                "container {id} was removed before its exit code was read"
            ))),
            Some(Err(e)) => Err(docker_error(&self.endpoint, &doing, &e)),
            None => Err(Error::Docker(format!("{doing}: the daemon gave no answer"))),
        }
    }
}
