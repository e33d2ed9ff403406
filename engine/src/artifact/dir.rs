//! A folder as a step input or output, and [`DirSelect`]: which files of a host folder it takes.

use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// A folder tree, identified by the digest of its content.
///
/// A `Dir` is either a pipeline input bound to a host folder, or a step's output held in the
/// store; it knows which ([`Dir::origin`]). Steps receive it as a parameter and hand it to a
/// container, read-only with
/// [`Container::with_mounted_dir`](crate::Container::with_mounted_dir) or as a private writable
/// copy with [`Container::with_dir`](crate::Container::with_dir).
///
/// A host folder holds more than its digest covers when its [`DirSelect`] leaves some of it out
/// (ignored by `.gitignore`, or outside the globs of `#[dir(..)]`); containers are shown only
/// what the digest covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    path: PathBuf,
    digest: Digest,
    origin: Origin,
}

/// Where a [`Dir`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A folder of the host, bound from the command line, of which `select` chose the files
    /// that the digest covers. The folder may hold more; containers are not shown it.
    Host {
        /// The files the folder's digest covers.
        select: DirSelect,
    },
    /// A folder whose every entry the digest covers: a step's output, a checkout in the store.
    Whole,
}

impl Dir {
    /// A folder at `path` whose content digest is `digest`, every entry of it included.
    pub fn new(path: impl Into<PathBuf>, digest: Digest) -> Self {
        Self {
            path: path.into(),
            digest,
            origin: Origin::Whole,
        }
    }

    /// The host folder at `path`, hashed to `digest` with `select`: what `select` left out is
    /// hidden from containers.
    pub(crate) fn host(path: impl Into<PathBuf>, digest: Digest, select: DirSelect) -> Self {
        Self {
            path: path.into(),
            digest,
            origin: Origin::Host { select },
        }
    }

    /// Where the folder comes from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The files of [`path`](Self::path) that the digest covers: [`DirSelect::ALL`] unless it
    /// is a host folder.
    pub fn select(&self) -> DirSelect {
        match self.origin {
            Origin::Host { select } => select,
            Origin::Whole => DirSelect::ALL,
        }
    }

    /// Where the folder is on the host. Treat it as read-only.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The Merkle root of the folder's content.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

/// Which files of a host folder a `Dir` takes: `#[dir(..)]` on a pipeline's parameter.
///
/// The folder's digest covers exactly these files, and a step's container sees exactly these
/// files: the others are hidden from a read-only mount and left out of a copy, so a step can
/// never read a file that its cache key does not cover.
///
/// The default honours `.gitignore`, `.ignore` and `.git/info/exclude` like git does
/// (including those of parent folders), keeps hidden files, and never enters `.git`. The
/// user's global git excludes are not read: they differ between machines, and a digest must
/// not. [`DirSelect::ALL`] takes everything, as for step outputs.
///
/// Globs match `/`-separated paths relative to the folder; `*` stays within one component
/// and `**` crosses them (`src/**/*.rs`, `**/target`).
///
/// ```
/// # use tanto::prelude::*;
/// # #[step(image = "tanto-test/busybox:latest")]
/// # async fn test(ctx: &Ctx, src: Dir) -> Result<()> { let _ = (ctx, src); Ok(()) }
/// /// Tests the crate: only its sources and manifests count, and `docs/` never does.
/// #[pipeline]
/// fn ci(#[dir(include = ["src/**", "Cargo.*"], exclude = "src/generated/**")] src: Dir) {
///     test(src);
/// }
/// let select = <ci as tanto::__private::Pipeline>::INFO.params[0].select;
/// assert_eq!(select.include, ["src/**", "Cargo.*"]);
/// assert!(select.gitignore);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirSelect {
    /// `include = [..]`: when non-empty, only files and symlinks matching one of these globs;
    /// folders left empty by it are dropped.
    pub include: &'static [&'static str],
    /// `exclude = [..]`: files and folders matching one of these globs are left out (folders
    /// are not entered).
    pub exclude: &'static [&'static str],
    /// `gitignore = false` turns off `.gitignore`, `.ignore` and `.git/info/exclude` rules and
    /// keeps `.git`; they are on by default.
    pub gitignore: bool,
}

impl DirSelect {
    /// The default: `.gitignore` rules honoured, `.git` left out, no globs.
    pub const DEFAULT: Self = Self {
        include: &[],
        exclude: &[],
        gitignore: true,
    };

    /// Every entry, ignore files and `.git` included.
    pub const ALL: Self = Self {
        include: &[],
        exclude: &[],
        gitignore: false,
    };

    /// Whether this is the default selection.
    pub fn is_default(&self) -> bool {
        *self == Self::DEFAULT
    }

    /// A short account of a selection that is not the default, for `--list` and `--help`:
    /// ``only `src/**`; not `docs/**`; .gitignore not applied``.
    pub fn describe(&self) -> Option<String> {
        let globs = |globs: &[&str]| {
            globs
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.include.is_empty() {
            parts.push(format!("only {}", globs(self.include)));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("not {}", globs(self.exclude)));
        }
        if !self.gitignore {
            parts.push(".gitignore not applied, .git kept".to_owned());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

impl Default for DirSelect {
    fn default() -> Self {
        Self::DEFAULT
    }
}
