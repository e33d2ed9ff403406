//! Reproducible snapshots: the builder's copies as a layer with one fixed modification time
//! on every entry and on the folders above them, so the same files make the same layer
//! whenever they are copied; loaded as the image's new layer when no container ran, or
//! written into a container that no command touched before it is committed.
//!
//! The layer is written in one pass as the copies are archived, into a file in the store's
//! staging folder (never whole in memory), and bounded like a capture: by the builder's
//! `max_output`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};

use crate::backend::{LayerFile, TarStream, archive};
use crate::error::{Error, Result};
use crate::report::human_bytes;
use crate::step::container::{Container, owner_of};
use crate::step::mount::copy_entries;

/// The modification time every copied entry of a snapshot gets: the Unix epoch, as
/// `SOURCE_DATE_EPOCH=0` would set it.
pub(crate) const LAYER_MTIME: u64 = 0;

/// A snapshot's layer of copies, in a staging folder of the store that goes when it does.
pub(super) struct Layer {
    _staging: tempfile::TempDir,
    pub(super) file: LayerFile,
}

impl Container {
    /// Writes this builder's copies into container `id` again, with [`LAYER_MTIME`] on every
    /// entry and on each folder above them. Only for a container no command ran in: over
    /// what a command changed, it would put back the copies as they were.
    pub(super) async fn pin_copy_times(&self, id: &str) -> Result<()> {
        let Some(layer) = self.copies_layer().await? else {
            return Ok(());
        };
        let file = tokio::fs::File::open(&layer.file.path)
            .await
            .map_err(|e| Error::io("read the copies of a snapshot", e))?;
        self.ctx.run().backend.upload(id, chunks_of(file)).await
    }

    /// This builder's copies as one tar archive, sorted, with [`LAYER_MTIME`] on every entry
    /// and a folder entry for each folder above them: a layer that is the same bytes whenever
    /// the same files are copied. `None` when the builder copies nothing. A layer larger than
    /// the builder's `max_output` is [`Error::OutputTooLarge`], as soon as it gets there.
    pub(super) async fn copies_layer(&self) -> Result<Option<Layer>> {
        if self.spec.copies.is_empty() {
            return Ok(None);
        }
        let copies = (self.spec.copies.iter())
            .map(|c| (c.target.clone(), c.source.clone()))
            .collect();
        let entries = copy_entries(self.ctx.run(), copies).await?;
        let targets: Vec<String> = entries.iter().map(|e| e.target.clone()).collect();
        let limit = (self.spec.max_output).unwrap_or(self.ctx.step().settings.max_output);
        let too_large = Error::OutputTooLarge {
            step: self.ctx.label().to_owned(),
            path: targets.join(", "),
            limit: human_bytes(limit),
        };
        let staging = self.ctx.run().store.temp_dir()?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        // The staging folder goes with the writer, so that a snapshot abandoned half way (a
        // deadline, Ctrl-C) removes it only after the writer stopped, which it does at the
        // next chunk: the channel is closed.
        let writer = tokio::task::spawn_blocking(move || {
            let path = staging.path().join("layer.tar");
            let written = spool(archive::ChannelReader::new(rx), &targets, &path, limit);
            (staging, path, written)
        });
        let mut tar = archive::copies_tar(entries, owner_of(self.spec.user.as_deref()));
        let mut failed = None;
        while let Some(chunk) = tar.next().await {
            match chunk {
                // Closed when the writer stopped; its own result says why.
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(Error::io("write the copies of a snapshot", e));
                    break;
                }
            }
        }
        drop((tar, tx));
        let (staging, path, written) = writer
            .await
            .map_err(|e| Error::Other(format!("writing a snapshot's layer panicked: {e}")))?;
        if let Some(e) = failed {
            return Err(e);
        }
        match written {
            Ok((size, diff_id)) => Ok(Some(Layer {
                _staging: staging,
                file: LayerFile {
                    path,
                    size,
                    diff_id,
                },
            })),
            Err(Spool::TooLarge) => Err(too_large),
            Err(Spool::Failed(e)) => Err(Error::io("write the copies of a snapshot", e)),
        }
    }
}

/// What `file` holds, read in chunks as it is sent.
fn chunks_of(file: tokio::fs::File) -> TarStream {
    Box::pin(futures_util::stream::try_unfold(
        file,
        |mut file| async move {
            let mut buf = vec![0; 1 << 20];
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
            buf.truncate(n);
            Ok((n > 0).then(|| (bytes::Bytes::from(buf), file)))
        },
    ))
}

