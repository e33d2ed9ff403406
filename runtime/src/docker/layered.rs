//! Images made without a container: a base image plus one layer of files, written as a
//! `docker load` archive that holds only what the daemon lacks (on Docker).
//!
//! Why a load and not a commit of a created (never started) container: a load needs no
//! container at all (nothing to label, remove or reap, no lease), works the same on a remote
//! daemon, and lets tanto write the image's configuration itself, without a creation time,
//! so the image id (the SHA-256 of that configuration) is the same whenever the same files are
//! put on the same base: a second build is a no-op for the daemon. The daemon's load takes a
//! layer it already holds (found by its chain id) without reading its file, so the archive
//! carries the new layer alone, never the base's, and costs the size of the files added.
//! Podman's load reads every layer from the archive, so there the base's layers go in it
//! too ([`whole`](super::whole)), under the same configuration: the same image id and content.

use std::collections::BTreeMap;

use bollard::models::{BuildInfo, ImageInspect};
use bollard::query_parameters::{ImportImageOptions, ImportImageOptionsBuilder};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::docker::DockerBackend;
use crate::docker::request::{docker_error, server_message, status};
use crate::engine::backend::{ImageBackend, ImageContent, ImageSettings, LayerFile};
use tanto_engine::{Error, Result};

/// The creation time every layered image records: the Unix epoch, as
/// `SOURCE_DATE_EPOCH=0` would set it.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// Loads image `base` plus `layer` (an uncompressed tar, when there is one) with `settings`
/// into the daemon, and returns its content. The layer's file is streamed to the daemon.
pub(super) async fn add_layer(
    backend: &DockerBackend,
    base: &str,
    layer: Option<&LayerFile>,
    settings: &ImageSettings,
) -> Result<ImageContent> {
    let base = Base {
        layers_of: base,
        config_of: None,
    };
    load_onto(
        backend,
        base,
        layer,
        settings,
        "tanto: files added without a container",
    )
    .await
}

/// Loads the committed image `id` again under a configuration tanto writes itself: the same
/// layers and settings, without what a commit records of the container it came from
/// (`container` and `container_config`, whose labels name the host, its boot and the
/// process that ran the step), which every push and export of the image would otherwise
/// carry. The committed image stays, for the caller to remove.
///
/// With `configured` (`(image, settings)`), the configuration is instead that of `image`
/// (the one the container was created from) with `settings` applied: for Podman, whose commit
/// takes none of the configuration it is asked for and keeps the container's (its keep-alive
/// as the entrypoint, its labels), so only its layers are the commit's.
pub(super) async fn without_container(
    backend: &DockerBackend,
    id: &str,
    configured: Option<(&str, &ImageSettings)>,
) -> Result<ImageContent> {
    let default = ImageSettings::default();
    let (config_of, settings) = match configured {
        Some((image, settings)) => (Some(image), settings),
        None => (None, &default),
    };
    let base = Base {
        layers_of: id,
        config_of,
    };
    load_onto(
        backend,
        base,
        None,
        settings,
        "tanto: a step's container, committed",
    )
    .await
}

/// The images a layered image is made from: its layers are `layers_of`'s, its configuration
/// (before the settings) is `config_of`'s, or `layers_of`'s too.
#[derive(Clone, Copy)]
struct Base<'a> {
    layers_of: &'a str,
    config_of: Option<&'a str>,
}

/// Inspects image `image`; a missing one is [`Error::ImageUnavailable`].
async fn inspect_image(backend: &DockerBackend, image: &str) -> Result<ImageInspect> {
    match backend.docker.inspect_image(image).await {
        Ok(image) => Ok(image),
        Err(e) if status(&e) == Some(404) => Err(Error::ImageUnavailable {
            image: image.to_owned(),
            cause: "the daemon does not have it".into(),
        }),
        Err(e) => Err(docker_error(
            &backend.endpoint,
            &format!("inspect image {image}"),
            &e,
        )),
    }
}

