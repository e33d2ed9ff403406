//! Tar archives in and out of containers: streamed uploads of copies, unpacked captures.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::backend::TarStream;
use crate::error::{Error, Result};

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
    /// keeping modes and modification times (cargo's freshness checks read them).
    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        src: &Path,
        rel: &Path,
        dest: &Path,
    ) -> io::Result<()> {
        let owner = self.owner;
        let meta = fs::symlink_metadata(src)?;
        let mode = meta.mode() & 0o7777;
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
            let mut h = header(tar::EntryType::Symlink, 0o777, 0, owner);
            h.set_mtime(mtime);
            tar.append_link(&mut h, dest, fs::read_link(src)?)?;
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

/// Unpacks the archive at `tar` into the empty folder `dest` and returns its single top-level
/// entry, which is what the daemon archives for a path. Owners are not kept; modes and
/// modification times are.
pub(crate) fn unpack_single(tar: &Path, dest: &Path) -> Result<PathBuf> {
    let file = fs::File::open(tar).map_err(|e| Error::io(format!("open {}", tar.display()), e))?;
    let mut archive = tar::Archive::new(io::BufReader::new(file));
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    fs::create_dir_all(dest).map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    archive
        .unpack(dest)
        .map_err(|e| Error::io("unpack an archive from the container", e))?;
    let mut top = fs::read_dir(dest)
        .map_err(|e| Error::io(format!("read {}", dest.display()), e))?
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io(format!("read {}", dest.display()), e))?;
    match top.len() {
        1 => Ok(top.remove(0).path()),
        n => Err(Error::Docker(format!(
            "expected one top-level entry in the archive from the container, found {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::os::unix::fs::PermissionsExt;

    async fn collect(stream: TarStream) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stream = stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn copies_round_trip_with_modes_links_and_owner() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        fs::write(src.path().join("sub/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            src.path().join("sub/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/run.sh", src.path().join("link")).unwrap();

        let entries = vec![
            CopyEntry {
                target: "/work/src".into(),
                source: CopySource::Tree {
                    root: src.path().to_path_buf(),
                    skip: Vec::new(),
                },
            },
            CopyEntry {
                target: "/etc/greeting".into(),
                source: CopySource::Bytes(Arc::from(&b"hi"[..])),
            },
        ];
        let bytes = collect(copies_tar(entries, (1000, 1000))).await;

        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.uid().unwrap(), 1000);
            seen.push((
                entry.path().unwrap().display().to_string(),
                h.mode().unwrap() & 0o777,
                h.entry_type().is_symlink(),
            ));
        }
        assert!(seen.contains(&("work/src/sub/run.sh".into(), 0o755, false)));
        assert!(seen.contains(&("work/src/link".into(), 0o777, true)));
        assert!(seen.contains(&("etc/greeting".into(), 0o644, false)));
    }

    #[tokio::test]
    async fn a_folder_is_copied_without_what_it_skips() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join(".gitignore"), "target/\n*.env\n").unwrap();
        fs::create_dir_all(src.path().join("target/debug")).unwrap();
        fs::write(src.path().join("target/debug/app"), "binary").unwrap();
        fs::create_dir(src.path().join("src")).unwrap();
        fs::write(src.path().join("src/lib.rs"), "").unwrap();
        fs::write(src.path().join("src/secret.env"), "TOKEN=1").unwrap();
        let entries = vec![CopyEntry {
            target: "/src".into(),
            source: CopySource::Tree {
                root: src.path().to_path_buf(),
                skip: vec!["target".into(), "src/secret.env".into()],
            },
        }];
        let bytes = collect(copies_tar(entries, (0, 0))).await;
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        seen.sort();
        assert_eq!(seen, ["src", "src/.gitignore", "src/src", "src/src/lib.rs"]);
    }

    #[test]
    fn unpack_returns_the_single_top_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let tar_path = tmp.path().join("a.tar");
        let mut b = tar::Builder::new(fs::File::create(&tar_path).unwrap());
        let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
        b.append_data(&mut h, "out", io::empty()).unwrap();
        let mut h = header(tar::EntryType::Regular, 0o755, 2, (0, 0));
        b.append_data(&mut h, "out/x", &b"hi"[..]).unwrap();
        b.finish().unwrap();
        drop(b);
        let top = unpack_single(&tar_path, &tmp.path().join("dest")).unwrap();
        assert_eq!(top, tmp.path().join("dest/out"));
        let mode = fs::metadata(top.join("x")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
    }
}