/// Why a layer was not written.
#[derive(Debug)]
enum Spool {
    /// It came to more than the limit.
    TooLarge,
    /// Reading the copies or writing the file failed.
    Failed(io::Error),
}

/// Writes the archive `input` to a new file at `path` with its times pinned ([`pin_times`]),
/// and returns the file's size and diff id (`sha256:…` of its bytes); stops as soon as it
/// would pass `limit` bytes.
fn spool(
    input: impl Read,
    targets: &[String],
    path: &Path,
    limit: u64,
) -> Result<(u64, String), Spool> {
    let file = fs::File::create(path).map_err(Spool::Failed)?;
    let counted = Counted::new(BufWriter::new(file), limit);
    let mut counted = match pin_times(input, targets, counted) {
        Ok(counted) => counted,
        Err(PinError { over: true, .. }) => return Err(Spool::TooLarge),
        Err(PinError { error, .. }) => return Err(Spool::Failed(error)),
    };
    counted.out.flush().map_err(Spool::Failed)?;
    let hex: String = (counted.hash.finalize().iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((counted.written, format!("sha256:{hex}")))
}

/// A writer that hashes and counts what it writes, and refuses to pass a limit.
struct Counted<W> {
    out: W,
    hash: Sha256,
    written: u64,
    limit: u64,
    over: bool,
}

impl<W> Counted<W> {
    fn new(out: W, limit: u64) -> Self {
        Self {
            out,
            hash: Sha256::new(),
            written: 0,
            limit,
            over: false,
        }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.written + data.len() as u64 > self.limit {
            self.over = true;
            return Err(io::Error::other("the layer is larger than the limit"));
        }
        let n = self.out.write(data)?;
        self.hash.update(&data[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A failed [`pin_times`], and whether its writer had reached its limit.
struct PinError {
    error: io::Error,
    over: bool,
}

/// Writes the archive `input` to `out` with every entry's modification time set to
/// [`LAYER_MTIME`], after a folder entry (mode 0755, or 1777 for the usual temporary
/// folders, owned by root) for each folder above the `targets`. Names and link targets are
/// kept whole, however long (the long ones as GNU long-name and long-link records).
fn pin_times<W: Write>(
    input: impl Read,
    targets: &[String],
    out: Counted<W>,
) -> Result<Counted<W>, PinError> {
    let mut builder = tar::Builder::new(out);
    let written = pin_into(&mut builder, input, targets).and_then(|()| builder.finish());
    let over = builder.get_ref().over;
    match written {
        Ok(()) => builder
            .into_inner()
            .map_err(|error| PinError { error, over }),
        Err(error) => Err(PinError { error, over }),
    }
}

fn pin_into<W: Write>(
    out: &mut tar::Builder<W>,
    input: impl Read,
    targets: &[String],
) -> io::Result<()> {
    let mut parents = BTreeSet::new();
    for target in targets {
        let mut dir = Path::new(target.trim_start_matches('/')).parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            parents.insert(d.to_path_buf());
            dir = d.parent();
        }
    }
    for dir in &parents {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if is_temp(dir) { 0o1777 } else { 0o755 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h.set_mtime(LAYER_MTIME);
        out.append_data(&mut h, dir, io::empty())?;
    }
    let mut input = tar::Archive::new(input);
    for entry in input.entries()? {
        let mut entry = entry?;
        // The header alone holds a long name's first 100 bytes: the whole one is the
        // entry's, read from the record before it.
        let path = entry.path()?.into_owned();
        let link = entry.link_name()?.map(|l| l.into_owned());
        let mut h = entry.header().clone();
        h.set_mtime(LAYER_MTIME);
        match link {
            // Byte for byte: `append_link` writes a short link to `/` as `//`.
            Some(link) if link.as_os_str().len() <= 100 => {
                h.set_link_name_literal(link.as_os_str().as_bytes())?;
                out.append_data(&mut h, &path, io::empty())?;
            }
            Some(link) => out.append_link(&mut h, &path, &link)?,
            None => out.append_data(&mut h, &path, &mut entry)?,
        }
    }
    Ok(())
}

fn is_temp(dir: &Path) -> bool {
    [PathBuf::from("tmp"), PathBuf::from("var/tmp")]
        .iter()
        .any(|t| t == dir)
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
