//! Dependencies by their identity: a registry crate by its version and checksum in
//! `Cargo.lock`, a git crate by its commit, a path crate by a digest of its sources (and of its
//! own dependencies).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::files::{hash_rust_files, manifest_dependencies, manifest_name, manifest_paths};
use crate::lock::{LockPackage, parse_lock};
use crate::tokens::field;

/// A dependency as a key sees it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// `crate `cargo-steps``.
    pub(crate) label: String,
    /// `0.1.0`, `path ../steps` or `git 1a2b3c4`.
    pub(crate) at: String,
    /// `None` when it cannot be known; the text says why.
    pub(crate) digest: Result<blake3::Hash, String>,
}

/// The package's dependencies, from its `Cargo.lock`.
pub(crate) struct Deps {
    packages: Vec<LockPackage>,
    /// The lock's folder: the workspace root.
    root: Option<PathBuf>,
    /// Dependencies of the package by the name its code uses, to their lock index.
    by_code_name: HashMap<String, usize>,
    /// When no lock lists the package: the names its manifest gives its dependencies (tanto's
    /// own left out), none of which can be keyed, and why.
    unlocked: Option<(Vec<String>, String)>,
    /// Path packages by name, found from the manifests; filled on first need.
    path_dirs: RefCell<Option<HashMap<String, PathBuf>>>,
    manifest_dir: PathBuf,
    memo: RefCell<HashMap<usize, Identity>>,
    /// Folders and files read, for `cargo::rerun-if-changed`.
    pub(crate) watched: RefCell<BTreeSet<PathBuf>>,
}

/// Tanto's own crates: versioned by the runtime's cache format, never keyed.
const OWN: &[&str] = &["tanto", "tanto-engine", "tanto-macros", "tanto-build"];

impl Deps {
    /// The dependencies of package `name` `version` at `manifest_dir`, from the `Cargo.lock`
    /// at `lock` (if there is one).
    pub(crate) fn new(manifest_dir: &Path, name: &str, version: &str, lock: Option<&Path>) -> Self {
        let text = lock
            .and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default();
        let packages = parse_lock(&text);
        let me = packages
            .iter()
            .position(|p| p.name == name && p.version == version && p.source.is_none())
            .or_else(|| {
                packages
                    .iter()
                    .position(|p| p.name == name && p.version == version)
            });
        let mut by_code_name = HashMap::new();
        let mut unlocked = None;
        match me {
            Some(me) => {
                for spec in &packages[me].dependencies {
                    if let Some(i) = find(&packages, spec) {
                        by_code_name.insert(packages[i].name.replace('-', "_"), i);
                    }
                }
            }
            None => {
                let manifest =
                    std::fs::read_to_string(manifest_dir.join("Cargo.toml")).unwrap_or_default();
                let own: Vec<String> = OWN.iter().map(|o| o.replace('-', "_")).collect();
                let named: Vec<String> = manifest_dependencies(&manifest)
                    .into_iter()
                    .filter(|n| !own.contains(n))
                    .collect();
                let why = format!(
                    "no Cargo.lock the build uses lists `{name}` {version} (looked above the \
                     build's target folder and above the package), so the versions of its \
                     dependencies are unknown"
                );
                unlocked = Some((named, why));
            }
        }
        let watched = lock.map(Path::to_path_buf).into_iter().collect();
        Self {
            packages,
            root: lock.and_then(Path::parent).map(Path::to_path_buf),
            by_code_name,
            unlocked,
            path_dirs: RefCell::new(None),
            manifest_dir: manifest_dir.to_path_buf(),
            memo: RefCell::new(HashMap::new()),
            watched: RefCell::new(watched),
        }
    }

    /// The workspace root's manifest, where inherited dependencies are declared.
    pub(crate) fn root_manifest(&self) -> Option<String> {
        std::fs::read_to_string(self.root.as_ref()?.join("Cargo.toml")).ok()
    }

    /// The names the package's code may use for its dependencies.
    pub(crate) fn code_names(&self) -> HashSet<String> {
        let unlocked = self.unlocked.iter().flat_map(|(names, _)| names);
        self.by_code_name.keys().chain(unlocked).cloned().collect()
    }

