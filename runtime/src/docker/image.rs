//! Images as values: committing a container, an image's content identity, saving it as a
//! `docker load`-able tarball, pushing it to a registry, removing it, and reclaiming one no
//! cached result names.

use std::collections::HashMap;
use std::path::Path;

use bollard::auth::DockerCredentials;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::docker::DockerBackend;
use crate::docker::request::{
    DOCKER_HUB, docker_error, registry_of, server_message, split_reference, status,
};
use crate::engine::backend::{ImageBackend, ImageContent, ImageSettings, LayerFile, Reclaimed};
use tanto_engine::Digest;
use tanto_engine::Secret;
use tanto_engine::{Error, Result};

/// The content digest of an inspected image.
fn content_digest(image: &bollard::models::ImageInspect) -> Digest {
    // Through `Value`, whose maps are sorted: a canonical encoding of the configuration.
    let config = serde_json::to_value(&image.config).unwrap_or_default();
    let layers = image.root_fs.as_ref().and_then(|r| r.layers.clone());
    let record = serde_json::json!({
        "layers": layers.unwrap_or_default(),
        "os": image.os,
        "architecture": image.architecture,
        "variant": image.variant,
        "config": config,
    });
    let mut h = blake3::Hasher::new();
    h.update(b"tanto-image\0");
    h.update(record.to_string().as_bytes());
    h.finalize().into()
}

