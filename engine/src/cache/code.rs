//! A step's code in its key: the digest of everything its code uses, and the per-item digests
//! that let a miss name the item that changed.
//!
//! The parts come from the step's [`CodeInfo`]: the record `tanto_build::digests()` wrote for
//! the step (format in `build/src/emit.rs`), or the crate's record when the build script did
//! not find the step, or, without that build script, the step's own tokens alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::graph::CodeInfo;
use crate::graph::StepInfo;

/// One item, dependency, `cfg` key, variable or file that a step's code digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeItem {
    /// The first 16 hex digits of its digest.
    pub digest: String,
    /// Where it is: `src/lib.rs:27`, a crate's version or path. Shown, never keyed, so moving
    /// an item re-runs nothing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
    /// Whether it is the step's own fn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own: bool,
    /// For the step's own fn: the first 16 hex digits of the digest of its signature and body
    /// alone, without its attributes, so a miss can say that only its attributes changed
    /// (`#[step(timeout = ..)]`). Shown, never keyed: the item's digest covers it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// What a step's code digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cover {
    /// What the build script found the step to use; the notes name the coarser keys it took
    /// where the sources could not tell.
    Items(Vec<String>),
    /// Every source of the crate and every dependency: the build script ran but did not find
    /// this step in the sources.
    Crate,
    /// The step's own tokens, and its package's name and version: no build script.
    Tokens,
    /// Nothing can key it: the step is never cached.
    Uncacheable(String),
}

/// A step's code, as its key holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeKey {
    /// The code digest, in hex.
    pub digest: String,
    /// Each item it covers by its label (`` `SETUP` ``, ``crate `serde` ``).
    pub items: BTreeMap<String, CodeItem>,
    /// What the digest covers.
    pub cover: Cover,
}

/// The version of the records `tanto-build` writes that this runtime reads.
const RECORD_FORMAT: &str = "1";

impl CodeKey {
    /// The code key of `info`.
    ///
    /// ```
    /// use tanto::__internal::cache::{CodeKey, Cover};
    /// use tanto::__internal::graph::{CodeInfo, StepInfo, StepSettings};
    ///
    /// let mut info = StepInfo {
    ///     name: "a", path: "app::a", doc: "", tokens: "c0de", code: CodeInfo::NONE,
    ///     params: &[], output: "()", settings: StepSettings::DEFAULT,
    /// };
    /// assert_eq!(CodeKey::of(&info).cover, Cover::Tokens);
    /// info.code.record = Some("1;ab12;`a`;;`a`|src/lib.rs:3|00112233aabbccdd");
    /// let key = CodeKey::of(&info);
    /// assert_eq!(key.cover, Cover::Items(vec![]));
    /// assert_eq!(key.items["`a`"].at, "src/lib.rs:3");
    /// assert!(key.items["`a`"].own);
    /// ```
    pub fn of(info: &StepInfo) -> Self {
        let code = &info.code;
        let mut h = blake3::Hasher::new();
        h.update(b"tanto code key v2\0");
        part(&mut h, info.name);
        part(&mut h, info.tokens);
        part(&mut h, if code.cfg_test { "test" } else { "" });
        let (cover, mut items) = match (code.record, code.crate_record) {
            (Some(record), _) => {
                let (cover, mut items) = parse(record, &mut h, "items");
                compiled(code.compiled, &mut h, &mut items);
                (cover, items)
            }
            (None, Some(record)) => match parse(record, &mut h, "crate") {
                (Cover::Items(_), mut items) => {
                    compiled(code.compiled, &mut h, &mut items);
                    (Cover::Crate, items)
                }
                other => other,
            },
            (None, None) => {
                part(&mut h, "tokens");
                part(&mut h, code.package.unwrap_or(""));
                part(&mut h, code.version.unwrap_or(""));
                (Cover::Tokens, BTreeMap::new())
            }
        };
        if let Some(own) = items.values_mut().find(|i| i.own) {
            own.body = blake3::hash(info.tokens.as_bytes()).to_hex()[..16].to_owned();
        }
        Self {
            digest: h.finalize().to_hex().to_string(),
            items,
            cover,
        }
    }

