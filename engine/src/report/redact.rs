//! The one redactor every byte passes through on its way out of tanto: each form of a run's
//! secrets that could appear in text is replaced by `***`.
//!
//! The forms are the value itself, each line of a value of several lines, its base64
//! (standard and URL-safe, with and without padding, and the part of it that a longer text's
//! base64 shows wherever the value starts in that text: `user:TOKEN` in a Basic auth header)
//! and its URL encoding in any spelling (any characters escaped, hex digits of either case,
//! `+` for a space), and the value and each of its lines as Rust's `{:?}` and JSON escape them
//! (a password holding `"` or `\`, or a line of a JSON key file, in an error's
//! `format!("{:?}", ..)`). Output reaches the redactor as whole lines (a command's chunks are
//! joined into lines first), so a value that a command writes in two pieces is caught as the
//! line it makes.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// What a redacted form becomes.
pub const MASK: &str = "***";

/// The shortest line of a secret of several lines, or encoding, that is redacted on its own:
/// shorter ones (a lone `}` of a JSON key) would blank out ordinary text.
const MIN_FORM: usize = 4;

/// The forms of the run's secrets, longest first so that a form inside another is not
/// replaced before the one that holds it.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// The literal forms, longest first.
    forms: Vec<String>,
    /// The values themselves, which the URL decoding matcher compares with.
    values: Vec<String>,
}

impl Redactor {
    /// Adds every form of `value`.
    pub fn add(&mut self, value: &str) {
        if value.is_empty() || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_owned());
        let mut forms = vec![value.to_owned()];
        let lines: Vec<&str> = value.lines().map(|l| l.trim_end_matches('\r')).collect();
        // The value and each of its lines, as a command may print any one line of a file.
        let mut plain = vec![value];
        if lines.len() > 1 {
            plain.extend(lines.iter().copied());
            forms.extend(lines.iter().map(|l| (*l).to_owned()));
        }
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            forms.push(engine.encode(value));
        }
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            forms.extend((0..3).map(|shift| base64_core(&engine, value.as_bytes(), shift)));
        }
        // Its usual URL encoding, which `url_match` finds too, for `::add-mask::`.
        forms.push(
            value
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect(),
        );
        // The value and each of its lines as Rust's `{:?}` and JSON quote them (`"` and `\`
        // escaped, control characters spelt out), without the quotes: at least as long as what
        // they quote, so they count as it does (a line of a JSON key file in an error's
        // `format!("{:?}", out.stdout)`).
        let escaped = plain.iter().flat_map(|text| {
            let debug = format!("{text:?}");
            let json = serde_json::Value::from(*text).to_string();
            [debug, json].map(move |q| (*text, q[1..q.len() - 1].to_owned()))
        });
        let escaped: Vec<(&str, String)> = escaped.collect();
        for form in forms {
            let counts = form == value || form.chars().count() >= MIN_FORM;
            if counts && !form.is_empty() && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        for (text, form) in escaped {
            let counts = text == value || text.chars().count() >= MIN_FORM;
            if counts && !form.is_empty() && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The length in bytes of the longest text one secret can take in output: how far past
    /// a cut a line must be read for a secret that straddles the cut to be found whole.
    pub fn longest(&self) -> usize {
        let encoded = self.values.iter().map(|v| 3 * v.len()).max().unwrap_or(0);
        self.forms.first().map_or(0, String::len).max(encoded)
    }

    /// The forms that are fixed text, for `::add-mask::` under GitHub Actions: each line of
    /// each (all but the URL encodings' other spellings, which only `redact` finds).
    pub fn mask_lines(&self) -> impl Iterator<Item = &str> {
        self.forms
            .iter()
            .map(String::as_str)
            .filter(|f| !f.contains('\n'))
    }

    /// `text` with every form replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let found = self.find(text);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(masked(text, &found, text.len()))
    }

    /// `text` redacted and cut at byte `cut` (at a character boundary at or before it): a
    /// secret that starts before the cut and ends after it is masked whole, so no part of it
    /// shows. `text` must reach [`longest`](Self::longest) bytes past the cut for that.
    pub fn redact_cut(&self, text: &str, cut: usize) -> String {
        let mut end = cut.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let found: Vec<Range<usize>> = self
            .find(text)
            .into_iter()
            .filter(|r| r.start < end)
            .collect();
        masked(text, &found, end)
    }

    /// `text` for a line of an error: as it is when it fits in `max` bytes (the error is
    /// redacted whole where it is shown), else redacted, cut at `max`
    /// ([`redact_cut`](Self::redact_cut)) and marked with `…`.
    pub fn shorten(&self, text: &str, max: usize) -> String {
        if text.len() <= max {
            return text.to_owned();
        }
        format!("{}…", self.redact_cut(text, max))
    }

    /// Where the forms are in `text`, in order and apart: in `text` as it is, and in `text` as
    /// it shows without its colour codes, where a code inside a secret no longer parts it
    /// (such a secret is masked with the codes inside it).
    fn find(&self, text: &str) -> Vec<Range<usize>> {
        let mut found = self.find_in(text);
        if !text.contains("\u{1b}[") {
            return found;
        }
        let (shown, from) = crate::shown::csi::visible(text);
        for r in self.find_in(&shown) {
            let mut range = from[r.start]..from[r.end - 1] + 1;
            // One range for what overlaps, so no part of either shows.
            found.retain(|f| {
                let apart = !overlap(f, &range);
                if !apart {
                    range = range.start.min(f.start)..range.end.max(f.end);
                }
                apart
            });
            found.push(range);
        }
        found.sort_by_key(|r| r.start);
        found
    }

    /// Where the forms are in `text` as it is, in order and apart.
    fn find_in(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = Vec::new();
        for form in &self.forms {
            for (at, _) in text.match_indices(form.as_str()) {
                let range = at..at + form.len();
                if !found.iter().any(|r| overlap(r, &range)) {
                    found.push(range);
                }
            }
        }
        // A spelling that differs from the value has a `%` or a `+`; most lines have neither.
        let values = if text.contains(['%', '+']) {
            self.values.as_slice()
        } else {
            &[]
        };
        for value in values {
            let mut at = 0;
            while at < text.len() {
                let taken = found.iter().find(|r| r.contains(&at)).map(|r| r.end);
                if let Some(end) = taken {
                    at = end;
                } else if let Some(end) = url_match(text, at, value.as_bytes()) {
                    let range = at..end;
                    if !found.iter().any(|r| overlap(r, &range)) {
                        found.push(range);
                        at = end;
                        continue;
                    }
                    at += 1;
                } else {
                    at += 1;
                }
            }
        }
        found.sort_by_key(|r| r.start);
        found
    }

    /// Replaces, in place, every form inside the strings of a JSON value (keys too).
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&k).into_owned(), v);
                }
            }
            _ => {}
        }
    }
}