impl ImageBackend for DockerBackend {
    fn commit<'a>(
        &'a self,
        id: &'a str,
        settings: &'a ImageSettings,
    ) -> BoxFuture<'a, Result<ImageContent>> {
        async move {
            // Read as plain JSON: a container whose own process ended (a single command run
            // as PID 1) is `stopped` on Podman, a state bollard's typed inspect cannot read.
            let container = self
                .inspect(id)
                .await
                .map_err(|e| docker_error(&self.endpoint, "inspect a container", &e))?;
            let base = self
                .docker
                .inspect_image(container.image())
                .await
                .map_err(|e| docker_error(&self.endpoint, "inspect an image", &e))?;
            let base = base.config.unwrap_or_default();
            let mut labels: HashMap<String, String> = (container.labels())
                .into_keys()
                .filter(|k| k.starts_with("tanto."))
                .map(|k| (k, String::new()))
                .collect();
            labels.extend(settings.labels.clone());
            let env: Vec<String> = settings
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let config = ContainerConfig {
                // Always given: left out, the container's keep-alive would become the image's.
                entrypoint: Some(
                    settings
                        .entrypoint
                        .clone()
                        .or(base.entrypoint)
                        .unwrap_or_default(),
                ),
                cmd: settings.cmd.clone().or(base.cmd),
                env: (!env.is_empty()).then_some(env),
                working_dir: settings.workdir.clone(),
                user: settings.user.clone(),
                exposed_ports: (!settings.exposed_ports.is_empty())
                    .then(|| settings.exposed_ports.clone()),
                labels: Some(labels),
                ..Default::default()
            };
            let options = CommitContainerOptionsBuilder::default()
                .container(id)
                .pause(true)
                .build();
            let committed = self
                .docker
                .commit_container(options, config.clone())
                .await
                .map_err(|e| docker_error(&self.endpoint, "commit a container", &e))?;
            // Podman's commit keeps the container's configuration whatever it is asked for:
            // its layers go under the configuration a commit on Docker is asked for.
            let podman_settings = ImageSettings {
                labels: config
                    .labels
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                ..settings.clone()
            };
            let configured = (self.podman).then_some((container.image(), &podman_settings));
            let clean = super::layered::without_container(self, &committed.id, configured).await;
            // The commit itself has no tag and nothing else uses it.
            if let Err(e) = self.remove_image(&committed.id).await {
                tracing::warn!("could not remove the commit {}: {e}", committed.id);
            }
            clean
        }
        .boxed()
    }

    fn add_layer<'a>(
        &'a self,
        base: &'a str,
        layer: Option<&'a LayerFile>,
        settings: &'a ImageSettings,
    ) -> BoxFuture<'a, Result<ImageContent>> {
        super::layered::add_layer(self, base, layer, settings).boxed()
    }

    fn image_content<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageContent>>> {
        async move {
            match self.docker.inspect_image(reference).await {
                Ok(image) => Ok(Some(ImageContent {
                    digest: content_digest(&image),
                    id: image.id.unwrap_or_default(),
                })),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(docker_error(
                    &self.endpoint,
                    &format!("inspect image {reference}"),
                    &e,
                )),
            }
        }
        .boxed()
    }

    fn save_image<'a>(
        &'a self,
        id: &'a str,
        tag: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            // Saved by id, then named in the tarball's manifest: a tag in the daemon could not
            // be taken back, since removing an image's last tag removes the image.
            let raw = tempfile::Builder::new()
                .prefix(".tanto-save-")
                .tempfile_in(dest.parent().unwrap_or(Path::new(".")))
                .map_err(|e| Error::io(format!("create a file beside {}", dest.display()), e))?;
            write_stream(self, id, raw.path()).await?;
            let (tag, dest) = (tag.to_owned(), dest.to_owned());
            tokio::task::spawn_blocking(move || name_tarball(raw.path(), &tag, &dest))
                .await
                .map_err(|e| Error::Other(format!("writing an image tarball panicked: {e}")))?
        }
        .boxed()
    }

    fn push_image<'a>(
        &'a self,
        id: &'a str,
        reference: &'a str,
        username: &'a str,
        password: &'a Secret,
    ) -> BoxFuture<'a, Result<String>> {
        async move {
            let (repo, version) = split_reference(reference);
            let registry = registry_of(repo).to_owned();
            let tag = version.unwrap_or("latest");
            // Tagged before the push, as `docker push` needs; the tag stays either way (below).
            let failed = |cause: String| {
                let hint = push_hint(&cause, reference, &registry, repo, username);
                Error::Other(format!(
                    "cannot push {reference} to registry {registry}: {cause}{hint}; the image stays tagged {repo}:{tag} in the daemon, as after `docker tag` (`docker rmi {repo}:{tag}` removes the tag, and the image with it when that is its only tag: its step then runs again)"
                ))
            };
            let options = TagImageOptionsBuilder::default()
                .repo(repo)
                .tag(tag)
                .build();
            self.docker
                .tag_image(id, Some(options))
                .await
                .map_err(|e| docker_error(&self.endpoint, &format!("tag image {id}"), &e))?;
            let credentials = DockerCredentials {
                username: Some(username.to_owned()),
                password: Some(crate::engine::backend::expose(password).to_owned()),
                serveraddress: Some(registry.clone()),
                ..Default::default()
            };
            let options = PushImageOptionsBuilder::default().tag(tag).build();
            let mut stream = self
                .docker
                .push_image(repo, Some(options), Some(credentials));
            let mut digest = None;
            let mut outcome = Ok(());
            while let Some(info) = stream.next().await {
                match info {
                    Ok(info) => {
                        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                            outcome = Err(failed(detail));
                            break;
                        }
                        // The last status line reads `TAG: digest: sha256:… size: N`.
                        if let Some(status) = info.status
                            && let Some((_, rest)) = status.split_once("digest: ")
                        {
                            digest = rest.split_whitespace().next().map(str::to_owned);
                        }
                    }
                    Err(e) => {
                        outcome = Err(failed(server_message(&e)));
                        break;
                    }
                }
            }
            // The tag stays, as after `docker push`: removing an image's last tag would
            // remove the image, and with it the cached result of the step that made it.
            outcome?;
            digest.ok_or_else(|| failed("the registry reported no manifest digest".into()))
        }
        .boxed()
    }

    fn remove_image<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            let options = RemoveImageOptionsBuilder::default().build();
            match self
                .docker
                .remove_image(reference, Some(options), None)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if status(&e) == Some(404) => Ok(()),
                Err(e) => Err(docker_error(
                    &self.endpoint,
                    &format!("remove image {reference}"),
                    &e,
                )),
            }
        }
        .boxed()
    }

    fn reclaim_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Reclaimed>> {
        async move {
            let doing = format!("remove image {id}");
            let image = match self.docker.inspect_image(id).await {
                Ok(image) => image,
                Err(e) if status(&e) == Some(404) => return Ok(Reclaimed::Gone),
                Err(e) => return Err(docker_error(&self.endpoint, &doing, &e)),
            };
            // Removing an image by id removes its only tag with it: a tagged image is left.
            let tags: Vec<String> = image
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect();
            if !tags.is_empty() {
                return Ok(Reclaimed::Tagged(tags));
            }
            let size = image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
            let options = RemoveImageOptionsBuilder::default()
                .force(false)
                .noprune(false)
                .build();
            match self.docker.remove_image(id, Some(options), None).await {
                Ok(_) => Ok(Reclaimed::Removed { size }),
                Err(e) if status(&e) == Some(404) => Ok(Reclaimed::Gone),
                Err(e) if status(&e) == Some(409) => Ok(Reclaimed::InUse(server_message(&e))),
                Err(e) => Err(docker_error(&self.endpoint, &doing, &e)),
            }
        }
        .boxed()
    }

    fn image_size<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<u64>>> {
        async move {
            match self.docker.inspect_image(id).await {
                Ok(image) => Ok(Some(
                    image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                )),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(docker_error(
                    &self.endpoint,
                    &format!("inspect image {id}"),
                    &e,
                )),
            }
        }
        .boxed()
    }

    fn export_image<'a>(&'a self, id: &'a str, dest: &'a Path) -> BoxFuture<'a, Result<()>> {
        super::transfer::export(self, id, dest).boxed()
    }

    fn load_image<'a>(
        &'a self,
        tarball: &'a Path,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ImageContent>> {
        super::transfer::load(self, tarball, id).boxed()
    }
}

