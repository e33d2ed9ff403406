//! Keeping the store healthy: statistics and pruning least recently used results
//! (verification is `verify.rs`).
//!
//! Pruning is mark and sweep. Action records are ordered by last use (a lookup hit refreshes
//! the record's mtime); the oldest are dropped until the store fits, then every blob, tree and
//! checkout that no remaining record (or step's last key) reaches is removed. A step's last
//! key keeps the trees of its folder inputs, to explain its next miss, while they fit in
//! the size asked for; a checkout is kept only for a kept record's output. A prune sweeps
//! only while it holds the store alone (see `lease`), so no run that holds a lease can have an
//! object removed under it. Objects changed within the grace period are spared as well, for
//! whatever uses the store without a lease: such a user may have just written them and not
//! yet recorded the result that reaches them. One that loses such a race sees a missing
//! output, which is a miss, never a wrong hit. The images the dropped results made are the
//! daemon's: the prune hands their ids, with those replaced results left (`images.rs`), to
//! its caller, which removes them from the daemon while the store is still held alone.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::action::read_sealed;
use super::images::made_images;
use super::reports::{PruneOptions, PruneReport, StoreStats};
use super::{Store, remove_tree};
use crate::cache::key::{ArtifactKind, KeyRecord};
use crate::cache::store::ActionResult;
use crate::cache::tree::EntryKind;
use crate::digest::Digest;
use crate::error::Result;

/// One file found in a sharded object folder.
pub(super) struct Object {
    pub(super) path: PathBuf,
    pub(super) name: String,
    size: u64,
    /// The later of mtime and ctime, in nanoseconds since the epoch.
    changed: i128,
    mtime: SystemTime,
}

pub(super) fn list_objects(dir: &Path) -> Vec<Object> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else {
        return out;
    };
    for shard in shards.flatten() {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            out.push(Object {
                path: f.path(),
                name: f.file_name().to_string_lossy().into_owned(),
                size: meta.len(),
                changed: changed_ns(&meta),
                mtime: meta.modified().unwrap_or(UNIX_EPOCH),
            });
        }
    }
    out
}

fn changed_ns(meta: &std::fs::Metadata) -> i128 {
    let m = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    let c = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
    m.max(c)
}

