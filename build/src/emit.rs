//! From what a step reaches to its record: one entry per item, dependency, `cfg` key,
//! variable and file, each with its digest; the step's code digest over all of them; and the
//! text the runtime reads (`tanto::__private::CodeInfo`), passed to rustc in a variable.
//!
//! A record is `1;DIGEST;SELF;NOTES;ENTRY;ENTRY..`: `DIGEST` the code digest in hex (empty when
//! the step cannot be keyed, NOTES then saying why), `SELF` the step's own entry, `NOTES` the
//! fallbacks taken (`|`-separated), each `ENTRY` `LABEL|AT|DIGEST16`. Fields are
//! percent-escaped. The runtime's `cache/code.rs` reads the same format.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::deps::Deps;
use crate::files::hash_rust_files;
use crate::load::Crate;
use crate::reach::Reach;
use crate::tokens::{field, unit_digest};
use tanto_tokens::compiled::READ_WHEN_COMPILED;

/// What an unset variable or `cfg` key is hashed as.
const UNSET: &str = "\0unset";

/// The format of a record; the runtime refuses another.
const FORMAT: &str = "1";

/// Entries listed in a record beyond this many are folded into one, to keep the variable
/// small; the code digest still covers every one.
pub(crate) const LISTED: usize = 200;

/// One thing a step's code digest covers.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) label: String,
    pub(crate) at: String,
    pub(crate) digest: blake3::Hash,
}

/// Computes entries for the reaches of one package.
pub(crate) struct Composer<'a> {
    pub(crate) package: &'a Path,
    pub(crate) deps: &'a Deps,
    /// The package's library crate name, and its identity, for a binary or test that uses it.
    pub(crate) own_lib: Option<(String, blake3::Hash)>,
    pub(crate) units: HashMap<(usize, usize), blake3::Hash>,
    /// The digest of every Rust file of the package, once needed.
    pub(crate) all_files: Option<blake3::Hash>,
}

impl Composer<'_> {
    /// The entries of `reach` in crate `krate` (number `root` of the package), and whether the
    /// step cannot be keyed.
    pub(crate) fn entries(
        &mut self,
        root: usize,
        krate: &Crate,
        reach: &Reach,
    ) -> (Vec<Entry>, Option<String>) {
        let mut out = Vec::new();
        let mut uncacheable = reach.uncacheable.clone();
        for &id in &reach.items {
            let item = &krate.items[id];
            let digest = *self
                .units
                .entry((root, id))
                .or_insert_with(|| unit_digest(&item.tokens));
            out.push(Entry {
                label: format!("`{}`", item.label),
                at: item.at.clone(),
                digest,
            });
        }
        let mut identities = Vec::new();
        if reach.all_deps {
            identities.extend(self.deps.all());
        }
        for name in &reach.crates {
            match &self.own_lib {
                Some((lib, digest)) if lib == name => out.push(Entry {
                    label: format!("crate `{lib}`"),
                    at: "this package's library".into(),
                    digest: *digest,
                }),
                _ => identities.push(self.deps.identity(name)),
            }
        }
        for identity in identities {
            match identity.digest {
                Ok(digest) => out.push(Entry {
                    label: identity.label,
                    at: identity.at,
                    digest,
                }),
                Err(why) => {
                    uncacheable.get_or_insert(why);
                }
            }
        }
        // What the build script cannot see (unset here, maybe set by this very build script
        // for rustc alone) the step's expansion reads when it is compiled.
        let unseen = |seen: bool| {
            if seen {
                String::new()
            } else {
                READ_WHEN_COMPILED.to_owned()
            }
        };
        for key in &reach.cfgs {
            let value = cfg_value(key);
            out.push(Entry {
                label: format!("cfg `{key}`"),
                at: unseen(value != UNSET),
                digest: blake3::hash(value.as_bytes()),
            });
        }
        for name in &reach.envs {
            let value = std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
            out.push(Entry {
                label: format!("env `{name}`"),
                at: unseen(value.is_some()),
                digest: blake3::hash(value.as_deref().unwrap_or(UNSET).as_bytes()),
            });
        }
        for file in &reach.files {
            let shown = file
                .strip_prefix(self.package)
                .unwrap_or(file)
                .display()
                .to_string();
            let bytes = std::fs::read(file).unwrap_or_else(|_| b"\0missing".to_vec());
            out.push(Entry {
                label: format!("file `{shown}`"),
                at: String::new(),
                digest: blake3::hash(&bytes),
            });
        }
        if reach.crate_files {
            let package = self.package;
            let digest = *self.all_files.get_or_insert_with(|| {
                let mut h = blake3::Hasher::new();
                hash_rust_files(package, &mut h, &mut Vec::new());
                h.finalize()
            });
            out.push(Entry {
                label: "the crate's files".into(),
                at: String::new(),
                digest,
            });
        }
        (unique(out), uncacheable)
    }
}