    /// The identity of the dependency the code calls `code_name`.
    pub(crate) fn identity(&self, code_name: &str) -> Identity {
        match self.by_code_name.get(code_name) {
            Some(&i) => self.identity_of(i),
            None if let Some((_, why)) = &self.unlocked => Identity {
                label: format!("crate `{code_name}`"),
                at: String::new(),
                digest: Err(why.clone()),
            },
            None => Identity {
                label: format!("crate `{code_name}`"),
                at: String::new(),
                digest: Err(format!("crate `{code_name}` is not in Cargo.lock")),
            },
        }
    }

    /// Every dependency's identity, tanto's own left out.
    pub(crate) fn all(&self) -> Vec<Identity> {
        let mut names: Vec<&String> = self.by_code_name.keys().collect();
        names.extend(self.unlocked.iter().flat_map(|(names, _)| names));
        names.sort();
        names
            .into_iter()
            .map(|n| self.identity(n))
            .filter(|i| !i.at.is_empty() || i.digest.is_err())
            .collect()
    }

    fn identity_of(&self, i: usize) -> Identity {
        if let Some(done) = self.memo.borrow().get(&i) {
            return done.clone();
        }
        let p = &self.packages[i];
        let label = format!("crate `{}`", p.name);
        // Marks the package in progress, so a cycle through path crates ends.
        self.memo.borrow_mut().insert(
            i,
            Identity {
                label: label.clone(),
                at: "cycle".into(),
                digest: Ok(blake3::hash(b"cycle")),
            },
        );
        let mut h = blake3::Hasher::new();
        field(&mut h, b'n', p.name.as_bytes());
        field(&mut h, b'v', p.version.as_bytes());
        let (at, digest) = if OWN.contains(&p.name.as_str()) {
            (String::new(), Ok(h.finalize()))
        } else if let Some(source) = &p.source {
            field(&mut h, b's', source.as_bytes());
            field(&mut h, b'c', p.checksum.as_deref().unwrap_or("").as_bytes());
            let at = match source.rsplit_once('#') {
                Some((_, commit)) if source.starts_with("git+") => {
                    format!("git {}", &commit[..commit.len().min(9)])
                }
                _ => p.version.clone(),
            };
            (at, Ok(h.finalize()))
        } else {
            self.path_identity(i, h)
        };
        let identity = Identity { label, at, digest };
        self.memo.borrow_mut().insert(i, identity.clone());
        identity
    }

    /// A path package: the tokens of its Rust files, its manifest, and its dependencies.
    fn path_identity(
        &self,
        i: usize,
        mut h: blake3::Hasher,
    ) -> (String, Result<blake3::Hash, String>) {
        let name = self.packages[i].name.clone();
        let Some(dir) = self.path_dir(&name) else {
            return (
                String::new(),
                Err(format!(
                    "the sources of path crate `{name}` cannot be found"
                )),
            );
        };
        let shown = pathdiff(&dir, &self.manifest_dir);
        let manifest = dir.join("Cargo.toml");
        field(&mut h, b'm', &std::fs::read(&manifest).unwrap_or_default());
        let mut watched = vec![manifest, dir.join("src")];
        hash_rust_files(&dir, &mut h, &mut watched);
        self.watched.borrow_mut().extend(watched);
        for spec in self.packages[i].dependencies.clone() {
            let Some(d) = find(&self.packages, &spec) else {
                return (
                    shown,
                    Err(format!(
                        "`{spec}`, a dependency of `{name}`, is not in Cargo.lock"
                    )),
                );
            };
            let dep = self.identity_of(d);
            match dep.digest {
                Ok(d) => field(&mut h, b'd', d.as_bytes()),
                Err(e) => return (shown, Err(e)),
            }
        }
        (format!("path {shown}"), Ok(h.finalize()))
    }

