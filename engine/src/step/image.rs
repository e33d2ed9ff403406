//! Images from a step's container: starting from an [`Image`], the image settings a snapshot
//! gets, and the snapshot itself (a layer of copies loaded onto the image when no command
//! ran, a commit of the container otherwise).

use std::collections::BTreeMap;

use crate::artifact::Image;
use crate::backend::ImageSettings;
use crate::error::{Error, Result};
use crate::step::container::{Container, MountKind};
use crate::step::live::Slot;
use crate::step::target::PushTarget;

/// What a builder declares for the image a snapshot makes, beyond env, workdir and user.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageDecl {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    exposed_ports: Vec<String>,
    labels: BTreeMap<String, String>,
}

impl Container {
    /// Runs the container from `image`, an image an earlier step made, instead of the step's
    /// `image` attribute. The image's content digest is in the key of a step that takes it as
    /// an input.
    ///
    /// ```no_run
    /// use tanto::prelude::*;
    ///
    /// #[step]
    /// async fn smoke(ctx: &Ctx, app: Image) -> Result<()> {
    ///     ctx.container().from(&app).exec(["/app", "--version"]).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn from(&self, image: &Image) -> Self {
        self.with_image(image.id())
    }

    /// Sets the program the snapshot's image runs ([`snapshot`](Self::snapshot)); the base
    /// image's when not set.
    pub fn with_entrypoint<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        self.with(|s| s.image_config.entrypoint = Some(argv))
    }

    /// Sets the arguments (or, without an entrypoint, the command) of the snapshot's image;
    /// the base image's when not set.
    pub fn with_cmd<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        self.with(|s| s.image_config.cmd = Some(argv))
    }

    /// Declares that the snapshot's image listens on `port` (`8080` or `8080/udp`).
    pub fn with_exposed_port(&self, port: impl Into<String>) -> Self {
        let mut port = port.into();
        if !port.contains('/') {
            port.push_str("/tcp");
        }
        self.with(|s| {
            s.image_config.exposed_ports.retain(|p| *p != port);
            s.image_config.exposed_ports.push(port);
        })
    }

    /// Sets label `key` of the snapshot's image.
    pub fn with_label(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.with(|s| {
            s.image_config.labels.insert(key, value);
        })
    }

    /// The step's container as its commands left it, as a new [`Image`]: its file system with
    /// this builder's copies, and a configuration of this builder's env, working directory,
    /// user, entrypoint, cmd, exposed ports and labels (the image's own where not set).
    ///
    /// Mounts are not part of it: mounted inputs, cache volumes and secret folders are bind
    /// or tmpfs mounts, which a snapshot leaves out. On a remote daemon a mounted `Dir` is
    /// uploaded into the container's file system instead, so a snapshot there is refused when
    /// the builder mounts one after a command ran.
    ///
    /// **When no command of the step ran**, no container is made at all: the image is the
    /// builder's image plus one layer holding this builder's copies, loaded into the daemon
    /// (so "copy the binary into a slim base" starts no process). Its configuration has no
    /// creation time, so the same files on the same base give the same image, id included.
    /// Otherwise the container is committed (`docker commit`), its `tanto.*` labels blanked.
    ///
    /// Reproducible for copies when no command ran: the copies are written with the
    /// modification time 0 (as `SOURCE_DATE_EPOCH=0`), in sorted order, and so are the
    /// folders above them (mode 0755, owned by root), so the same files copied onto the same
    /// image make the same content digest, and the steps that take the image stay cached.
    /// After a command the image is the container exactly as the commands left it: the
    /// copies keep the times they were copied with (what a command changed or removed stays
    /// changed or removed), so the image is new whenever a copy's time is, and what commands
    /// wrote keeps the times they gave it. Snapshot a builder that only copies, in a step of
    /// its own, for an image the same files always make the same.
    ///
    /// The layer of copies is bounded like a capture, by
    /// [`with_max_output`](Self::with_max_output): larger, it is
    /// [`Error::OutputTooLarge`].
    ///
    /// ```no_run
    /// use tanto::prelude::*;
    ///
    /// #[step(image = "tanto-test/busybox:latest")]
    /// async fn package(ctx: &Ctx, bin: File) -> Result<Image> {
    ///     ctx.container()
    ///         .with_file("/app", &bin)
    ///         .with_entrypoint(["/app"])
    ///         .with_exposed_port("8080")
    ///         .snapshot()
    ///         .await
    /// }
    /// ```
    pub async fn snapshot(&self) -> Result<Image> {
        let ran_nothing = matches!(*self.ctx.container_state().slot.lock().await, Slot::Empty);
        if ran_nothing {
            return self.guarded(self.layered()).await;
        }
        let uploads_mount = self
            .spec
            .mounts
            .iter()
            .any(|m| matches!(m.kind, MountKind::Dir(_)));
        if uploads_mount && !self.ctx.run().backend.is_local() {
            return Err(Error::Usage(format!(
                "step `{}`: cannot snapshot a container with a mounted folder on a remote daemon (the folder is uploaded into it); use `with_dir` for what the image should hold",
                self.ctx.label()
            )));
        }
        self.guarded(async {
            let (id, _) = self.live().await?;
            // Written again over what a command changed, the copies would undo it: their
            // times are pinned only in a container no command ran in.
            let commands = &self.ctx.container_state().commands;
            if commands.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                self.pin_copy_times(&id).await?;
            }
            let content = self.ctx.run().backend.commit(&id, &self.settings()).await?;
            self.ctx.made_image(&content.id);
            Ok(Image::new(content.id, content.digest))
        })
        .await
    }

    /// The builder's image plus a layer of its copies, made without a container.
    async fn layered(&self) -> Result<Image> {
        let image = self.checked_image()?;
        let run = self.ctx.run();
        let log = |line: &str| {
            tracing::info!("step `{}`: {line}", self.ctx.label());
            self.ctx.note(line);
        };
        let base = run.resolve_image(image, &log).await?.to_string();
        self.ctx.used_image(image, &base);
        let layer = self.copies_layer().await?;
        let content = run
            .backend
            .add_layer(&base, layer.as_ref().map(|l| &l.file), &self.settings())
            .await?;
        if content.id != base {
            self.ctx.made_image(&content.id);
        }
        Ok(Image::new(content.id, content.digest))
    }

    /// The image settings this builder declares.
    fn settings(&self) -> ImageSettings {
        let decl = &self.spec.image_config;
        ImageSettings {
            entrypoint: decl.entrypoint.clone(),
            cmd: decl.cmd.clone(),
            env: self.spec.env.clone(),
            workdir: self.spec.workdir.clone(),
            user: self.spec.user.clone(),
            exposed_ports: decl.exposed_ports.clone(),
            labels: decl.labels.clone(),
        }
    }
}

