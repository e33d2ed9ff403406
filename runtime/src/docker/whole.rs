//! The `docker load` archive of a layered image with its base's layers in it, for a daemon
//! that loads no archive with a layer missing: Podman, whose loader reads every layer the
//! manifest names from the archive, where Docker's takes the ones it holds from its store
//! (see [`layered`](super::layered)).
//!
//! The base's layers come from the daemon itself, as `docker save` gives them (saved by id,
//! into an unnamed temporary file, since the save's manifest, which says which entry is which
//! layer, comes last). The archive is then written as it is sent, a chunk at a time, from a
//! blocking thread: the base's entries as saved, the new layer from its file, then tanto's own
//! configuration and a manifest naming the base's layers and the new one. The configuration,
//! and so the image id and content digest, are those of [`layered`](super::layered)'s archive
//! for Docker: only the way its layers reach the daemon differs.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::docker::DockerBackend;
use crate::engine::backend::LayerFile;
use tanto_engine::{Error, Result};

/// How many bytes each chunk sent to the daemon holds (the last one fewer).
const CHUNK: usize = 1 << 20;

/// How many chunks may wait for the daemon to read them.
const QUEUED: usize = 4;

/// The archive being written, as the chunks of a request body, and the thread that writes
/// it, whose error is the cause when the daemon's answer is a failure.
pub(super) struct Archive {
    pub(super) chunks: BoxStream<'static, std::io::Result<Bytes>>,
    pub(super) writer: JoinHandle<Result<()>>,
}

/// What goes into the archive besides the base's layers.
pub(super) struct Parts<'a> {
    /// The image's id, `sha256:…`: the SHA-256 of `config`.
    pub(super) id: &'a str,
    /// Its configuration, as written by [`layered`](super::layered).
    pub(super) config: Vec<u8>,
    /// How many layers the base has, as its configuration names them.
    pub(super) held: usize,
    /// The layer added on the base, if any.
    pub(super) layer: Option<&'a LayerFile>,
}

/// Saves image `base` (by id) from the daemon and starts writing the archive of `parts` on
/// it, its layers included.
pub(super) async fn archive(
    backend: &DockerBackend,
    base: &str,
    parts: Parts<'_>,
) -> Result<Archive> {
    let saved = tempfile::NamedTempFile::new()
        .map_err(|e| Error::io("create a temporary file for an image's layers", e))?;
    super::transfer::export(backend, base, saved.path()).await?;
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(QUEUED);
    let job = Job {
        base: base.to_owned(),
        config_name: format!("{}.json", parts.id.trim_start_matches("sha256:")),
        config: parts.config,
        held: parts.held,
        layer: parts.layer.map(|l| (l.path.clone(), l.size)),
    };
    let writer = tokio::task::spawn_blocking(move || {
        match job.write(saved.path(), tx.clone()) {
            // The request ended (the daemon refused the archive, or the step was cancelled):
            // what the daemon answered says why.
            Err(_) if tx.is_closed() => Ok(()),
            Err(e) => {
                // The daemon must see the body fail, not end as if the archive were whole.
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
            Ok(()) => Ok(()),
        }
    });
    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(Archive {
        chunks: chunks.boxed(),
        writer,
    })
}

/// Everything the writing thread needs, owned.
struct Job {
    /// The base image, for errors.
    base: String,
    /// The entry that holds the configuration: `HEX.json`.
    config_name: String,
    config: Vec<u8>,
    held: usize,
    /// The added layer's file and size.
    layer: Option<(PathBuf, u64)>,
}

/// Where the added layer goes in the archive.
const ADDED: &str = "added/layer.tar";

impl Job {
    /// Writes the archive, from the base's save at `saved`, into `tx` in chunks.
    fn write(self, saved: &Path, tx: mpsc::Sender<std::io::Result<Bytes>>) -> Result<()> {
        let io = |e| Error::io("write an image archive for the daemon", e);
        let read = |e| Error::io(format!("read the saved image {}", self.base), e);
        let file = std::fs::File::open(saved).map_err(read)?;
        let mut input = tar::Archive::new(BufReader::new(file));
        let mut out = tar::Builder::new(Sending {
            tx,
            buf: Vec::with_capacity(CHUNK),
        });
        let mut base_layers: Option<Vec<String>> = None;
        for entry in input.entries().map_err(read)? {
            let mut entry = entry.map_err(read)?;
            let path = entry.path().map_err(read)?.into_owned();
            let name = path.to_string_lossy();
            let name = name.trim_start_matches("./");
            if name == "manifest.json" {
                let manifest: serde_json::Value = serde_json::from_reader(&mut entry)
                    .map_err(|e| self.refused(format!("an unreadable manifest: {e}")))?;
                let layers = (manifest[0]["Layers"].as_array().into_iter().flatten())
                    .map(|l| l.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>();
                base_layers = Some(layers.ok_or_else(|| self.refused("a layer unnamed".into()))?);
                continue;
            }
            // Its tags and configuration are the base's, never this image's.
            if name == "repositories" || name == self.config_name || name == ADDED {
                continue;
            }
            let mut header = entry.header().clone();
            match entry.link_name().map_err(read)? {
                Some(target)
                    if header.entry_type().is_symlink() || header.entry_type().is_hard_link() =>
                {
                    let target = target.into_owned();
                    out.append_link(&mut header, &path, target).map_err(io)?;
                }
                _ => out
                    .append_data(&mut header, &path, &mut entry)
                    .map_err(io)?,
            }
        }
        let mut layers = base_layers.ok_or_else(|| self.refused("no manifest.json".into()))?;
        if layers.len() != self.held {
            return Err(self.refused(format!(
                "{} layers, where its configuration names {}",
                layers.len(),
                self.held
            )));
        }
        let header = super::layered::file_header;
        if let Some((path, size)) = &self.layer {
            let file =
                std::fs::File::open(path).map_err(|e| Error::io("read a snapshot's layer", e))?;
            // No more than its size, should the file have grown since it was hashed.
            let bytes = std::io::Read::take(BufReader::new(file), *size);
            out.append_data(&mut header(*size), ADDED, bytes)
                .map_err(io)?;
            layers.push(ADDED.to_owned());
        }
        let manifest = super::layered::manifest(&self.config_name, &layers);
        (out.append_data(
            &mut header(self.config.len() as u64),
            &self.config_name,
            &self.config[..],
        ))
        .map_err(io)?;
        (out.append_data(
            &mut header(manifest.len() as u64),
            "manifest.json",
            manifest.as_bytes(),
        ))
        .map_err(io)?;
        out.into_inner().map_err(io)?.flush().map_err(io)
    }

    /// The error for a save of the base that cannot be used: it holds `what`.
    fn refused(&self, what: String) -> Error {
        Error::Docker(format!(
            "the daemon saved image {} with {what}, so no image can be made on it",
            self.base
        ))
    }
}

/// Writes into the channel to the request body, a [`CHUNK`] at a time.
struct Sending {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Sending {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the image",
            )
        })
    }
}

impl Write for Sending {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}
