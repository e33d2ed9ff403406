//! What the store's maintenance reports: its size, what a prune did, what verification found.

use std::time::Duration;

use crate::report::human_bytes;

/// How much the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Action records (cached step results).
    pub entries: u64,
    /// File blobs.
    pub blobs: u64,
    /// Tree objects.
    pub trees: u64,
    /// Materialized read-only folders (hardlinks; they add no blob bytes).
    pub checkouts: u64,
    /// Bytes of blobs, trees and records.
    pub bytes: u64,
    /// Steps the runs with this store found in it (see [`Store::add_hits`](super::Store::add_hits)).
    pub local_hits: u64,
    /// Steps the runs with this store found in the shared cache.
    pub remote_hits: u64,
}

/// What [`Store::prune_with`](super::Store::prune_with) may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    /// Drop least recently used results until the store holds at most this many bytes.
    pub max_bytes: Option<u64>,
    /// Drop results not used for this long.
    pub max_age: Option<Duration>,
    /// Spare unreferenced objects changed this recently (a running step may be about to
    /// record a result that uses them).
    pub grace: Duration,
    /// How long to wait for runs holding a [`StoreLease`](super::StoreLease) to end before
    /// giving up without removing anything.
    pub wait: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            max_bytes: None,
            max_age: None,
            grace: Duration::from_secs(15 * 60),
            wait: Duration::from_secs(60),
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Action records removed.
    pub records: u64,
    /// Blobs removed.
    pub blobs: u64,
    /// Trees removed.
    pub trees: u64,
    /// Checkouts removed.
    pub checkouts: u64,
    /// Bytes of blobs, trees and records freed.
    pub bytes_freed: u64,
    /// Blobs and trees no result uses that were kept because they changed within the grace
    /// period.
    pub spared: u64,
    /// Their bytes.
    pub bytes_spared: u64,
    /// The grace period the prune honoured.
    pub grace: Duration,
    /// Images no kept result names that are still to be removed from the daemon: the store
    /// remembers them for the next prune.
    pub images_waiting: u64,
}

/// What [`Store::verify`](super::Store::verify) checked and the damage it found (and removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blobs re-hashed.
    pub blobs: u64,
    /// Trees re-hashed.
    pub trees: u64,
    /// Cached results (action records) checked.
    pub records: u64,
    /// Records of steps' last runs checked: last keys (what explains a miss), container
    /// recipes (what `shell` sets up again), failures and single-command hints.
    pub step_records: u64,
    /// Checkouts re-hashed.
    pub checkouts: u64,
    /// One line per damaged entry, which has been removed.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing was damaged.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for StoreStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cached results  {}", self.entries)?;
        writeln!(f, "blobs           {}", self.blobs)?;
        writeln!(f, "trees           {}", self.trees)?;
        writeln!(f, "checkouts       {}", self.checkouts)?;
        writeln!(f, "size            {}", human_bytes(self.bytes))?;
        // Counted over every run with this store, results since pruned included.
        writeln!(f, "local hits      {} (all runs)", self.local_hits)?;
        writeln!(f, "remote hits     {} (all runs)", self.remote_hits)
    }
}

impl std::fmt::Display for PruneReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "removed {} cached results, {} blobs, {} trees, {} checkouts; freed {}",
            self.records,
            self.blobs,
            self.trees,
            self.checkouts,
            human_bytes(self.bytes_freed)
        )?;
        if self.spared > 0 {
            writeln!(
                f,
                "kept {} unused blobs and trees ({}) changed within the last {}: a run may be about to record a result that uses them; use --grace 0 to remove them too",
                self.spared,
                human_bytes(self.bytes_spared),
                human_age(self.grace)
            )?;
        }
        Ok(())
    }
}

/// `15 min`, `2 h`, `30 s`.
fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    if secs.is_multiple_of(3600) && secs > 0 {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}
