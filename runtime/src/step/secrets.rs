//! Secrets into a step's container, only on purpose: per-command variables and in-memory files.

use crate::artifact::Secret;
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