    /// Why the step is never cached, if it is not.
    pub fn uncacheable(&self) -> Option<&str> {
        match &self.cover {
            Cover::Uncacheable(why) => Some(why),
            _ => None,
        }
    }

    /// What `--plan` says about the key, when it covers less or more than the items the step
    /// uses, or nothing.
    pub fn note(&self) -> Option<String> {
        match &self.cover {
            Cover::Items(notes) if notes.is_empty() => None,
            Cover::Items(notes) => Some(format!("code also keyed by {}", notes.join("; "))),
            Cover::Crate => Some(
                "code keyed by every source of its crate: the build script found no `#[step]` fn with these tokens (made by a macro?)".into(),
            ),
            Cover::Tokens => Some(
                "code keyed by the step's own tokens only: its crate's build script does not call `tanto_build::digests()`, so the items the step uses are not covered".into(),
            ),
            Cover::Uncacheable(why) => Some(format!("code cannot be keyed ({why}), so never cached")),
        }
    }
}

/// Keys the values the step was compiled with for what its record marks as read when
/// compiled, and gives their items those values' digests, so a miss names the one that changed.
fn compiled(
    values: &[(&str, Option<&str>)],
    h: &mut blake3::Hasher,
    items: &mut BTreeMap<String, CodeItem>,
) {
    for (label, value) in values {
        let value = value.unwrap_or("\0unset");
        part(h, label);
        part(h, value);
        if let Some(item) = items.get_mut(*label) {
            item.digest = blake3::hash(value.as_bytes()).to_hex()[..16].to_owned();
        }
    }
}

fn part(h: &mut blake3::Hasher, text: &str) {
    h.update(&(text.len() as u64).to_le_bytes());
    h.update(text.as_bytes());
}