/// Streams `docker save` of `reference` into the file `dest`.
async fn write_stream(backend: &DockerBackend, reference: &str, dest: &Path) -> Result<()> {
    let io = |what: &str, e| Error::io(format!("{what} {}", dest.display()), e);
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| io("create", e))?;
    let mut stream = backend.docker.export_image(reference);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| docker_error(&backend.endpoint, &format!("save image {reference}"), &e))?;
        file.write_all(&chunk).await.map_err(|e| io("write", e))?;
    }
    file.flush().await.map_err(|e| io("write", e))
}

/// Copies the `docker save` tarball `raw` to `dest` with `tag` as the name of its image in
/// `manifest.json`, through a temporary file beside `dest`.
fn name_tarball(raw: &Path, tag: &str, dest: &Path) -> Result<()> {
    let io = |what: &str, e| Error::io(format!("{what} {}", dest.display()), e);
    let dir = dest.parent().unwrap_or(Path::new("."));
    let partial =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| io("create a file beside", e))?;
    let reader = std::fs::File::open(raw).map_err(|e| io("read the image saved for", e))?;
    let mut input = tar::Archive::new(std::io::BufReader::new(reader));
    let mut output = tar::Builder::new(std::io::BufWriter::new(partial.as_file()));
    let mut named = false;
    for entry in input
        .entries()
        .map_err(|e| io("read the image saved for", e))?
    {
        let mut entry = entry.map_err(|e| io("read the image saved for", e))?;
        let mut header = entry.header().clone();
        if entry.path_bytes().as_ref() == b"manifest.json" {
            let mut manifest: serde_json::Value =
                serde_json::from_reader(&mut entry).map_err(|e| {
                    Error::Docker(format!("the daemon saved an unreadable manifest: {e}"))
                })?;
            for image in manifest.as_array_mut().into_iter().flatten() {
                image["RepoTags"] = serde_json::json!([tag]);
                named = true;
            }
            let bytes = manifest.to_string().into_bytes();
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            output
                .append(&header, bytes.as_slice())
                .map_err(|e| io("write", e))?;
        } else {
            output
                .append(&header, &mut entry)
                .map_err(|e| io("write", e))?;
        }
    }
    output.into_inner().map_err(|e| io("write", e))?;
    if !named {
        return Err(Error::Docker(
            "the daemon saved an image without a manifest.json".into(),
        ));
    }
    // Readable by all, as every file `--out` writes (the temporary file is private).
    let public = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    partial
        .as_file()
        .set_permissions(public)
        .map_err(|e| io("write", e))?;
    partial
        .persist(dest)
        .map_err(|e| io("rename into", e.error))?;
    Ok(())
}

/// What a push's failure means for the step, from the registry's words as the daemon passes
/// them on: `cause`, for a push of `reference` to `registry` as `username`.
fn push_hint(cause: &str, reference: &str, registry: &str, repo: &str, username: &str) -> String {
    let refused = ["unauthorized", "authentication required", "denied"];
    let unreachable = ["connection refused", "no such host", "i/o timeout"];
    let slow = [
        "context deadline exceeded",
        "timeout exceeded",
        "timeout awaiting response",
    ];
    let lower = cause.to_lowercase();
    let said = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if said(&refused) {
        format!(
            " (the registry refused user `{username}` with the password given: check both, and that the user may push to {repo})"
        )
    } else if registry == DOCKER_HUB && !reference.starts_with(DOCKER_HUB) && said(&unreachable) {
        format!(
            " (`{reference}` names no registry, so it goes to Docker Hub, which the daemon cannot reach: to push to a registry of your own, put its host first, `HOST:PORT/{reference}`)"
        )
    } else if said(&unreachable) {
        format!(
            " (no registry answers at {registry}, as the daemon sees it: start it, or check the host and port of the reference)"
        )
    } else if said(&slow) {
        format!(
            " (something at {registry} took the connection but did not answer in time, as the daemon sees it: check that a registry listens there, and that it is not stuck)"
        )
    } else {
        String::new()
    }
}
