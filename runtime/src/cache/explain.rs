//! Explaining a cache miss: which part of a step's key changed, down to file paths.
//!
//! [`explain`] compares the step's previous [`KeyRecord`] with the new one. For folder inputs
//! it diffs the two root trees, which the run stored when it hashed them (trees only, no file
//! contents), so the reason names the paths that differ.

use std::fmt;

use serde::Serialize;

use crate::cache::key::{ArtifactKind, KeyRecord};
use crate::cache::tree::{TreeDiff, TreeSource, diff_trees};

/// How many paths a reason's text lists before "and N more".
const SHOWN_PATHS: usize = 10;

/// Why a step's key differs from its previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The step never ran before (or its last key was lost).
    FirstRun,
    /// The user asked to run it regardless of the cache.
    Forced,
    /// The cache format changed; every step runs once.
    FormatChanged {
        /// The previous format.
        old: u32,
        /// The current format.
        new: u32,
    },
    /// The step's code (or its path) changed.
    CodeChanged,
    /// The step's `version` salt changed.
    VersionChanged {
        /// The previous salt.
        old: Option<String>,
        /// The new salt.
        new: Option<String>,
    },
    /// The step's image resolved to another id.
    ImageChanged {
        /// The previous image id.
        old: Option<String>,
        /// The new image id.
        new: Option<String>,
    },
    /// A container setting changed.
    SettingChanged {
        /// The setting, e.g. `env.RUSTFLAGS` or `workdir`.
        name: String,
        /// Its previous value, if it was set.
        old: Option<String>,
        /// Its new value, if it is set.
        new: Option<String>,
    },
    /// A host input changed.
    InputChanged {
        /// The parameter.
        param: String,
        /// Paths added (folder inputs only).
        added: Vec<String>,
        /// Paths removed.
        removed: Vec<String>,
        /// Paths modified.
        modified: Vec<String>,
    },
    /// An input produced by another step has different content.
    UpstreamChanged {
        /// The parameter.
        param: String,
        /// The step that produced it.
        upstream: String,
        /// For a folder, the paths that differ, when both trees are in the store.
        paths: Vec<String>,
    },
    /// The step's parameters changed (added or removed).
    ParamsChanged {
        /// Parameters that are new.
        added: Vec<String>,
        /// Parameters that are gone.
        removed: Vec<String>,
    },
}

fn show(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

/// Writes `label path, path…` with at most `*budget` paths, decrementing it.
fn list(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    paths: &[String],
    first: &mut bool,
    budget: &mut usize,
) -> fmt::Result {
    if paths.is_empty() || *budget == 0 {
        return Ok(());
    }
    f.write_str(if *first { ": " } else { "; " })?;
    *first = false;
    f.write_str(label)?;
    let n = paths.len().min(*budget);
    for (i, p) in paths[..n].iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        f.write_str(p)?;
    }
    *budget -= n;
    Ok(())
}

fn paths(
    f: &mut fmt::Formatter<'_>,
    added: &[String],
    removed: &[String],
    modified: &[String],
) -> fmt::Result {
    let mut first = true;
    let mut budget = SHOWN_PATHS;
    list(f, "modified", modified, &mut first, &mut budget)?;
    list(f, "added", added, &mut first, &mut budget)?;
    list(f, "removed", removed, &mut first, &mut budget)?;
    let total = added.len() + removed.len() + modified.len();
    if total > SHOWN_PATHS {
        write!(f, " and {} more", total - SHOWN_PATHS)?;
    }
    Ok(())
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::FirstRun => f.write_str("first run: no previous result"),
            Reason::Forced => f.write_str("forced to run"),
            Reason::FormatChanged { old, new } => {
                write!(f, "the cache format changed from {old} to {new}")
            }
            Reason::CodeChanged => f.write_str("the step's code changed"),
            Reason::VersionChanged { old, new } => {
                write!(f, "version changed from {} to {}", show(old), show(new))
            }
            Reason::ImageChanged { old, new } => {
                write!(f, "image changed from {} to {}", show(old), show(new))
            }
            Reason::SettingChanged { name, old, new } => {
                write!(
                    f,
                    "setting `{name}` changed from {} to {}",
                    show(old),
                    show(new)
                )
            }
            Reason::InputChanged {
                param,
                added,
                removed,
                modified,
            } => {
                write!(f, "input `{param}` changed")?;
                paths(f, added, removed, modified)
            }
            Reason::UpstreamChanged {
                param,
                upstream,
                paths: changed,
            } => {
                write!(f, "input `{param}` from step `{upstream}` changed")?;
                paths(f, &[], &[], changed)
            }
            Reason::ParamsChanged { added, removed } => {
                f.write_str("the step's parameters changed")?;
                let mut first = true;
                let mut budget = SHOWN_PATHS;
                list(f, "new", added, &mut first, &mut budget)?;
                list(f, "gone", removed, &mut first, &mut budget)
            }
        }
    }
}