impl crate::step::Ctx {
    /// Has the store remember image `id`, which this step made, for `cache prune` to remove
    /// from the daemon unless a kept result names it by then: so an image whose step fails
    /// after making it, or that the step never returns, is not left behind. One a result
    /// records stays while the result does (a prune forgets it then).
    fn made_image(&self, id: &str) {
        if let Err(e) = self.run().store.remember_made_image(id) {
            tracing::warn!(
                "step `{}`: image {id} is not remembered for `cache prune`: {e}",
                self.label()
            );
        }
    }

    /// Pushes `image` to a registry as `reference` (`host:port/name:tag`, checked when the
    /// [`PushTarget`] was made), logging in as
    /// `username` with `password`, and returns the pushed manifest's digest (`sha256:…`),
    /// by which `docker pull host:port/name@sha256:…` finds it again; the image keeps
    /// `reference` as a tag in the daemon, as after `docker push`. The password reaches
    /// the daemon only in the push's auth header; it is never in a log, an event or an error.
    ///
    /// A registry that is down or refuses the credentials is an error naming the registry and
    /// the daemon's reason. Use it from a `side_effect` step.
    pub async fn push_image(
        &self,
        image: &Image,
        reference: &PushTarget,
        username: &str,
        password: &crate::artifact::Secret,
    ) -> Result<String> {
        let reference = reference.as_str();
        self.note(format!("pushing {} to {reference}", image.id()));
        let backend = &self.run().backend;
        let digest = backend
            .push_image(image.id(), reference, username, password)
            .await?;
        self.note(format!("pushed {reference}@{digest}"));
        Ok(digest)
    }
}
