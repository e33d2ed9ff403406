//! Tar archives in and out of containers: streamed uploads of copies, unpacked captures.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::backend::TarStream;
use crate::error::Error;

/// Bytes per chunk sent to the daemon.
const CHUNK: usize = 256 * 1024;

/// What one copy puts into the container.
#[derive(Debug, Clone)]
pub(crate) enum CopySource {
    /// A folder of the host, copied recursively but for the entries under `skip`.
    Tree {
        /// The folder.
        root: PathBuf,
        /// Paths relative to `root` that are left out, folders with all they hold.
        skip: Vec<PathBuf>,
    },
    /// One file of the host.
    File {
        /// Where it is.
        path: PathBuf,
        /// Whether it gets the executable bits.
        executable: bool,
    },
    /// Bytes given by the step.
    Bytes(Arc<[u8]>),
}

/// One copy into the container: `source` at absolute path `target`.
#[derive(Debug, Clone)]
pub(crate) struct CopyEntry {
    pub(crate) target: String,
    pub(crate) source: CopySource,
}

/// Streams a tar archive of `entries`, to be extracted at `/`, with every entry owned by
/// `owner` (uid, gid). The archive is written on a blocking thread while it is sent.
pub(crate) fn copies_tar(entries: Vec<CopyEntry>, owner: (u64, u64)) -> TarStream {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let written = write_copies(&mut writer, &entries, owner).and_then(|()| writer.flush());
        if let Err(e) = written {
            // The receiver is gone when the upload failed first; nothing is left to tell.
            let _ = tx.blocking_send(Err(e));
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

fn write_copies(w: &mut dyn Write, entries: &[CopyEntry], owner: (u64, u64)) -> io::Result<()> {
    let mut tar = tar::Builder::new(w);
    for entry in entries {
        let dest = PathBuf::from(entry.target.trim_start_matches('/'));
        match &entry.source {
            CopySource::Tree { root, skip } => {
                let skip: HashSet<&Path> = skip.iter().map(PathBuf::as_path).collect();
                let tree = Subtree { skip: &skip, owner };
                tree.append(&mut tar, root, Path::new(""), &dest)?;
            }
            CopySource::File { path, executable } => {
                let meta = fs::metadata(path)?;
                let mode = if *executable { 0o755 } else { 0o644 };
                let mut h = header(tar::EntryType::Regular, mode, meta.len(), owner);
                h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
                tar.append_data(&mut h, &dest, fs::File::open(path)?)?;
            }
            CopySource::Bytes(bytes) => {
                let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64, owner);
                h.set_mtime(now_secs());
                tar.append_data(&mut h, &dest, &bytes[..])?;
            }
        }
    }
    tar.finish()
}

/// How a folder of the host goes into an archive: which of its paths to leave out, and the
/// owner every entry gets.
struct Subtree<'a> {
    /// Paths relative to the folder's root that are not copied (folders with all they hold).
    skip: &'a HashSet<&'a Path>,
    owner: (u64, u64),
}

impl Subtree<'_> {
    /// Appends `src` (a folder, a file or a link; `rel` under the folder's root) as `dest`,
    /// keeping modes and modification times (cargo's freshness checks read them), with the
    /// owner's write bit added: the copy is the step's own to change, and the store's
    /// folders and files are read-only.
    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        src: &Path,
        rel: &Path,
        dest: &Path,
    ) -> io::Result<()> {
        let owner = self.owner;
        let meta = fs::symlink_metadata(src)?;
        let mode = (meta.mode() & 0o7777) | 0o200;
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        let kind = meta.file_type();
        if kind.is_dir() {
            let mut h = header(tar::EntryType::Directory, mode, 0, owner);
            h.set_mtime(mtime);
            tar.append_data(&mut h, dest, io::empty())?;
            let mut children: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
            children.sort_by_key(|c| c.file_name());
            for child in children {
                let name = child.file_name();
                let rel = rel.join(&name);
                if !self.skip.contains(rel.as_path()) {
                    self.append(tar, &child.path(), &rel, &dest.join(&name))?;
                }
            }
        } else if kind.is_symlink() {
            let target = fs::read_link(src)?;
            let mut h = header(tar::EntryType::Symlink, 0o777, 0, owner);
            h.set_mtime(mtime);
            let bytes = target.as_os_str().as_bytes();
            if bytes.len() <= 100 {
                // Byte for byte: `append_link` writes a link to `/` as `//`.
                h.set_link_name_literal(bytes)?;
                tar.append_data(&mut h, dest, io::empty())?;
            } else {
                tar.append_link(&mut h, dest, target)?;
            }
        } else if kind.is_file() {
            let mut h = header(tar::EntryType::Regular, mode, meta.len(), owner);
            h.set_mtime(mtime);
            tar.append_data(&mut h, dest, fs::File::open(src)?)?;
        }
        // Sockets, fifos and devices have no content to copy.
        Ok(())
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64, (uid, gid): (u64, u64)) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(uid);
    h.set_gid(gid);
    h
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sends what is written, in chunks, to an async receiver. Used from a blocking thread.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Why an unpack stopped.
#[derive(Debug)]
pub(crate) enum Unpack {
    /// The files passed the limit.
    TooLarge,
    /// The one entry was a fifo or a device file, which has no content to keep.
    Special,
    /// Anything else.
    Failed(Error),
}