/// The reasons why `new` differs from the step's previous key `old` (none when equal).
/// Folder inputs are diffed with trees from `trees`, normally the [`Store`](crate::cache::Store).
///
/// ```
/// use tanto::__internal::cache::{KeyRecord, Reason, Trees, explain};
///
/// let old = KeyRecord::new("ci::fmt", "aaa");
/// let mut new = old.clone();
/// new.settings.insert("user".into(), "1000".into());
/// let reasons = explain(Some(&old), &new, &Trees::new());
/// assert_eq!(reasons[0].to_string(), "setting `user` changed from (none) to 1000");
/// assert_eq!(explain(None, &new, &Trees::new()), [Reason::FirstRun]);
/// ```
// Long, but flat: one comparison per component of the key, in the order `--plan` lists them.
pub fn explain(old: Option<&KeyRecord>, new: &KeyRecord, trees: &dyn TreeSource) -> Vec<Reason> {
    let Some(old) = old else {
        return vec![Reason::FirstRun];
    };
    let mut reasons = Vec::new();
    if old.format != new.format {
        reasons.push(Reason::FormatChanged {
            old: old.format,
            new: new.format,
        });
    }
    if old.code != new.code || old.step != new.step {
        reasons.push(Reason::CodeChanged);
    }
    if old.version != new.version {
        reasons.push(Reason::VersionChanged {
            old: old.version.clone(),
            new: new.version.clone(),
        });
    }
    if old.image != new.image {
        reasons.push(Reason::ImageChanged {
            old: old.image.clone(),
            new: new.image.clone(),
        });
    }
    let names = old.settings.keys().chain(new.settings.keys());
    let mut names: Vec<&String> = names.collect();
    names.sort();
    names.dedup();
    for name in names {
        let (a, b) = (old.settings.get(name), new.settings.get(name));
        if a != b {
            reasons.push(Reason::SettingChanged {
                name: name.clone(),
                old: a.cloned(),
                new: b.cloned(),
            });
        }
    }
    let added: Vec<String> = new
        .inputs
        .keys()
        .filter(|k| !old.inputs.contains_key(*k))
        .cloned()
        .collect();
    let removed: Vec<String> = old
        .inputs
        .keys()
        .filter(|k| !new.inputs.contains_key(*k))
        .cloned()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        reasons.push(Reason::ParamsChanged { added, removed });
    }
    for (param, b) in &new.inputs {
        let Some(a) = old.inputs.get(param) else {
            continue;
        };
        if a.digest == b.digest && a.kind == b.kind {
            continue;
        }
        let diff = if a.kind == ArtifactKind::Dir && b.kind == ArtifactKind::Dir {
            diff_trees(a.digest, b.digest, trees)
        } else {
            TreeDiff::default()
        };
        let param = param.clone();
        reasons.push(match &b.upstream {
            Some(upstream) => {
                let mut paths = diff.modified;
                paths.extend(diff.added);
                paths.extend(diff.removed);
                paths.sort();
                Reason::UpstreamChanged {
                    param,
                    upstream: upstream.clone(),
                    paths,
                }
            }
            None => Reason::InputChanged {
                param,
                added: diff.added,
                removed: diff.removed,
                modified: diff.modified,
            },
        });
    }
    reasons
}