/// Reads a record into `h`, tagged `kind`: its cover and items.
fn parse(record: &str, h: &mut blake3::Hasher, kind: &str) -> (Cover, BTreeMap<String, CodeItem>) {
    let fields: Vec<&str> = record.split(';').collect();
    let [format, digest, own, notes, entries @ ..] = fields.as_slice() else {
        return (
            Cover::Uncacheable("its code record cannot be read".into()),
            BTreeMap::new(),
        );
    };
    if *format != RECORD_FORMAT {
        let why = format!(
            "its code record has format {format}, and this tanto reads {RECORD_FORMAT}: use the same versions of tanto and tanto-build"
        );
        return (Cover::Uncacheable(why), BTreeMap::new());
    }
    let mut notes: Vec<String> = notes
        .split('|')
        .filter(|n| !n.is_empty())
        .map(unescape)
        .collect();
    if digest.is_empty() {
        let why = if notes.is_empty() {
            "no reason given".to_owned()
        } else {
            notes.remove(0)
        };
        return (Cover::Uncacheable(why), BTreeMap::new());
    }
    part(h, kind);
    part(h, digest);
    let own = unescape(own);
    let mut items = BTreeMap::new();
    for entry in entries {
        let mut parts = entry.split('|').map(unescape);
        let (Some(label), Some(at), Some(digest)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let own = label == own;
        items.insert(
            label,
            CodeItem {
                digest,
                at,
                own,
                body: String::new(),
            },
        );
    }
    (Cover::Items(notes), items)
}

fn unescape(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hex: String = chars.by_ref().take(2).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(decoded) => out.push(decoded),
                None => {
                    out.push('%');
                    out.push_str(&hex);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// For a [`CodeInfo`] that a test builds: the record `tanto-build` would write for a step
/// whose code digest is `digest` and whose entries are `(label, at, digest16)`.
#[doc(hidden)]
pub fn record_text(digest: &str, own: &str, entries: &[(&str, &str, &str)]) -> String {
    let mut out = format!("{RECORD_FORMAT};{digest};{own};");
    for (label, at, d) in entries {
        out.push_str(&format!(";{label}|{at}|{d}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{CodeInfo, StepSettings};

    fn info(code: CodeInfo) -> StepInfo {
        StepInfo {
            name: "a",
            path: "app::a",
            doc: "",
            tokens: "c0de",
            code,
            params: &[],
            output: "()",
            settings: StepSettings::DEFAULT,
        }
    }

    #[test]
    fn each_cover_keys_differently_and_says_so() {
        let tokens = CodeKey::of(&info(CodeInfo::NONE));
        let versioned = CodeKey::of(&info(CodeInfo {
            version: Some("0.2.0"),
            ..CodeInfo::NONE
        }));
        assert_ne!(
            tokens.digest, versioned.digest,
            "a new version of the package re-keys"
        );
        assert!(tokens.note().is_some_and(|n| n.contains("not covered")));

        let crate_wide = CodeKey::of(&info(CodeInfo {
            crate_record: Some("1;aa;;;the crate|x|00"),
            ..CodeInfo::NONE
        }));
        assert_eq!(crate_wide.cover, Cover::Crate);
        assert_ne!(crate_wide.digest, tokens.digest);

        let escaped =
            "1;bb;`a`;every dependency, since `x%3B y` is not resolved;`a`|src/lib.rs:1|01";
        let items = CodeKey::of(&info(CodeInfo {
            record: Some(escaped),
            crate_record: Some("1;aa;;;"),
            ..CodeInfo::NONE
        }));
        assert_eq!(
            items.cover,
            Cover::Items(vec![
                "every dependency, since `x; y` is not resolved".into()
            ])
        );
        let uncacheable = CodeKey::of(&info(CodeInfo {
            record: Some("1;;`a`;`a` reads a file whose path is not a literal;"),
            ..CodeInfo::NONE
        }));
        assert_eq!(
            uncacheable.uncacheable(),
            Some("`a` reads a file whose path is not a literal")
        );
        let foreign = CodeKey::of(&info(CodeInfo {
            record: Some("9;bb;;;"),
            ..CodeInfo::NONE
        }));
        assert!(
            foreign
                .uncacheable()
                .is_some_and(|w| w.contains("format 9"))
        );
        // What the build script could not see is keyed by the value it was compiled with.
        let record = "1;cc;`a`;;`a`|src/lib.rs:1|01;env `V`|read when compiled|02";
        let compiled = |value| {
            CodeKey::of(&info(CodeInfo {
                record: Some(record),
                compiled: match value {
                    Some("v1") => &[("env `V`", Some("v1"))],
                    Some(_) => &[("env `V`", Some("v2"))],
                    None => &[("env `V`", None)],
                },
                ..CodeInfo::NONE
            }))
        };
        let (v1, v2, unset) = (compiled(Some("v1")), compiled(Some("v2")), compiled(None));
        assert_ne!(v1.digest, v2.digest);
        assert_ne!(v1.digest, unset.digest);
        assert_ne!(v1.items["env `V`"], v2.items["env `V`"], "a miss names it");
        assert_eq!(v1.items["`a`"], v2.items["`a`"]);
        // So is a step keyed by the crate's record.
        let by_crate = |compiled| {
            CodeKey::of(&info(CodeInfo {
                crate_record: Some("1;dd;;;the crate|x|00;env `V`|read when compiled|02"),
                compiled,
                ..CodeInfo::NONE
            }))
            .digest
        };
        assert_ne!(
            by_crate(&[("env `V`", Some("v1"))]),
            by_crate(&[("env `V`", Some("v2"))])
        );
        let in_test = CodeKey::of(&info(CodeInfo {
            cfg_test: true,
            ..CodeInfo::NONE
        }));
        assert_ne!(
            in_test.digest, tokens.digest,
            "a unit test's build is another build"
        );
    }
}