fn ns_since_epoch(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// A blob's identity: content digest and executable variant.
type BlobId = (Digest, bool);

pub(super) fn parse_blob_name(name: &str) -> Option<BlobId> {
    match name.strip_suffix(".x") {
        Some(hex) => Some((hex.parse().ok()?, true)),
        None => Some((name.parse().ok()?, false)),
    }
}

/// The objects one record (or last key) keeps alive.
#[derive(Default)]
struct Reach {
    blobs: HashSet<BlobId>,
    trees: HashSet<Digest>,
    /// The trees reached as outputs, with their blobs: the ones whose checkouts are kept.
    outputs: HashSet<Digest>,
}

impl Store {
    /// Counts what the store holds.
    pub fn stats(&self) -> Result<StoreStats> {
        let blobs = list_objects(&self.root.join("blobs"));
        let trees = list_objects(&self.root.join("trees"));
        let records = list_objects(&self.root.join("ac"));
        let checkouts = std::fs::read_dir(self.root.join("checkouts"))
            .map(|d| d.flatten().count() as u64)
            .unwrap_or(0);
        let bytes = [&blobs, &trees, &records]
            .iter()
            .flat_map(|v| v.iter())
            .map(|o| o.size)
            .sum::<u64>()
            + unshared_bytes(&self.root.join("checkouts"));
        let (local_hits, remote_hits) = self.hits();
        Ok(StoreStats {
            entries: records.len() as u64,
            blobs: blobs.len() as u64,
            trees: trees.len() as u64,
            checkouts,
            bytes,
            local_hits,
            remote_hits,
        })
    }

    /// Adds one run's hits to the store's tally: `local` steps found in the store, `remote`
    /// in the shared cache. One appended line per run, so concurrent runs never lose a count.
    pub fn add_hits(&self, local: u64, remote: u64) -> Result<()> {
        use std::io::Write as _;
        if local == 0 && remote == 0 {
            return Ok(());
        }
        let path = self.root.join("hits");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{local} {remote}\n").as_bytes()))
            .map_err(|e| crate::error::Error::io(format!("write {}", path.display()), e))
    }

    /// The tally of [`Store::add_hits`]; lines that do not parse (a torn write) count nothing.
    fn hits(&self) -> (u64, u64) {
        let text = std::fs::read_to_string(self.root.join("hits")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let (l, r) = line.split_once(' ')?;
                Some((l.parse::<u64>().ok()?, r.parse::<u64>().ok()?))
            })
            .fold((0, 0), |(l, r), (a, b)| {
                (l.saturating_add(a), r.saturating_add(b))
            })
    }

    /// Removes least recently used results until the store holds at most `max_bytes`, and
    /// results unused for longer than `max_age`, then everything they alone reached; see
    /// [`Store::prune_with`].
    pub fn prune(&self, max_bytes: Option<u64>, max_age: Option<Duration>) -> Result<PruneReport> {
        self.prune_with(&PruneOptions {
            max_bytes,
            max_age,
            ..PruneOptions::default()
        })
    }

    /// Prunes as `options` say. Results are dropped least recently used first (a lookup hit
    /// counts as a use), then every blob, tree and checkout that no remaining result or step's
    /// last key reaches is removed, unless it changed within the grace period.
    ///
    /// The prune holds the store alone while it works: it waits up to `options.wait` for the
    /// runs holding a [`StoreLease`](super::StoreLease) to end and otherwise fails without
    /// removing anything, saying another run is using the store; runs that start meanwhile
    /// wait for it. So nothing a live run has linked, mounted or is about to record is
    /// removed. The grace period covers users of the store that hold no lease: losing that
    /// race costs such a run a miss, never a wrong hit. A process must drop its own leases
    /// before it prunes, or the prune waits for them in vain.
    ///
    /// The images of the results it drops, which the daemon holds, are remembered for
    /// [`Store::prune_reclaiming`] to remove; this prune leaves them.
    pub fn prune_with(&self, options: &PruneOptions) -> Result<PruneReport> {
        self.prune_reclaiming(options, |_| Vec::new())
    }

    /// Prunes as [`Store::prune_with`] does, then hands `reclaim` the ids of the images no
    /// kept result names: those the dropped results made, and those of results replaced
    /// since (see [`Store::images`]). `reclaim` removes what it can from the daemon and
    /// returns the ids the store may forget; the others are remembered for the next prune.
    /// It runs while the prune still holds the store alone, so no run can record a result
    /// naming one of those images meanwhile.
    pub fn prune_reclaiming(
        &self,
        options: &PruneOptions,
        mut reclaim: impl FnMut(&[String]) -> Vec<String>,
    ) -> Result<PruneReport> {
        self.prune_inner(options, &mut reclaim)
    }

    // Long, but one pass: mark what the kept records reach, then sweep each kind of object; the
    // phases share the reach set and the grace period.
    fn prune_inner(
        &self,
        options: &PruneOptions,
        reclaim: &mut dyn FnMut(&[String]) -> Vec<String>,
    ) -> Result<PruneReport> {
        let lock = self.lock_exclusive(options.wait)?;

        let now = SystemTime::now();
        let mut report = PruneReport::default();
        let blob_objects = list_objects(&self.root.join("blobs"));
        let tree_objects = list_objects(&self.root.join("trees"));
        let blob_sizes: HashMap<BlobId, u64> = blob_objects
            .iter()
            .filter_map(|o| Some((parse_blob_name(&o.name)?, o.size)))
            .collect();
        let tree_sizes: HashMap<Digest, u64> = tree_objects
            .iter()
            .filter_map(|o| Some((o.name.parse().ok()?, o.size)))
            .collect();

        // Records, newest use first; damaged ones are discarded by `read_sealed`.
        let mut records: Vec<(Object, ActionResult)> = list_objects(&self.root.join("ac"))
            .into_iter()
            .filter_map(|o| Some((read_sealed::<ActionResult>(&o.path).ok()??, o)))
            .map(|(r, o)| (o, r))
            .collect();
        records.sort_by_key(|r| std::cmp::Reverse(r.0.mtime));

        let mut protected = Reach::default();
        for key in self.last_keys() {
            self.reach_inputs(&key, &mut protected);
        }
        // Each object's bytes belong to the most recently used record reaching it.
        let mut claimed: HashSet<(Option<BlobId>, Option<Digest>)> = HashSet::new();
        claim(&protected, &mut claimed, &blob_sizes, &tree_sizes);
        let mut reaches = Vec::with_capacity(records.len());
        let mut own_bytes = Vec::with_capacity(records.len());
        for (object, result) in &records {
            let reach = self.reach(result);
            let own = claim(&reach, &mut claimed, &blob_sizes, &tree_sizes);
            own_bytes.push(own + object.size);
            reaches.push(reach);
        }

        let mut keep = vec![true; records.len()];
        if let Some(max_age) = options.max_age {
            let cutoff = now.checked_sub(max_age).unwrap_or(UNIX_EPOCH);
            for (i, (object, _)) in records.iter().enumerate() {
                keep[i] = object.mtime >= cutoff;
            }
        }
        // The trees kept to explain misses go too when the records alone do not fit.
        let mut fits = true;
        if let Some(max_bytes) = options.max_bytes {
            let mut total: u64 = own_bytes
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(b, _)| *b)
                .sum();
            total += protected_bytes(&protected, &blob_sizes, &tree_sizes);
            for i in (0..records.len()).rev() {
                if total <= max_bytes {
                    break;
                }
                if keep[i] {
                    keep[i] = false;
                    total = total.saturating_sub(own_bytes[i]);
                }
            }
            fits = total <= max_bytes;
        }
        // Remembered before their records go, so a prune killed meanwhile loses none.
        let dropped = records.iter().zip(&keep).filter(|(_, k)| !**k);
        self.remember_images(dropped.flat_map(|((_, r), _)| made_images(r)))?;
        let mut live = if fits { protected } else { Reach::default() };
        let mut named = HashSet::new();
        for (i, (object, result)) in records.iter().enumerate() {
            if keep[i] {
                live.blobs.extend(reaches[i].blobs.iter().copied());
                live.trees.extend(reaches[i].trees.iter().copied());
                live.outputs.extend(reaches[i].outputs.iter().copied());
                named.extend(made_images(result));
            } else if std::fs::remove_file(&object.path).is_ok() {
                report.records += 1;
                report.bytes_freed += object.size;
            } else {
                named.extend(made_images(result));
            }
        }

        let spare_after = ns_since_epoch(now.checked_sub(options.grace).unwrap_or(UNIX_EPOCH));
        for o in &blob_objects {
            let dead = parse_blob_name(&o.name).is_none_or(|id| !live.blobs.contains(&id));
            if dead && o.changed >= spare_after {
                report.spared += 1;
                report.bytes_spared += o.size;
            } else if dead && std::fs::remove_file(&o.path).is_ok() {
                report.blobs += 1;
                report.bytes_freed += o.size;
            }
        }
        for o in &tree_objects {
            let dead = o
                .name
                .parse::<Digest>()
                .map_or(true, |d| !live.trees.contains(&d));
            if dead && o.changed >= spare_after {
                report.spared += 1;
                report.bytes_spared += o.size;
            } else if dead && std::fs::remove_file(&o.path).is_ok() {
                report.trees += 1;
                report.bytes_freed += o.size;
            }
        }
        report.checkouts = self.sweep_checkouts(&live.outputs, spare_after);
        report.grace = options.grace;
        // Staging folders of processes now gone, then anything else a day old (what no
        // process's folder holds: a version of tanto before them, say).
        self.reap_staging();
        let day_ago = ns_since_epoch(now - Duration::from_secs(24 * 3600));
        sweep_tmp(&self.root.join("tmp"), spare_after.min(day_ago));
        report.images_waiting = self.reclaim_images(&named, reclaim);
        drop(lock);
        Ok(report)
    }

    fn last_keys(&self) -> Vec<KeyRecord> {
        let Ok(entries) = std::fs::read_dir(self.root.join("last")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| read_sealed(&e.path()).ok().flatten())
            .collect()
    }

    /// The trees of a key's folder inputs (kept so misses can be explained).
    fn reach_inputs(&self, key: &KeyRecord, reach: &mut Reach) {
        for input in key.inputs.values() {
            if input.kind == ArtifactKind::Dir {
                self.reach_tree(input.digest, false, reach);
            }
        }
    }

    fn reach(&self, result: &ActionResult) -> Reach {
        let mut reach = Reach::default();
        self.reach_inputs(&result.key, &mut reach);
        for output in &result.outputs {
            match output.kind {
                ArtifactKind::Dir => self.reach_tree(output.digest, true, &mut reach),
                ArtifactKind::File => {
                    reach.blobs.insert((output.digest, output.executable));
                }
                ArtifactKind::Value | ArtifactKind::Secret | ArtifactKind::Image => {}
            }
        }
        reach
    }

    /// Marks the tree `digest` and everything under it reachable, with a stack of its own
    /// rather than recursion, so a deep tree cannot exhaust the thread's stack.
    fn reach_tree(&self, digest: Digest, with_blobs: bool, reach: &mut Reach) {
        let mut stack = vec![digest];
        while let Some(digest) = stack.pop() {
            if !reach.trees.insert(digest) {
                continue;
            }
            if with_blobs {
                reach.outputs.insert(digest);
            }
            let Ok(Some(tree)) = self.tree(&digest) else {
                continue;
            };
            for e in tree.entries() {
                match e.kind {
                    EntryKind::Dir => stack.push(e.digest),
                    EntryKind::File | EntryKind::Exec if with_blobs => {
                        reach.blobs.insert((e.digest, e.kind == EntryKind::Exec));
                    }
                    _ => {}
                }
            }
        }
    }

    fn sweep_checkouts(&self, live: &HashSet<Digest>, spare_after: i128) -> u64 {
        let Ok(entries) = std::fs::read_dir(self.root.join("checkouts")) else {
            return 0;
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let is_live = name
                .to_str()
                .and_then(|n| n.parse::<Digest>().ok())
                .is_some_and(|d| live.contains(&d));
            let young = e.metadata().is_ok_and(|m| changed_ns(&m) >= spare_after);
            if !is_live && !young {
                remove_tree(&e.path());
                removed += 1;
            }
        }
        removed
    }
}

