//! Why a step runs: [`Reason`], one changed part of its key, and how it reads.

use std::fmt;

use serde::Serialize;

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
    /// The step's code (or its path) changed, and the key holds no item to say which part.
    CodeChanged,
    /// What the code key covers changed: the step's code could not be keyed before, or its
    /// crate's build script did not call `tanto_build::digests()`, and now it does.
    CodeCoverChanged {
        /// What it covered, in words.
        old: String,
        /// What it covers now.
        new: String,
    },
    /// Items the step's code uses changed: its own fn, a const, a helper, a dependency.
    CodeItemsChanged {
        /// The step's own fn, with where it is, when it changed.
        own: Option<(String, String)>,
        /// Whether the own fn changed in its attributes only (`#[step(timeout = ..)]`), its
        /// signature and body as they were.
        attributes_only: bool,
        /// Other items whose digest changed, with where they are now.
        changed: Vec<(String, String)>,
        /// Items it uses now and did not before.
        added: Vec<(String, String)>,
        /// Items it no longer uses, with where they were.
        removed: Vec<(String, String)>,
    },
    /// Images the step chose at run time (`with_image`) resolve to other ids now.
    RuntimeImageChanged {
        /// The image reference.
        image: String,
        /// The id the recorded result ran.
        old: String,
        /// What it resolves to now, or why it does not resolve.
        new: String,
    },
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
    /// A value given to the step (a flag, a literal, a loop's cell, a fan-in's list) changed,
    /// and both keys kept it to show.
    ValueChanged {
        /// The parameter.
        param: String,
        /// Its previous value, as compact JSON.
        old: String,
        /// Its value now, as compact JSON.
        new: String,
    },
    /// An input produced by another step has different content.
    UpstreamChanged {
        /// The parameter.
        param: String,
        /// The step that produced it.
        upstream: String,
        /// For a folder, the paths that differ, when both trees are in the store.
        paths: Vec<String>,
        /// For a value of at most 80 bytes of JSON, what it was, when both keys kept it.
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<String>,
        /// What it is now, beside `old`.
        #[serde(skip_serializing_if = "Option::is_none")]
        new: Option<String>,
    },
    /// A list input too long to show (a fan-in's) holds another number of items.
    ItemsChanged {
        /// The parameter.
        param: String,
        /// How many items it held.
        old: usize,
        /// How many it holds now.
        new: usize,
    },
    /// The step's parameters changed (added or removed).
    ParamsChanged {
        /// Parameters that are new.
        added: Vec<String>,
        /// Parameters that are gone.
        removed: Vec<String>,
    },
}

/// `` `A` (src/lib.rs:3), `B` (src/lib.rs:9) and 2 more ``.
fn items(list: &[(String, String)]) -> String {
    let shown: Vec<String> = list
        .iter()
        .take(SHOWN_PATHS)
        .map(|(label, at)| {
            if at.is_empty() {
                label.clone()
            } else {
                format!("{label} ({at})")
            }
        })
        .collect();
    let mut text = match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] if list.len() <= SHOWN_PATHS => format!("{} and {last}", rest.join(", ")),
        all => all.join(", "),
    };
    if list.len() > SHOWN_PATHS {
        text.push_str(&format!(" and {} more", list.len() - SHOWN_PATHS));
    }
    text
}

/// An image id as `docker images` shows it: 12 hex digits without `sha256:`.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12)
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or(id)
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
            Reason::CodeCoverChanged { old, new } => write!(
                f,
                "the step's code was keyed by {old} before, and by {new} now"
            ),
            Reason::CodeItemsChanged {
                own,
                attributes_only,
                changed,
                added,
                removed,
            } => {
                f.write_str("code changed: ")?;
                let mut parts = Vec::new();
                if let Some(own) = own {
                    let what = if *attributes_only {
                        "the attributes of the step's fn"
                    } else {
                        "the step's fn"
                    };
                    parts.push(format!("{what} {}", items(std::slice::from_ref(own))));
                }
                if !changed.is_empty() {
                    parts.push(format!("{} used by this step", items(changed)));
                }
                if !added.is_empty() {
                    parts.push(format!("now uses {}", items(added)));
                }
                if !removed.is_empty() {
                    parts.push(format!("no longer uses {}", items(removed)));
                }
                f.write_str(&parts.join("; "))
            }
            Reason::RuntimeImageChanged { image, old, new } => write!(
                f,
                "image `{image}`, chosen at run time, moved from {} to {}",
                short_id(old),
                short_id(new)
            ),
            Reason::VersionChanged { old, new } => {
                write!(f, "version changed from {} to {}", show(old), show(new))
            }
            // The image is keyed by its id: the same reference moved (rebuilt, pulled again),
            // or another one, which the step's code changing says too.
            Reason::ImageChanged { old, new } => write!(
                f,
                "image changed from {} to {}",
                old.as_deref().map_or("(none)", short_id),
                new.as_deref().map_or("(none)", short_id)
            ),
            Reason::SettingChanged { name, old, new } => {
                // A file input's mode and name, which keys hold as settings, read as what
                // happened to the file.
                let input = |what: &str| {
                    (name.strip_prefix("input.")?.strip_suffix(what))
                        .and_then(|p| p.strip_suffix('.'))
                };
                if let Some(param) = input("executable") {
                    let how = if new.is_some() {
                        "made executable"
                    } else {
                        "no longer executable"
                    };
                    return write!(f, "input `{param}` {how}");
                }
                if let (Some(param), Some(old), Some(new)) = (input("name"), old, new) {
                    return write!(f, "input `{param}` renamed from `{old}` to `{new}`");
                }
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
            Reason::ValueChanged { param, old, new } => {
                write!(f, "input `{param}` changed from {old} to {new}")
            }
            Reason::ItemsChanged { param, old, new } => {
                write!(f, "input `{param}` changed from {old} to {new} items")
            }
            Reason::UpstreamChanged {
                param,
                upstream,
                paths: changed,
                old,
                new,
            } => {
                write!(f, "input `{param}` from step `{upstream}` changed")?;
                if let (Some(old), Some(new)) = (old, new) {
                    write!(f, " from {old} to {new}")?;
                }
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