async fn load_onto(
    backend: &DockerBackend,
    base: Base<'_>,
    layer: Option<&LayerFile>,
    settings: &ImageSettings,
    created_by: &str,
) -> Result<ImageContent> {
    let inspected = inspect_image(backend, base.layers_of).await?;
    let configured = match base.config_of {
        Some(image) => inspect_image(backend, image).await?,
        None => inspected.clone(),
    };
    let base_id = inspected.id.as_deref().unwrap_or(base.layers_of);
    let base = base.layers_of;
    let mut diff_ids: Vec<String> = (inspected.root_fs.as_ref())
        .and_then(|r| r.layers.clone())
        .unwrap_or_default();
    let held = diff_ids.len();
    if let Some(layer) = layer {
        diff_ids.push(layer.diff_id.clone());
    }
    let mut base_config = serde_json::to_value(&configured.config).unwrap_or_default();
    // The image's parent and the host name a container had, never this image's own.
    if let Some(config) = base_config.as_object_mut() {
        config.remove("Image");
        config.remove("Hostname");
    }
    let mut image = json!({
        "architecture": configured.architecture,
        "os": configured.os,
        "created": CREATED,
        "config": merged_config(base_config, settings),
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [{ "created": CREATED, "created_by": created_by }],
    });
    if let Some(variant) = &configured.variant {
        image["variant"] = json!(variant);
    }
    // `Value`'s maps are sorted: the same image makes the same bytes, and so the same id.
    let config = image.to_string().into_bytes();
    let id = format!("sha256:{}", hex(&Sha256::digest(&config)));
    if backend.podman {
        // Podman loads no archive with a layer missing: the base's go in it too.
        let parts = super::whole::Parts {
            id: &id,
            config,
            held,
            layer,
        };
        let archive = super::whole::archive(backend, base_id, parts).await?;
        let body = bollard::body_try_stream(archive.chunks);
        let loaded = send(
            backend,
            base,
            backend.docker.import_image(quiet(), body, None),
        )
        .await;
        let written = (archive.writer.await)
            .map_err(|e| Error::Other(format!("writing an image archive panicked: {e}")))?;
        // A failure to write the archive is the cause of the daemon's refusal of it (one
        // that stopped reading it is not: the writer then ends without an error).
        written?;
        loaded?;
        return loaded_content(backend, &id).await;
    }
    let head = load_archive(&id, &config, held, layer.map(|l| l.size))
        .map_err(|e| Error::io("write an image archive for the daemon", e))?;
    let body = match layer {
        Some(layer) => {
            let file = tokio::fs::File::open(&layer.path)
                .await
                .map_err(|e| Error::io("read a snapshot's layer", e))?;
            let tail = Bytes::from(vec![0; padding(layer.size) + 1024]);
            let read = futures_util::stream::try_unfold(file, |mut file| async move {
                let mut buf = vec![0; 1 << 20];
                let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((n > 0).then(|| (Bytes::from(buf), file)))
            });
            let chunks = futures_util::stream::once(async move { Ok(Bytes::from(head)) })
                .chain(read)
                .chain(futures_util::stream::once(async move { Ok(tail) }));
            bollard::body_try_stream(chunks)
        }
        None => bollard::body_full(Bytes::from(head)),
    };
    send(
        backend,
        base,
        backend.docker.import_image(quiet(), body, None),
    )
    .await?;
    loaded_content(backend, &id).await
}

/// The options of a `docker load` that answers once, not a line per layer.
fn quiet() -> ImportImageOptions {
    ImportImageOptionsBuilder::default().quiet(true).build()
}

/// Reads the daemon's answers to the `docker load` of an image made on `base`.
async fn send(
    backend: &DockerBackend,
    base: &str,
    answers: impl Stream<Item = std::result::Result<BuildInfo, bollard::errors::Error>>,
) -> Result<()> {
    let mut answers = std::pin::pin!(answers);
    while let Some(answer) = answers.next().await {
        answer.map_err(|e| match e {
            bollard::errors::Error::DockerStreamError { .. } => Error::Docker(format!(
                "the daemon at {} refused an image made from {base}: {}",
                backend.endpoint,
                server_message(&e)
            )),
            _ => docker_error(&backend.endpoint, &format!("load an image onto {base}"), &e),
        })?;
    }
    Ok(())
}

/// The content of image `id`, which the daemon was just sent.
async fn loaded_content(backend: &DockerBackend, id: &str) -> Result<ImageContent> {
    backend.image_content(id).await?.ok_or_else(|| {
        Error::Docker(format!(
            "the daemon at {} does not have image {id} right after loading it",
            backend.endpoint
        ))
    })
}

