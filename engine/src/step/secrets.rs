//! Secrets into a step's container, only on purpose: per-command variables and in-memory files.

use std::sync::atomic::Ordering;

use futures_util::StreamExt as _;

use crate::artifact::Secret;
use crate::backend::ExecSpec;
use crate::error::{Error, Result};
use crate::step::container::{Container, MountKind};

impl Container {
    /// Sets variable `key` to the value of `secret` for the commands. The value is given to
    /// each command as it starts, never to the container's configuration (which `docker
    /// inspect` shows), and is redacted from everything tanto prints.
    ///
    /// ```no_run
    /// use tanto::prelude::*;
    ///
    /// #[step(image = "rust:1.95-slim", side_effect)]
    /// async fn publish(ctx: &Ctx, src: Dir, token: Secret) -> Result<()> {
    ///     ctx.container()
    ///         .with_dir("/src", &src)
    ///         .with_workdir("/src")
    ///         .with_secret_env("CARGO_REGISTRY_TOKEN", &token)
    ///         .exec(["cargo", "publish"])
    ///         .await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn with_secret_env(&self, key: impl Into<String>, secret: &Secret) -> Self {
        let key = key.into();
        let secret = secret.clone();
        self.with(|s| {
            s.env.retain(|(k, _)| *k != key);
            s.secret_env.retain(|(k, _)| *k != key);
            s.secret_env.push((key, secret));
        })
    }

    /// Puts the value of `secret` in the file `path`, mode 0400, owned by the user the commands
    /// run as. Its folder is an in-memory file system of its own (so `path` must not be
    /// directly under `/`), made when the container starts: declare it before the first
    /// command. The file is never on a disk, and capturing a folder that holds it is refused.
    pub fn with_secret_file(&self, path: impl Into<String>, secret: &Secret) -> Self {
        let path = path.into();
        let secret = secret.clone();
        self.with(|s| {
            s.check_target("secret file", &path);
            let Some((dir, _)) = path.rsplit_once('/').filter(|(dir, name)| !dir.is_empty() && !name.is_empty()) else {
                s.problems.push(format!(
                    "secret file `{path}` needs a folder of its own: use a path such as `/run/secrets/{}`",
                    path.trim_start_matches('/')
                ));
                return;
            };
            if !s.mounts.iter().any(|m| m.target == dir) {
                s.mount(dir, MountKind::Secrets);
            }
            s.secret_files.retain(|(p, _)| *p != path);
            s.secret_files.push((path, secret));
        })
    }

    /// The secret file that capturing `path` would take along, if any.
    pub(super) fn secret_under(&self, path: &str) -> Option<&str> {
        let path = path.trim_end_matches('/');
        self.spec
            .secret_files
            .iter()
            .map(|(p, _)| p.as_str())
            .find(|p| {
                let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
                path.is_empty()
                    || p.starts_with(&format!("{path}/"))
                    || path == dir
                    || path.starts_with(&format!("{dir}/"))
                    || path == *p
            })
    }
}

impl Container {
    /// Writes `secret` to `path` (mode 0400) in container `id` and gives it to the commands'
    /// user: the value travels in the command's environment, never in its arguments or the
    /// container's configuration.
    pub(super) async fn write_secret(&self, id: &str, path: &str, secret: &Secret) -> Result<()> {
        let owner = self.spec.user.clone().unwrap_or_default();
        let spec = ExecSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                r#"umask 0377 && printf '%s' "$TANTO_SECRET" > "$1" && { [ -z "$2" ] || chown "$2" "$1"; }"#.into(),
                "tanto-secret".into(),
                path.to_owned(),
                owner,
            ],
            env: Vec::new(),
            workdir: None,
            // Root writes it into the in-memory folder, then hands it to the commands' user.
            user: Some("0".to_owned()),
            secret_env: vec![("TANTO_SECRET".to_owned(), secret.clone())],
        };
        let backend = &self.ctx.run().backend;
        let state = self.ctx.container_state();
        state.commands.fetch_add(1, Ordering::Relaxed);
        let mut started = backend.exec(id, &spec).await?;
        let mut said = Vec::new();
        while let Some(chunk) = started.output.next().await {
            said.extend_from_slice(&chunk?.1);
        }
        match backend.exec_exit_code(&started.id).await? {
            0 => Ok(()),
            code => Err(Error::Usage(format!(
                "step `{}`: cannot write the secret file `{path}` (exit code {code}: {}); the image needs `sh` and `chown`, and the commands' user must exist in it",
                self.ctx.label(),
                String::from_utf8_lossy(&said).trim()
            ))),
        }
    }
}
