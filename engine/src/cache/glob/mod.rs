//! Globs over paths, for folder filters (`include`, `exclude`) and ignore-rule files.
//!
//! The syntax and what a glob matches are `globset`'s with a literal separator (`*` and `?`
//! never match `/`), which is what tanto's filters always used and what the `ignore` crate
//! reads `.gitignore` lines with; `tests.rs` checks that against `globset` itself. tanto has
//! its own matcher because `globset` compiles every glob to a regex, which brings
//! `regex-automata`, `regex-syntax`, `aho-corasick` and `bstr` into every user's first build:
//! the largest group of crates tanto added to it (BENCHMARKS.md, row 11).
//!
//! Two differences remain, both outside what the walk can meet. A path ending in `..` is
//! matched as `globset`'s regex matches it, where a `GlobSet`'s shortcuts for `**/name` and
//! `*.ext` reject it for having no file name; the walk's paths are names read from folders,
//! never `..`. And `globset` refuses braces nested past what its regex compiler allows (some
//! 84 levels of `{a,b{...}}`) or globs whose automaton outgrows 10 MiB, where these are read
//! up to 100 levels deep and have no size limit: matching stays linear in the glob's size.

mod parse;
mod program;
#[cfg(test)]
mod tests;

use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use program::Program;

/// A compiled glob.
#[derive(Debug)]
pub(crate) struct Glob {
    program: Program,
}

/// Why a glob was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlobError {
    /// A `[` with no `]`.
    UnclosedClass,
    /// A range whose end comes before its start, such as `[z-a]`.
    InvalidRange(char, char),
    /// A `{` with no `}`.
    UnclosedAlternates,
    /// A `}` with no `{`.
    UnopenedAlternates,
    /// Braces nested more than 100 deep.
    TooDeep,
    /// A `\` at the end.
    DanglingEscape,
}

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnclosedClass => f.write_str("unclosed character class; missing `]`"),
            Self::InvalidRange(a, b) => write!(f, "invalid range; `{a}` > `{b}`"),
            Self::UnclosedAlternates => f.write_str("unclosed alternate group; missing `}`"),
            Self::UnopenedAlternates => f.write_str("unopened alternate group; missing `{`"),
            Self::TooDeep => f.write_str("alternate groups nested more than 100 deep"),
            Self::DanglingEscape => f.write_str("dangling `\\`"),
        }
    }
}

impl Glob {
    /// Compiles `glob`.
    pub(crate) fn new(glob: &str) -> Result<Self, GlobError> {
        Self::compile(glob, false)
    }

    /// Compiles `glob` as a rule file's line: a `[` that no `]` closes is a literal `[`.
    pub(crate) fn lenient(glob: &str) -> Result<Self, GlobError> {
        Self::compile(glob, true)
    }

    fn compile(glob: &str, lenient: bool) -> Result<Self, GlobError> {
        let tokens = parse::parse(glob, lenient)?;
        Ok(Self {
            program: Program::new(&tokens),
        })
    }

    /// Whether `path` matches, all of it.
    pub(crate) fn is_match(&self, path: &Path) -> bool {
        self.program.is_match(path.as_os_str().as_bytes())
    }
}

/// Several globs, matching a path when one of them does.
#[derive(Debug)]
pub(crate) struct Globs(Vec<Glob>);

impl Globs {
    /// Compiles each of `globs`; the first that is refused is returned with its error.
    pub(crate) fn new<'a>(
        globs: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, (&'a str, GlobError)> {
        globs
            .into_iter()
            .map(|g| Glob::new(g).map_err(|e| (g, e)))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether one of the globs matches all of `path`.
    pub(crate) fn is_match(&self, path: &Path) -> bool {
        self.0.iter().any(|g| g.is_match(path))
    }
}
