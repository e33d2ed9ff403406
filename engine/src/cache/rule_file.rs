//! One ignore-rule file (`.ignore`, `.gitignore` or `info/exclude`) compiled for matching.
//!
//! Each line is turned into a glob (`cache/glob`, `globset`'s syntax) exactly as the `ignore`
//! crate's `gitignore` module turns it (comments, trailing spaces, `\!` and `\#`, `!` for a
//! whitelist, a leading `/` to anchor, a trailing `/` for folders only, `**/` before a pattern
//! without a `/`, `/*` after one ending in `/**`), and a path is matched the same way: the last
//! pattern that names it wins, a folder-only pattern naming a folder. So the walk keeps what
//! that crate's walker kept (`rule_file_tests.rs` checks both against it), without the crate
//! and the walker, thread pool and file-system crates it brings into a user's build.

use std::io::BufRead as _;
use std::path::Path;

use super::glob::Glob;

/// The patterns of one rule file, compiled; empty when it has none.
pub(crate) struct RuleFile {
    /// Each pattern, in the file's order.
    patterns: Vec<Pattern>,
}

/// One line's pattern and what its match means.
struct Pattern {
    glob: Glob,
    /// `!pattern`: a match keeps the entry.
    whitelist: bool,
    /// `pattern/`: only folders match.
    only_dir: bool,
}

impl RuleFile {
    /// A file with no rules.
    pub(crate) fn empty() -> Self {
        Self {
            patterns: Vec::new(),
        }
    }

    /// Whether the file has no rules.
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The rules of the file at `path`. A missing or unreadable file adds no rule; a line
    /// that is not UTF-8 or not a valid pattern is skipped, and a read error ends the file.
    pub(crate) fn read(path: &Path) -> Self {
        let Ok(file) = std::fs::File::open(path) else {
            return Self::empty();
        };
        let mut rules = Builder {
            patterns: Vec::new(),
        };
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = match line {
                Ok(line) => line,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
                Err(_) => break,
            };
            // A byte-order mark before the first line is not part of it, as git reads it.
            let line = if i == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                &line
            };
            rules.add_line(line);
        }
        rules.build()
    }

    /// How the rules judge `path` (relative to the file's folder): `Some(true)` ignored,
    /// `Some(false)` kept by a whitelist, `None` when no rule names it.
    pub(crate) fn matched(&self, path: &Path, is_dir: bool) -> Option<bool> {
        self.patterns
            .iter()
            .rev()
            .find(|p| (is_dir || !p.only_dir) && p.glob.is_match(path))
            .map(|p| !p.whitelist)
    }
}

/// The patterns of a file being read.
struct Builder {
    patterns: Vec<Pattern>,
}

impl Builder {
    /// Adds one line of a rule file; blank lines, comments and bad patterns add nothing.
    fn add_line(&mut self, line: &str) {
        if line.starts_with('#') {
            return;
        }
        let mut line = trim_trailing_unescaped_spaces(line);
        if line.is_empty() {
            return;
        }
        let (mut whitelist, mut only_dir) = (false, false);
        let mut anchored = false;
        if line.starts_with("\\!") || line.starts_with("\\#") {
            line = &line[1..];
        } else {
            if let Some(rest) = line.strip_prefix('!') {
                whitelist = true;
                line = rest;
            }
            // A leading `/` anchors the pattern to the file's folder: no `**/` goes before it.
            if let Some(rest) = line.strip_prefix('/') {
                anchored = true;
                line = rest;
            }
        }
        // A bare `!` or `/` is no pattern (gitignore(5)), not one matching everything.
        if line.is_empty() {
            return;
        }
        if let Some(rest) = line.strip_suffix('/') {
            only_dir = true;
            line = rest.strip_suffix('\\').unwrap_or(rest);
        }
        let mut glob = line.to_owned();
        // A pattern without a `/` names a path at any depth, unless it already says so.
        if !(anchored || line.contains('/') || glob.starts_with("**/") || glob == "**") {
            glob.insert_str(0, "**/");
        }
        // As the `ignore` crate writes `dir/**` (the same paths).
        if glob.ends_with("/**") {
            glob.push_str("/*");
        }
        if let Ok(glob) = Glob::lenient(&glob) {
            self.patterns.push(Pattern {
                glob,
                whitelist,
                only_dir,
            });
        }
    }

    /// The compiled file. (The `ignore` crate's builder fails whole when its set of regexes
    /// outgrows `globset`'s size limit, some megabytes of patterns; these globs have none.)
    fn build(self) -> RuleFile {
        RuleFile {
            patterns: self.patterns,
        }
    }
}

/// `line` without its trailing spaces, but for one escaped by a `\`.
fn trim_trailing_unescaped_spaces(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut last_space = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if i + 1 >= bytes.len() {
                    return line;
                }
                i += 2;
                last_space = None;
            }
            b' ' => {
                last_space = last_space.or(Some(i));
                i += 1;
            }
            _ => {
                last_space = None;
                i += 1;
            }
        }
    }
    &line[..last_space.unwrap_or(line.len())]
}

#[cfg(test)]
#[path = "rule_file_tests.rs"]
mod tests;