impl From<Error> for Unpack {
    fn from(e: Error) -> Self {
        Unpack::Failed(e)
    }
}

/// Unpacks the archive `tar` into the empty folder `dest` as it is read, and returns its
/// single top-level entry, which is what the daemon archives for a path. Owners are not kept;
/// file modes and modification times are, and folders stay writable so the store can move
/// their files out.
///
/// The archive comes from a container, so it is hostile: entries that would land outside
/// `dest` (absolute paths, `..`, through a link) are skipped, and unpacking stops with
/// [`Unpack::TooLarge`] before the files it holds come to more than `limit` bytes, counting
/// each hard link as a full copy of its target (what an export writes), and a sparse file at
/// its full size.
pub(crate) fn unpack_single(
    tar: impl Read,
    dest: &Path,
    limit: u64,
) -> std::result::Result<PathBuf, Unpack> {
    let io = |e| Error::io("unpack an archive from the container", e);
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    fs::create_dir_all(dest).map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    let mut counted: u64 = 0;
    let mut special = false;
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        counted = counted.saturating_add(full_size(&entry, dest).map_err(io)?);
        if counted > limit {
            return Err(Unpack::TooLarge);
        }
        let path = entry.path().map_err(io)?.into_owned();
        let kind = entry.header().entry_type();
        if kind.is_fifo() || kind.is_character_special() || kind.is_block_special() {
            special = true;
            // As in a folder of the host: a fifo or a device has no content to keep. The
            // entry captured itself is refused by the caller instead.
            if inside(&path).components().count() > 1 {
                tracing::warn!(
                    path = %path.display(),
                    "skipping a special file (fifo or device) of a folder captured from a container"
                );
            }
            continue;
        }
        let unpacked = entry.unpack_in(dest).map_err(unpack_failed)?;
        if unpacked && entry.header().entry_type().is_dir() {
            // A read-only folder could be neither filled nor emptied into the store. The
            // folder is found as `unpack_in` placed it: the entry's path without its root and
            // `.` parts, under `dest`; and only a real folder there is changed, never what a
            // link there leads to.
            let dir = dest.join(inside(&path));
            if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::io(format!("make {} writable", dir.display()), e))?;
            }
        }
    }
    let mut top = fs::read_dir(dest)
        .map_err(|e| Error::io(format!("read {}", dest.display()), e))?
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io(format!("read {}", dest.display()), e))?;
    match top.len() {
        1 => Ok(top.remove(0).path()),
        0 if special => Err(Unpack::Special),
        n => Err(Unpack::Failed(Error::Docker(format!(
            "expected one top-level entry in the archive from the container, found {n}"
        )))),
    }
}

/// The error of an entry that could not be written: the archive reader's message names the
/// entry, and the error under it says why (a full disk, say), which its message leaves out.
fn unpack_failed(e: io::Error) -> Error {
    let chain = std::iter::successors(std::error::Error::source(&e), |e| e.source());
    let cause = chain.filter_map(|e| e.downcast_ref::<io::Error>()).last();
    match cause {
        Some(cause) => Error::io(
            format!("unpack an archive from the container: {e}"),
            io::Error::new(cause.kind(), cause.to_string()),
        ),
        None => Error::io("unpack an archive from the container", e),
    }
}

/// An entry's path as `unpack_in` places it under its folder: its normal parts only (an
/// entry with `..` is never unpacked).
fn inside(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

/// The bytes `entry` puts on disk as a file of its own: a file's size, a sparse file's full
/// size, a hard link's target's size (the target was unpacked before it), nothing otherwise.
fn full_size<R: Read>(entry: &tar::Entry<'_, R>, dest: &Path) -> io::Result<u64> {
    let header = entry.header();
    Ok(match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => header.size()?,
        tar::EntryType::GNUSparse => match header.as_gnu() {
            Some(gnu) => gnu.real_size()?.max(header.size()?),
            None => header.size()?,
        },
        tar::EntryType::Link => {
            let target = entry.link_name()?.map(|t| t.into_owned());
            // Only a target inside `dest` is ever unpacked; anything else is skipped anyway.
            let inside = target.filter(|t| {
                t.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
            });
            inside
                .and_then(|t| fs::symlink_metadata(dest.join(t)).ok())
                .filter(fs::Metadata::is_file)
                .map_or(0, |m| m.len())
        }
        _ => 0,
    })
}

/// Reads the chunks sent on a channel, from a blocking thread: an archive streamed from the
/// daemon, unpacked as it comes. The end of the channel is the end of the data.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl ChannelReader {
    /// A reader of what is sent to `rx`.
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