/// The base image's configuration `base` with `settings` applied the way a commit applies
/// them: variables by name, exposed ports and labels added, the rest replaced when set.
fn merged_config(base: Value, settings: &ImageSettings) -> Value {
    let mut config = match base {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut env: Vec<String> = match config.remove("Env") {
        Some(Value::Array(vars)) => (vars.into_iter())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    for (key, value) in &settings.env {
        let prefix = format!("{key}=");
        env.retain(|v| !v.starts_with(&prefix));
        env.push(format!("{key}={value}"));
    }
    if !env.is_empty() {
        config.insert("Env".into(), json!(env));
    }
    if let Some(entrypoint) = &settings.entrypoint {
        config.insert("Entrypoint".into(), json!(entrypoint));
    }
    if let Some(cmd) = &settings.cmd {
        config.insert("Cmd".into(), json!(cmd));
    }
    if let Some(workdir) = &settings.workdir {
        config.insert("WorkingDir".into(), json!(workdir));
    }
    if let Some(user) = &settings.user {
        config.insert("User".into(), json!(user));
    }
    let mut ports = object(config.remove("ExposedPorts"));
    for port in &settings.exposed_ports {
        ports.insert(port.clone(), json!({}));
    }
    if !ports.is_empty() {
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }
    let mut labels = object(config.remove("Labels"));
    let added: BTreeMap<_, _> = settings.labels.iter().collect();
    for (key, value) in added {
        labels.insert(key.clone(), json!(value));
    }
    if !labels.is_empty() {
        config.insert("Labels".into(), Value::Object(labels));
    }
    Value::Object(config)
}

fn object(value: Option<Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A `docker load` archive of image `id` whose configuration is `config`: its first `held`
/// layers are the base's, which the daemon has (named, not included), then a layer of
/// `layer` bytes when there is one. With a layer, the archive stops after that entry's header:
/// its bytes, their [`padding`] and the archive's end (1024 zero bytes) are the caller's to
/// send, so that the layer is streamed from its file.
fn load_archive(
    id: &str,
    config: &[u8],
    held: usize,
    layer: Option<u64>,
) -> std::io::Result<Vec<u8>> {
    let hex_id = id.trim_start_matches("sha256:");
    let config_name = format!("{hex_id}.json");
    let mut layers: Vec<String> = (0..held).map(|i| format!("base/{i}.tar")).collect();
    if layer.is_some() {
        layers.push("added/layer.tar".into());
    }
    let manifest = manifest(&config_name, &layers);
    let header = file_header;
    let mut out = tar::Builder::new(Vec::new());
    let mut add =
        |name: &str, bytes: &[u8]| out.append_data(&mut header(bytes.len() as u64), name, bytes);
    add("manifest.json", manifest.as_bytes())?;
    add(&config_name, config)?;
    let mut archive = out.into_inner()?;
    let Some(size) = layer else {
        return Ok(archive);
    };
    // What `into_inner` ended the archive with: the layer's entry comes before it.
    archive.truncate(archive.len() - 1024);
    let mut h = header(size);
    h.set_path("added/layer.tar")?;
    h.set_cksum();
    archive.extend_from_slice(h.as_bytes());
    Ok(archive)
}

/// The `manifest.json` of a `docker load` archive of one image, untagged, whose
/// configuration is the entry `config_name` and whose layers are the entries `layers`.
pub(super) fn manifest(config_name: &str, layers: &[String]) -> String {
    json!([{ "Config": config_name, "RepoTags": null, "Layers": layers }]).to_string()
}

/// The zero bytes that round an entry of `size` bytes up to whole 512-byte blocks.
fn padding(size: u64) -> usize {
    usize::try_from((512 - size % 512) % 512).unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The header of a file of `size` bytes in a load archive: a plain file, mode 0644, time 0.
pub(super) fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_replace_or_extend_the_base_configuration() {
        let base = json!({
            "Env": ["PATH=/bin", "MODE=base"],
            "Cmd": ["sh"],
            "ExposedPorts": { "80/tcp": {} },
            "Labels": { "from": "base" },
        });
        let settings = ImageSettings {
            entrypoint: Some(vec!["/app".into()]),
            env: vec![("MODE".into(), "app".into())],
            exposed_ports: vec!["8080/tcp".into()],
            labels: [("title".to_owned(), "app".to_owned())].into(),
            ..ImageSettings::default()
        };
        let merged = merged_config(base, &settings);
        assert_eq!(
            merged,
            json!({
                "Env": ["PATH=/bin", "MODE=app"],
                "Entrypoint": ["/app"],
                "Cmd": ["sh"],
                "ExposedPorts": { "80/tcp": {}, "8080/tcp": {} },
                "Labels": { "from": "base", "title": "app" },
            })
        );
    }

    #[test]
    fn the_archive_names_the_base_layers_and_holds_only_the_new_one() {
        let mut archive = load_archive("sha256:abc", b"{}", 2, Some(5)).unwrap();
        archive.extend_from_slice(b"layer");
        archive.extend(std::iter::repeat_n(0, padding(5) + 1024));
        let mut tar = tar::Archive::new(&archive[..]);
        let mut names = Vec::new();
        let mut manifest = String::new();
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            if name == "manifest.json" {
                std::io::Read::read_to_string(&mut entry, &mut manifest).unwrap();
            }
            names.push(name);
        }
        assert_eq!(names, ["manifest.json", "abc.json", "added/layer.tar"]);
        let manifest: Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(
            manifest[0]["Layers"],
            json!(["base/0.tar", "base/1.tar", "added/layer.tar"])
        );
    }
}