    fn path_dir(&self, name: &str) -> Option<PathBuf> {
        let mut dirs = self.path_dirs.borrow_mut();
        let dirs = dirs.get_or_insert_with(|| {
            let mut found = HashMap::new();
            let mut todo: Vec<PathBuf> = vec![self.manifest_dir.clone()];
            todo.extend(self.root.clone());
            let mut seen = HashSet::new();
            while let Some(dir) = todo.pop() {
                let Ok(dir) = dir.canonicalize() else {
                    continue;
                };
                if !seen.insert(dir.clone()) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
                    continue;
                };
                if let Some(n) = manifest_name(&text) {
                    found.entry(n).or_insert_with(|| dir.clone());
                }
                todo.extend(manifest_paths(&text).into_iter().map(|p| dir.join(p)));
            }
            found
        });
        dirs.get(name).cloned()
    }
}

/// The index of the package a lock dependency `spec` names.
fn find(packages: &[LockPackage], spec: &str) -> Option<usize> {
    let mut parts = spec.splitn(3, ' ');
    let name = parts.next()?;
    let version = parts.next();
    let source = parts.next().map(|s| s.trim_matches(['(', ')']));
    packages.iter().position(|p| {
        p.name == name
            && version.is_none_or(|v| p.version == v)
            && source.is_none_or(|s| p.source.as_deref() == Some(s))
    })
}

/// `to` relative to `from` when one holds the other's prefix, for display.
fn pathdiff(to: &Path, from: &Path) -> String {
    let from = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let common = to.ancestors().find(|a| from.starts_with(a));
    match common {
        Some(common) => {
            let ups = from
                .strip_prefix(common)
                .map_or(0, |r| r.components().count());
            let down = to.strip_prefix(common).unwrap_or(to);
            let mut out: PathBuf = std::iter::repeat_n("..", ups).collect();
            out.push(down);
            out.display().to_string()
        }
        None => to.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "helper",
 "serde 1.0.1",
 "tanto",
]

[[package]]
name = "helper"
version = "0.2.0"

[[package]]
name = "serde"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abcd"

[[package]]
name = "tanto"
version = "0.1.0"
dependencies = ["serde"]
"#;

    #[test]
    fn the_lock_parses() {
        let packages = parse_lock(LOCK);
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["app", "helper", "serde", "tanto"]);
        assert_eq!(packages[0].dependencies, ["helper", "serde 1.0.1", "tanto"]);
        assert_eq!(packages[2].checksum.as_deref(), Some("abcd"));
        assert_eq!(packages[3].dependencies, ["serde"]);
    }

    #[test]
    fn a_registry_crate_is_its_version_and_checksum_and_a_path_crate_its_sources() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write("Cargo.lock", LOCK);
        write(
            "app/Cargo.toml",
            "[package]\nname = \"app\"\n[dependencies]\nhelper = { path = \"../helper\" }\n",
        );
        write(
            "helper/Cargo.toml",
            "[package]\nname = \"helper\"\nversion = \"0.2.0\"\n",
        );
        write("helper/src/lib.rs", "pub const X: u8 = 1;\n");
        let deps = || {
            Deps::new(
                &dir.path().join("app"),
                "app",
                "0.1.0",
                Some(&dir.path().join("Cargo.lock")),
            )
        };
        let serde = deps().identity("serde");
        assert_eq!(
            (serde.label.as_str(), serde.at.as_str()),
            ("crate `serde`", "1.0.1")
        );
        let helper = deps().identity("helper");
        assert_eq!(helper.at, "path ../helper");
        let before = helper.digest.expect("known");
        write(
            "helper/src/lib.rs",
            "// a comment\npub const X: u8 =   1;\n",
        );
        assert_eq!(
            deps().identity("helper").digest.expect("known"),
            before,
            "layout is not code"
        );
        write("helper/src/lib.rs", "pub const X: u8 = 2;\n");
        assert_ne!(deps().identity("helper").digest.expect("known"), before);
        assert!(deps().identity("nope").digest.is_err());
        assert!(
            deps().all().iter().all(|i| i.label != "crate `tanto`"),
            "tanto is never keyed"
        );
    }
}
