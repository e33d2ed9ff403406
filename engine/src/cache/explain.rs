//! Explaining a cache miss: which part of a step's key changed, down to file paths.
//!
//! [`explain`] compares the step's previous [`KeyRecord`] with the new one. For folder inputs
//! it diffs the two root trees, which the run stored when it hashed them (trees only, no file
//! contents), so the reason names the paths that differ.

use crate::cache::code::Cover;
use crate::cache::key::{ArtifactKind, KeyRecord};
use crate::cache::reason::Reason;
use crate::cache::tree::{TreeDiff, TreeSource, diff_trees};

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
        reasons.push(code_reason(old, new));
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
                let (old, new) = match (&a.value, &b.value) {
                    (Some(old), Some(new)) => (Some(old.clone()), Some(new.clone())),
                    _ => (None, None),
                };
                Reason::UpstreamChanged {
                    param,
                    upstream: upstream.clone(),
                    paths,
                    old,
                    new,
                }
            }
            None => match (&a.value, &b.value, a.items, b.items) {
                (Some(old), Some(new), ..) => Reason::ValueChanged {
                    param,
                    old: old.clone(),
                    new: new.clone(),
                },
                // A list too long to show: its length, when that changed.
                (.., Some(old), Some(new)) if old != new => {
                    Reason::ItemsChanged { param, old, new }
                }
                _ => Reason::InputChanged {
                    param,
                    added: diff.added,
                    removed: diff.removed,
                    modified: diff.modified,
                },
            },
        });
    }
    reasons
}

/// Which items of the step's code changed, when both keys list them.
fn code_reason(old: &KeyRecord, new: &KeyRecord) -> Reason {
    if old.code_items.is_empty() || new.code_items.is_empty() {
        // A key from before covers were recorded says nothing of what it covered.
        let covers = |key: &KeyRecord| match &key.code_cover {
            _ if !key.code_items.is_empty() => Some(covered(&Cover::Items(Vec::new()))),
            Some(cover) => Some(covered(cover)),
            None => None,
        };
        return match (covers(old), covers(new)) {
            (Some(old), Some(new)) if old != new => Reason::CodeCoverChanged { old, new },
            _ => Reason::CodeChanged,
        };
    }
    let located = |(label, item): (&String, &crate::cache::CodeItem)| {
        (label.clone(), new.item_place(label, item))
    };
    let mut own = None;
    let mut attributes_only = false;
    let mut changed = Vec::new();
    for (label, item) in &new.code_items {
        let Some(was) = old.code_items.get(label) else {
            continue;
        };
        if was.digest != item.digest {
            if item.own {
                own = Some(located((label, item)));
                attributes_only = !item.body.is_empty() && was.body == item.body;
            } else if label.starts_with("crate `") && !was.at.is_empty() && was.at != item.at {
                // A dependency's place is its version: what it was, and is.
                changed.push((label.clone(), format!("from {} to {}", was.at, item.at)));
            } else {
                changed.push(located((label, item)));
            }
        }
    }
    let added: Vec<(String, String)> = new
        .code_items
        .iter()
        .filter(|(label, _)| !old.code_items.contains_key(*label))
        .map(located)
        .collect();
    let removed: Vec<(String, String)> = old
        .code_items
        .iter()
        .filter(|(label, _)| !new.code_items.contains_key(*label))
        .map(located)
        .collect();
    if own.is_none() && changed.is_empty() && added.is_empty() && removed.is_empty() {
        return Reason::CodeChanged;
    }
    Reason::CodeItemsChanged {
        own,
        attributes_only,
        changed,
        added,
        removed,
    }
}

/// What a code key covers, in words.
fn covered(cover: &Cover) -> String {
    match cover {
        Cover::Items(_) => "the items it uses".to_owned(),
        Cover::Crate => "every source of its crate".to_owned(),
        Cover::Tokens => {
            "its own tokens alone (no `tanto_build::digests()` in its crate's build script)"
                .to_owned()
        }
        Cover::Uncacheable(why) => format!("nothing (it could not be keyed: {why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Trees;
    use serde_json::json;

    fn reasons(change: impl Fn(&mut KeyRecord)) -> Vec<String> {
        let mut old = KeyRecord::new("ci::read", "code");
        old.input_setting("notes", "name", "notes.txt");
        let mut new = old.clone();
        change(&mut new);
        let reasons = explain(Some(&old), &new, &Trees::new());
        reasons.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_file_inputs_mode_and_name_read_as_what_happened_to_the_file() {
        assert_eq!(
            reasons(|k| k.input_setting("notes", "executable", "true")),
            ["input `notes` made executable"]
        );
        assert_eq!(
            reasons(|k| k.input_setting("notes", "name", "notes2.txt")),
            ["input `notes` renamed from `notes.txt` to `notes2.txt`"]
        );
        // Another setting keeps its plain form.
        assert_eq!(
            reasons(|k| k.input_setting("notes", "image", "sha256:1")),
            ["setting `input.notes.image` changed from (none) to sha256:1"]
        );
    }

    #[test]
    fn a_changed_value_reads_as_what_it_was_and_is() {
        let value = |v: serde_json::Value, upstream: Option<&str>| {
            crate::cache::InputRecord::of(&crate::artifact::Artifact::Value(v), upstream)
        };
        let change = |a, b| {
            let old = KeyRecord::new("ci::read", "code").input("toolchain", a);
            let new = KeyRecord::new("ci::read", "code").input("toolchain", b);
            let reasons = explain(Some(&old), &new, &Trees::new());
            reasons.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(
            change(value(json!("1.80"), None), value(json!("1.81"), None)),
            ["input `toolchain` changed from \"1.80\" to \"1.81\""]
        );
        assert_eq!(
            change(value(json!(3), None), value(json!({"a": [1]}), None)),
            ["input `toolchain` changed from 3 to {\"a\":[1]}"]
        );
        // A value too long to keep is named only.
        let long = json!("x".repeat(100));
        assert_eq!(
            change(value(json!("1.80"), None), value(long.clone(), None)),
            ["input `toolchain` changed"]
        );
        // One a step made is named with that step.
        assert_eq!(
            change(value(json!(1), Some("make")), value(json!(2), Some("make"))),
            ["input `toolchain` from step `make` changed from 1 to 2"]
        );
        assert_eq!(
            change(
                value(json!(1), Some("make")),
                value(long.clone(), Some("make"))
            ),
            ["input `toolchain` from step `make` changed"]
        );
        // A list too long to show says how many items it held and holds.
        let list = |n: usize| value(json!(vec![long.clone(); n]), None);
        assert_eq!(
            change(list(2), list(3)),
            ["input `toolchain` changed from 2 to 3 items"]
        );
    }
}