/// Marks what `reach` holds as claimed and returns the bytes not claimed before.
fn claim(
    reach: &Reach,
    claimed: &mut HashSet<(Option<BlobId>, Option<Digest>)>,
    blob_sizes: &HashMap<BlobId, u64>,
    tree_sizes: &HashMap<Digest, u64>,
) -> u64 {
    let mut bytes = 0;
    for b in &reach.blobs {
        if claimed.insert((Some(*b), None)) {
            bytes += blob_sizes.get(b).copied().unwrap_or(0);
        }
    }
    for t in &reach.trees {
        if claimed.insert((None, Some(*t))) {
            bytes += tree_sizes.get(t).copied().unwrap_or(0);
        }
    }
    bytes
}

fn protected_bytes(
    reach: &Reach,
    blob_sizes: &HashMap<BlobId, u64>,
    tree_sizes: &HashMap<Digest, u64>,
) -> u64 {
    let mut claimed = HashSet::new();
    claim(reach, &mut claimed, blob_sizes, tree_sizes)
}

/// The bytes of the files under `dir` that no blob shares (one link): a checkout whose blobs
/// were pruned holds them alone. Links are not followed.
fn unshared_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.is_file() && meta.nlink() == 1 {
                total += meta.len();
            }
        }
    }
    total
}

fn sweep_tmp(tmp: &Path, older_than: i128) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        if super::staging::is_staging(&e.file_name()) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        if changed_ns(&meta) >= older_than {
            continue;
        }
        if meta.is_dir() {
            remove_tree(&e.path());
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
