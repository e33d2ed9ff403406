//! Which `Cargo.lock` a build uses, and its packages.
//!
//! A build script runs with its own package's folder, not the workspace being built: a path
//! crate of steps outside that workspace (`../my-steps`) may have no lock of its own, or one
//! whose versions are not those the build compiles. The build's lock is above its target
//! folder (where `OUT_DIR` is), as for a crate unpacked from a registry.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::files::{manifest_members, manifest_paths};

/// One `[[package]]` of `Cargo.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LockPackage {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) source: Option<String>,
    pub(crate) checksum: Option<String>,
    /// `name`, `name version` or `name version (source)`.
    pub(crate) dependencies: Vec<String>,
}

/// The packages of a `Cargo.lock`.
pub(crate) fn parse_lock(text: &str) -> Vec<LockPackage> {
    let mut packages: Vec<LockPackage> = Vec::new();
    let mut in_deps = false;
    for line in text.lines().map(str::trim) {
        if line == "[[package]]" {
            packages.push(LockPackage::default());
            in_deps = false;
            continue;
        }
        let Some(package) = packages.last_mut() else {
            continue;
        };
        if in_deps {
            if line.starts_with(']') {
                in_deps = false;
            } else if let Some(dep) = line.trim_end_matches(',').strip_prefix('"') {
                package
                    .dependencies
                    .push(dep.trim_end_matches('"').to_owned());
            }
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            // Another table (`[metadata]`): what follows is no package's.
            if line.starts_with('[') {
                packages.push(LockPackage::default());
            }
            continue;
        };
        let text = value.trim_matches('"').to_owned();
        match key {
            "name" => package.name = text,
            "version" => package.version = text,
            "source" => package.source = Some(text),
            "checksum" => package.checksum = Some(text),
            "dependencies" => {
                in_deps = !value.contains(']');
                for dep in value.trim_matches(['[', ']']).split(',') {
                    let dep = dep.trim().trim_matches('"');
                    if !dep.is_empty() {
                        package.dependencies.push(dep.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    packages.retain(|p| !p.name.is_empty());
    packages
}

/// The `Cargo.lock` of the build of package `name` `version` at `manifest_dir`, or `None` when
/// no lock the build can be using lists it.
///
/// The nearest lock above the build's output folder is taken when it lists the package and its
/// workspace holds it (the package is under its folder, or a manifest of the workspace leads to
/// it by a `path`); otherwise the nearest lock above the package, when it lists it. A package
/// unpacked from a registry or a git checkout has only the first: its own lock, if it ships
/// one, is not the build's.
pub(crate) fn find_lock(
    manifest_dir: &Path,
    out_dir: Option<&Path>,
    name: &str,
    version: &str,
) -> Option<PathBuf> {
    let s = manifest_dir.to_string_lossy();
    let downloaded = s.contains("/registry/src/") || s.contains("/git/checkouts/");
    let nearest = |from: &Path| {
        from.ancestors()
            .map(|a| a.join("Cargo.lock"))
            .find(|l| l.is_file())
    };
    let lists = |lock: &Path| {
        let text = std::fs::read_to_string(lock).unwrap_or_default();
        parse_lock(&text)
            .iter()
            .any(|p| p.name == name && p.version == version && p.source.is_none() != downloaded)
    };
    let own = if downloaded {
        None
    } else {
        nearest(manifest_dir)
    };
    if let Some(build) = out_dir.and_then(nearest)
        && lists(&build)
        && (downloaded
            || own.as_deref() == Some(build.as_path())
            || holds(build.parent().unwrap_or(Path::new("/")), manifest_dir))
    {
        return Some(build);
    }
    own.filter(|l| lists(l))
}

/// Whether the workspace at `root` leads to the package at `dir`: its members and the `path`
/// values of their manifests, followed from manifest to manifest.
fn holds(root: &Path, dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let mut seen = HashSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(next) = todo.pop() {
        let Ok(next) = next.canonicalize() else {
            continue;
        };
        if next == dir {
            return true;
        }
        if !seen.insert(next.clone()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(next.join("Cargo.toml")) else {
            continue;
        };
        todo.extend(manifest_paths(&text).into_iter().map(|p| next.join(p)));
        for member in manifest_members(&text) {
            match member.strip_suffix("/*") {
                Some(parent) => {
                    let entries = std::fs::read_dir(next.join(parent)).into_iter().flatten();
                    todo.extend(entries.flatten().map(|e| e.path()));
                }
                None => todo.push(next.join(member)),
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` at `rel` under `root`.
    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn lock(packages: &[(&str, &str)]) -> String {
        packages
            .iter()
            .map(|(name, version)| {
                format!("[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\n")
            })
            .collect()
    }

    #[test]
    fn a_path_crate_outside_the_workspace_takes_the_builds_lock() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        write(
            root,
            "proj/Cargo.toml",
            "[workspace]\nmembers = [\"xtask\"]\n",
        );
        write(
            root,
            "proj/xtask/Cargo.toml",
            "[package]\nname = \"xtask\"\n[dependencies]\nsteps = { path = \"../../steps\" }\n",
        );
        write(
            root,
            "proj/Cargo.lock",
            &lock(&[("steps", "0.1.0"), ("xtask", "0.1.0")]),
        );
        write(root, "steps/Cargo.toml", "[package]\nname = \"steps\"\n");
        let steps = root.join("steps");
        let out = root.join("proj/target/debug/build/steps-1a2b/out");
        let build_lock = root.join("proj/Cargo.lock");
        // No lock of its own: the build's, found above the target folder.
        assert_eq!(
            find_lock(&steps, Some(&out), "steps", "0.1.0"),
            Some(build_lock.clone())
        );
        // A lock of its own (with other versions of its dependencies): still the build's.
        write(root, "steps/Cargo.lock", &lock(&[("steps", "0.1.0")]));
        assert_eq!(
            find_lock(&steps, Some(&out), "steps", "0.1.0"),
            Some(build_lock.clone())
        );
        // Built in its own workspace, with the target folder elsewhere: its own.
        let elsewhere = root.join("elsewhere/debug/build/steps-1a2b/out");
        assert_eq!(
            find_lock(&steps, Some(&elsewhere), "steps", "0.1.0"),
            Some(steps.join("Cargo.lock"))
        );
        // Another version than the locks list: none.
        assert_eq!(find_lock(&steps, Some(&out), "steps", "0.2.0"), None);
    }

    #[test]
    fn a_lock_that_lists_a_namesake_the_workspace_does_not_hold_is_not_taken() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        // A shared target folder inside a workspace whose own `xtask` 0.1.0 is another package.
        write(
            root,
            "main/Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n",
        );
        write(
            root,
            "main/crates/xtask/Cargo.toml",
            "[package]\nname = \"xtask\"\n",
        );
        write(root, "main/Cargo.lock", &lock(&[("xtask", "0.1.0")]));
        let out = root.join("main/target/debug/build/xtask-9f/out");
        write(
            root,
            "fixture/Cargo.toml",
            "[package]\nname = \"xtask\"\n[workspace]\n",
        );
        let fixture = root.join("fixture");
        assert_eq!(find_lock(&fixture, Some(&out), "xtask", "0.1.0"), None);
        write(root, "fixture/Cargo.lock", &lock(&[("xtask", "0.1.0")]));
        assert_eq!(
            find_lock(&fixture, Some(&out), "xtask", "0.1.0"),
            Some(fixture.join("Cargo.lock"))
        );
        // A package outside that a member found through the glob leads to is the workspace's.
        write(
            root,
            "main/crates/app/Cargo.toml",
            "[package]\nname = \"app\"\n[dependencies]\next = { path = \"../../../ext\" }\n",
        );
        write(root, "ext/Cargo.toml", "[package]\nname = \"ext\"\n");
        write(
            root,
            "main/Cargo.lock",
            &lock(&[("ext", "0.3.0"), ("xtask", "0.1.0")]),
        );
        assert_eq!(
            find_lock(&root.join("ext"), Some(&out), "ext", "0.3.0"),
            Some(root.join("main/Cargo.lock"))
        );
    }
}
