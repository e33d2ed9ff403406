//! The one redactor every byte passes through on its way out of tanto: each form of a run's
//! secrets that could appear in text is replaced by `***`.
//!
//! The forms are the value itself, each line of a value of several lines, its base64 (standard
//! and URL-safe, with and without padding) and its URL encoding. Output reaches the redactor
//! as whole lines (a command's chunks are joined into lines first), so a value that a command
//! writes in two pieces is caught as the line it makes.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// What a redacted form becomes.
pub const MASK: &str = "***";

/// The shortest line of a secret of several lines, or encoding, that is redacted on its own:
/// shorter ones (a lone `}` of a JSON key) would blank out ordinary text.
const MIN_FORM: usize = 4;

/// The forms of the run's secrets, longest first so that a form inside another is not
/// replaced before the one that holds it.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    forms: Vec<String>,
}

impl Redactor {
    /// Adds every form of `value`.
    pub fn add(&mut self, value: &str) {
        let mut forms = vec![value.to_owned()];
        let mut lines: Vec<&str> = value.lines().map(|l| l.trim_end_matches('\r')).collect();
        if lines.len() < 2 {
            lines.clear();
        }
        let encoded = [
            STANDARD.encode(value),
            STANDARD_NO_PAD.encode(value),
            URL_SAFE.encode(value),
            URL_SAFE_NO_PAD.encode(value),
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        ];
        forms.extend(lines.into_iter().map(str::to_owned));
        forms.extend(encoded);
        for form in forms {
            let counts = form == value || form.chars().count() >= MIN_FORM;
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

    /// The values themselves, for `::add-mask::` under GitHub Actions: each line of each.
    pub fn mask_lines(&self) -> impl Iterator<Item = &str> {
        self.forms
            .iter()
            .map(String::as_str)
            .filter(|f| !f.contains('\n'))
    }

    /// `text` with every form replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), MASK));
            }
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_masked() {
        let mut r = Redactor::default();
        r.add("s3cr3t-t0ken/+x");
        let text = format!(
            "plain s3cr3t-t0ken/+x b64 {} url {} pct {}",
            STANDARD.encode("s3cr3t-t0ken/+x"),
            URL_SAFE_NO_PAD.encode("s3cr3t-t0ken/+x"),
            utf8_percent_encode("s3cr3t-t0ken/+x", NON_ALPHANUMERIC)
        );
        assert_eq!(r.redact(&text), "plain *** b64 *** url *** pct ***");
        assert_eq!(r.redact("nothing here"), "nothing here");
    }

    #[test]
    fn each_line_of_a_secret_of_several_lines_is_masked() {
        let mut r = Redactor::default();
        r.add("-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----\n");
        assert_eq!(r.redact("line: AAAAB3NzaC1yc2E"), "line: ***");
        assert_eq!(r.redact("-----END KEY-----"), "***");
    }

    #[test]
    fn json_values_are_masked_in_keys_and_strings() {
        let mut r = Redactor::default();
        r.add("hunter22");
        let mut v = serde_json::json!({"hunter22": ["x hunter22 y", 1]});
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"***": ["x *** y", 1]}));
    }
}