/// What `cfg(key)` is for the crate being built, as cargo tells build scripts.
fn cfg_value(key: &str) -> String {
    match key {
        "feature" => {
            let mut on: Vec<String> = std::env::vars()
                .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
                .collect();
            on.sort();
            on.join(",")
        }
        // The expansion adds `cfg!(test)` to every step's digest itself.
        "test" => String::new(),
        _ => std::env::var(format!("CARGO_CFG_{}", key.to_uppercase()))
            .unwrap_or_else(|_| UNSET.into()),
    }
}

/// Sorted by label, a repeated label numbered.
fn unique(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| a.label.cmp(&b.label).then_with(|| a.at.cmp(&b.at)));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in &mut entries {
        let n = seen.entry(e.label.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            e.label = format!("{} #{n}", e.label);
        }
    }
    entries
}

/// The code digest over `entries`: labels and digests, never locations, so moving an item
/// changes nothing.
pub(crate) fn code_digest(entries: &[Entry]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"tanto code v1\0");
    for e in entries {
        field(&mut h, b'l', e.label.as_bytes());
        field(&mut h, b'd', e.digest.as_bytes());
    }
    h.finalize()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | ';' | '|' | '\n' | '\r' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The record of a step (or of the crate) whose own entry is `own`, listing at most `listed`
/// entries (the rest folded into one).
pub(crate) fn record(
    entries: &[Entry],
    own: &str,
    notes: &[String],
    uncacheable: Option<&str>,
    listed: usize,
) -> String {
    let digest = match uncacheable {
        Some(_) => String::new(),
        None => code_digest(entries).to_hex().to_string(),
    };
    let mut notes: Vec<String> = notes.to_vec();
    if let Some(why) = uncacheable {
        notes.insert(0, why.to_owned());
    }
    let notes: Vec<String> = notes.iter().map(|n| escape(n)).collect();
    let mut out = format!("{FORMAT};{digest};{};{}", escape(own), notes.join("|"));
    // What the expansion reads when compiled is listed first, so no fold hides it from it.
    let mut entries: Vec<&Entry> = entries.iter().collect();
    entries.sort_by_key(|e| e.at != READ_WHEN_COMPILED);
    let compiled = entries
        .iter()
        .filter(|e| e.at == READ_WHEN_COMPILED)
        .count();
    let listed = listed.max(compiled);
    for e in entries.iter().take(listed) {
        let hex = e.digest.to_hex();
        out.push_str(&format!(
            ";{}|{}|{}",
            escape(&e.label),
            escape(&e.at),
            &hex[..16]
        ));
    }
    if entries.len() > listed {
        let rest: Vec<Entry> = entries[listed..].iter().map(|e| (*e).clone()).collect();
        let rest = code_digest(&rest).to_hex();
        let more = entries.len() - listed;
        out.push_str(&format!(";{more} more items||{}", &rest[..16]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_read_when_compiled_is_listed_however_many_entries_there_are() {
        let entry = |label: String, at: &str| Entry {
            label,
            at: at.to_owned(),
            digest: blake3::hash(b"x"),
        };
        let mut entries: Vec<Entry> = (0..300)
            .map(|i| entry(format!("`item{i:03}`"), "src/lib.rs:1"))
            .collect();
        entries.push(entry("env `ZZ_LAST`".into(), READ_WHEN_COMPILED));
        let text = record(&entries, "`item000`", &[], None, LISTED);
        let read = tanto_tokens::compiled::read_when_compiled(&text);
        assert_eq!(read.len(), 1, "{text}");
        assert!(text.contains(";101 more items||"), "{text}");
        // Even where records list nothing else, to fit rustc's environment.
        let text = record(&entries, "`item000`", &[], None, 0);
        assert_eq!(tanto_tokens::compiled::read_when_compiled(&text).len(), 1);
        assert!(text.contains(";300 more items||"), "{text}");
        // The digest is over every entry, whatever the listing's order.
        assert!(text.starts_with(&format!("1;{};", code_digest(&entries).to_hex())));
    }
}
