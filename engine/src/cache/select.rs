//! A `DirSelect`'s globs compiled for the walk, and which folders the walk can skip whole.
//!
//! A folder is pruned, never read, when its contents cannot count: when an `exclude` glob
//! matches it, or when no `include` glob can match a path under it. The second test looks at
//! each include glob one `/`-separated component at a time, so `src/**` prunes `target/` and
//! `crates/*/src/**` prunes `crates/a/target/`; a component it cannot judge alone (`**`,
//! braces, classes, escapes) keeps the folder, so pruning only ever skips folders whose files
//! the globs would have dropped anyway, and a digest is the same with or without it.

use std::path::Path;

use super::glob::{Glob, GlobError, Globs};
use crate::artifact::DirSelect;
use crate::error::{Error, Result};

/// The compiled globs of a [`DirSelect`].
pub(crate) struct Selection {
    /// Files and folders left out.
    pub(crate) exclude: Option<Globs>,
    /// When set, the only files and symlinks kept.
    pub(crate) include: Option<Globs>,
    /// Each include glob split into components, for [`Selection::may_include_under`].
    prefixes: Vec<Vec<Component>>,
    /// Each exclude glob split into components, for [`Selection::in_folder`].
    excludes: Vec<Vec<Component>>,
}

/// One `/`-separated component of a glob.
enum Component {
    /// Matches exactly one path component.
    One(Glob),
    /// Exactly `**`: anything may match below, and as the last component, everything does.
    Deep,
    /// A component too rich to judge alone: anything may match below.
    Any,
}

/// Which globs the files directly inside one folder must be matched against: a folder whose
/// files no glob can tell apart spares the walk a glob match per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FolderGlobs {
    /// Whether an exclude glob may match one of its files.
    pub(crate) exclude: bool,
    /// Whether an include glob may leave one of its files out.
    pub(crate) include: bool,
}

impl Selection {
    /// Compiles `select`'s globs; an invalid glob is a usage error naming it.
    pub(crate) fn new(select: &DirSelect) -> Result<Self> {
        let split =
            |globs: &[&str]| -> Result<Vec<_>> { globs.iter().copied().map(components).collect() };
        Ok(Self {
            exclude: glob_set(select.exclude)?,
            include: glob_set(select.include)?,
            prefixes: split(select.include)?,
            excludes: split(select.exclude)?,
        })
    }

    /// Which globs the files directly inside the folder `dir` (relative to the root) must be
    /// matched against. Only a glob of judgeable components is trusted: an exclude glob
    /// without `**` matches only paths of its own depth, along its components, and an
    /// include glob of judgeable components ending in `/**` keeps everything below them.
    pub(crate) fn in_folder(&self, dir: &Path) -> FolderGlobs {
        let depth = dir.iter().count();
        // Whether `glob`'s first components match all of `dir`'s, or `dir`'s first ones
        // match all of `glob`'s, whichever is shorter, each judged alone.
        let along = |glob: &[Component]| {
            dir.iter().zip(glob).all(|(part, c)| match c {
                Component::One(m) => m.is_match(Path::new(part)),
                Component::Deep | Component::Any => false,
            })
        };
        let exclude = self.excludes.iter().any(|glob| {
            glob.iter().any(|c| !matches!(c, Component::One(_)))
                || glob.len() == depth + 1 && along(glob)
        });
        let include = self.include.is_some()
            && !self.prefixes.iter().any(|glob| match glob.split_last() {
                Some((Component::Deep, above)) => {
                    above.len() <= depth
                        && above.iter().all(|c| matches!(c, Component::One(_)))
                        && along(above)
                }
                _ => false,
            });
        FolderGlobs { exclude, include }
    }

    /// Whether there are no globs, so nothing is pruned.
    pub(crate) fn is_empty(&self) -> bool {
        self.exclude.is_none() && self.include.is_none()
    }

    /// Whether the walk may skip the entry at `rel` (relative to the root) whole.
    pub(crate) fn prunes(&self, rel: &Path, is_dir: bool) -> bool {
        if let Some(exclude) = &self.exclude
            && (exclude.is_match(rel) || is_dir && exclude.is_match(&rel.join("")))
        {
            return true;
        }
        is_dir && !self.may_include_under(rel)
    }