/// `text` up to byte `end` with each of `found` (sorted, apart) replaced by [`MASK`]; a range
/// that starts before `end` is masked whole.
fn masked(text: &str, found: &[Range<usize>], end: usize) -> String {
    let mut out = String::with_capacity(end);
    let mut at = 0;
    for r in found {
        out.push_str(&text[at..r.start]);
        out.push_str(MASK);
        at = r.end;
    }
    if at < end {
        out.push_str(&text[at..end]);
    }
    out
}

fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// The characters of the base64 of `value` that depend on its bytes alone when it starts
/// `shift` bytes (0 to 2) past a multiple of three in the encoded text: what shows of it
/// wherever it sits in a longer value, whatever comes before and after.
fn base64_core(engine: &impl base64::Engine, value: &[u8], shift: usize) -> String {
    let mut padded = vec![0; shift];
    padded.extend_from_slice(value);
    let encoded = engine.encode(&padded);
    let first = (8 * shift).div_ceil(6);
    let last = (8 * (shift + value.len())) / 6;
    encoded.get(first..last).unwrap_or_default().to_owned()
}

/// The end of the URL encoding of `value` that starts at byte `at` of `text`, if one does:
/// each byte of `value` either as itself or as `%XX` in either case, and a space also as `+`.
fn url_match(text: &str, at: usize, value: &[u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = at;
    let mut escaped = false;
    for &want in value {
        let b = *bytes.get(i)?;
        if b == b'%'
            && let Some(decoded) = hex_byte(bytes.get(i + 1..i + 3))
            && decoded == want
        {
            i += 3;
            escaped = true;
        } else if b == want || (b == b'+' && want == b' ') {
            escaped |= b != want;
            i += 1;
        } else {
            return None;
        }
    }
    (escaped && text.is_char_boundary(i)).then_some(i)
}

fn hex_byte(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair?;
    let digit = |c: u8| (c as char).to_digit(16);
    u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
