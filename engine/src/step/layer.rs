//! Reproducible snapshots: the builder's copies as a layer with one fixed modification time
//! on every entry and on the folders above them, so the same files make the same layer
//! whenever they are copied; written into the container before a commit, or loaded as the
//! image's new layer when no container ran.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;

use crate::backend::archive;
use crate::error::{Error, Result};
use crate::step::container::{Container, owner_of};
use crate::step::mount::copy_entries;

/// The modification time every copied entry of a snapshot gets: the Unix epoch, as
/// `SOURCE_DATE_EPOCH=0` would set it.
pub(crate) const LAYER_MTIME: u64 = 0;

impl Container {
    /// Writes this builder's copies into container `id` again, with [`LAYER_MTIME`] on every
    /// entry and on each folder above them.
    pub(super) async fn pin_copy_times(&self, id: &str) -> Result<()> {
        let Some(pinned) = self.copies_layer().await? else {
            return Ok(());
        };
        let stream = futures_util::stream::once(async move { Ok(Bytes::from(pinned)) });
        self.ctx.run().backend.upload(id, Box::pin(stream)).await
    }

    /// This builder's copies as one tar archive, sorted, with [`LAYER_MTIME`] on every entry
    /// and a folder entry for each folder above them: a layer that is the same bytes whenever
    /// the same files are copied. `None` when the builder copies nothing.
    pub(super) async fn copies_layer(&self) -> Result<Option<Vec<u8>>> {
        if self.spec.copies.is_empty() {
            return Ok(None);
        }
        let copies = (self.spec.copies.iter())
            .map(|c| (c.target.clone(), c.source.clone()))
            .collect();
        let entries = copy_entries(self.ctx.run(), copies).await?;
        let targets: Vec<String> = entries.iter().map(|e| e.target.clone()).collect();
        let mut tar = archive::copies_tar(entries, owner_of(self.spec.user.as_deref()));
        let mut bytes = Vec::new();
        while let Some(chunk) = tar.next().await {
            let chunk = chunk.map_err(|e| Error::io("write the copies of a snapshot", e))?;
            bytes.extend_from_slice(&chunk);
        }
        let pinned = tokio::task::spawn_blocking(move || pin_times(&bytes, &targets))
            .await
            .map_err(|e| Error::Other(format!("pinning a snapshot's times panicked: {e}")))?
            .map_err(|e| Error::io("write the copies of a snapshot", e))?;
        Ok(Some(pinned))
    }
}

/// The archive `tar` with every entry's modification time set to [`LAYER_MTIME`], after a
/// folder entry (mode 0755, or 1777 for the usual temporary folders, owned by root) for
/// each folder above the `targets`.
fn pin_times(tar: &[u8], targets: &[String]) -> std::io::Result<Vec<u8>> {
    let mut parents = BTreeSet::new();
    for target in targets {
        let mut dir = Path::new(target.trim_start_matches('/')).parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            parents.insert(d.to_path_buf());
            dir = d.parent();
        }
    }
    let mut out = tar::Builder::new(Vec::new());
    for dir in &parents {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if is_temp(dir) { 0o1777 } else { 0o755 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h.set_mtime(LAYER_MTIME);
        out.append_data(&mut h, dir, std::io::empty())?;
    }
    let mut input = tar::Archive::new(tar);
    for entry in input.entries()? {
        let mut entry = entry?;
        let mut h = entry.header().clone();
        h.set_mtime(LAYER_MTIME);
        h.set_cksum();
        out.append(&h, &mut entry)?;
    }
    out.into_inner()
}

fn is_temp(dir: &Path) -> bool {
    [PathBuf::from("tmp"), PathBuf::from("var/tmp")]
        .iter()
        .any(|t| t == dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_and_each_folder_above_gets_the_fixed_time() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "srv/app/msg", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let pinned = pin_times(&tar, &["/srv/app/msg".to_owned()]).unwrap();
        let mut archive = tar::Archive::new(&pinned[..]);
        let seen: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                (path, e.header().mtime().unwrap())
            })
            .collect();
        let names: Vec<&str> = seen.iter().map(|(p, _)| p.trim_end_matches('/')).collect();
        assert_eq!(names, ["srv", "srv/app", "srv/app/msg"]);
        assert!(seen.iter().all(|(_, t)| *t == LAYER_MTIME), "{seen:?}");
    }
}