    /// Whether some include glob could match a path inside the folder `dir`; always true
    /// without include globs.
    fn may_include_under(&self, dir: &Path) -> bool {
        if self.include.is_none() {
            return true;
        }
        self.prefixes.iter().any(|glob| {
            let mut parts = dir.iter();
            for component in glob {
                let Some(part) = parts.next() else {
                    // The folder is above where the glob's literal part ends.
                    return true;
                };
                match component {
                    Component::Deep | Component::Any => return true,
                    Component::One(m) if m.is_match(Path::new(part)) => {}
                    Component::One(_) => return false,
                }
            }
            // The glob ends at or above the folder: it names the folder or one above, not
            // a file inside.
            false
        })
    }
}

fn components(glob: &str) -> Result<Vec<Component>> {
    glob.split('/')
        .map(|part| {
            if part == "**" {
                return Ok(Component::Deep);
            }
            if part.contains("**") || part.contains(['{', '}', '[', ']', '\\']) {
                return Ok(Component::Any);
            }
            let one = Glob::new(part).map_err(|e| bad_glob(glob, &e))?;
            Ok(Component::One(one))
        })
        .collect()
}

fn bad_glob(glob: &str, e: &GlobError) -> Error {
    Error::Usage(format!("invalid glob `{glob}` in a folder filter: {e}"))
}

fn glob_set(globs: &[&str]) -> Result<Option<Globs>> {
    if globs.is_empty() {
        return Ok(None);
    }
    Globs::new(globs.iter().copied())
        .map(Some)
        .map_err(|(glob, e)| bad_glob(glob, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn may(include: &'static [&'static str], dir: &str) -> bool {
        let select = DirSelect {
            include,
            ..DirSelect::DEFAULT
        };
        Selection::new(&select)
            .unwrap()
            .may_include_under(Path::new(dir))
    }

    #[test]
    fn folders_no_include_glob_can_reach_are_pruned() {
        assert!(may(&["src/**"], "src"));
        assert!(may(&["src/**"], "src/a/b"));
        assert!(!may(&["src/**"], "target"));
        assert!(may(&["crates/*/src/**"], "crates"));
        assert!(may(&["crates/*/src/**"], "crates/a"));
        assert!(may(&["crates/*/src/**"], "crates/a/src/x"));
        assert!(!may(&["crates/*/src/**"], "crates/a/target"));
        assert!(!may(&["Cargo.*"], "src"));
        assert!(may(&["Cargo.*", "src/**"], "src"));
        assert!(may(&["**/*.rs"], "target/debug"));
        assert!(may(&["{src,lib}/**"], "target"));
        assert!(may(&["s[r]c/*.rs"], "target"));
        assert!(!may(&["src/*.rs"], "src/a"));
        assert!(may(&[], "anything"));
    }

    #[test]
    fn a_folder_spares_its_files_only_globs_that_cannot_tell_them_apart() {
        let globs: &[&[&str]] = &[
            &[],
            &["target"],
            &["src/**"],
            &["src/*.rs"],
            &["**/*.rs"],
            &["*.log", "target/**"],
            &["src/a/**", "docs"],
            &["s?c/**"],
            &["{src,lib}/**"],
            &["src/**/x"],
            &["**"],
            &["src/"],
            &["/src/**"],
        ];
        let dirs = [
            "", "src", "src/a", "src/a/b", "target", "docs", "lib", "x/src",
        ];
        let names = ["f", "x", "m.rs", "a.log", "target", "src", ".hidden"];
        for &exclude in globs {
            for &include in globs {
                let select = DirSelect {
                    exclude,
                    include,
                    ..DirSelect::DEFAULT
                };
                let sel = Selection::new(&select).unwrap();
                for dir in dirs {
                    let here = sel.in_folder(Path::new(dir));
                    for name in names {
                        let path = Path::new(dir).join(name);
                        let out = sel.exclude.as_ref().is_some_and(|g| g.is_match(&path));
                        let kept = sel.include.as_ref().is_none_or(|g| g.is_match(&path));
                        let case = format!("{exclude:?} {include:?} {}", path.display());
                        assert!(here.exclude || !out, "excluded unasked: {case}");
                        assert!(here.include || kept, "left out unasked: {case}");
                    }
                }
            }
        }
        let sel = |exclude, include| {
            let select = DirSelect {
                exclude,
                include,
                ..DirSelect::DEFAULT
            };
            Selection::new(&select).unwrap()
        };
        let spared = FolderGlobs {
            exclude: false,
            include: false,
        };
        assert_eq!(sel(&["target"], &[]).in_folder(Path::new("src/a")), spared);
        assert_eq!(sel(&[], &["src/**"]).in_folder(Path::new("src/a")), spared);
        assert!(sel(&["target"], &[]).in_folder(Path::new("")).exclude);
        assert!(sel(&[], &["src/**"]).in_folder(Path::new("")).include);
    }
}
