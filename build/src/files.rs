//! Files of a package: its crate roots, its Rust files (hashed by their tokens), and the few
//! facts read from manifests without a TOML parser: a package's name and the `path = ".."`
//! values that lead to other packages.

use std::path::{Path, PathBuf};

use crate::tokens::{field, hash_tokens};

/// The crate roots of the package at `dir`: the library, binaries, tests, examples and
/// benches, where Cargo looks for them, and any `.rs` file the manifest names with `path`.
pub(crate) fn crate_roots(dir: &Path, manifest: &str) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for file in ["src/lib.rs", "src/main.rs"] {
        roots.push(dir.join(file));
    }
    for folder in ["src/bin", "tests", "examples", "benches"] {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter_map(|p| {
                if p.extension().is_some_and(|e| e == "rs") {
                    Some(p)
                } else if p.is_dir() {
                    Some(p.join("main.rs"))
                } else {
                    None
                }
            })
            .collect();
        found.sort();
        roots.extend(found);
    }
    for path in manifest_paths(manifest) {
        if path.extension().is_some_and(|e| e == "rs") {
            roots.push(dir.join(path));
        }
    }
    roots.retain(|r| r.is_file());
    let mut seen = std::collections::HashSet::new();
    roots.retain(|r| seen.insert(r.canonicalize().unwrap_or_else(|_| r.clone())));
    roots
}

/// Feeds every `.rs` file under `dir` (not `target`, not hidden folders) to `h` in path order,
/// by its tokens when it lexes and by its bytes otherwise, and adds each to `read`.
pub(crate) fn hash_rust_files(dir: &Path, h: &mut blake3::Hasher, read: &mut Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    todo.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    for file in files {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        field(h, b'f', rel.to_string_lossy().as_bytes());
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        match text.parse::<proc_macro2::TokenStream>() {
            Ok(tokens) => hash_tokens(h, tokens),
            Err(_) => field(h, b'b', text.as_bytes()),
        }
        read.push(file);
    }
}

/// The `name` of a manifest's `[package]`.
pub(crate) fn manifest_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
            && let Some(quoted) = value.trim_start().strip_prefix('"')
        {
            return quoted.split('"').next().map(str::to_owned);
        }
    }
    None
}

/// Every `path = ".."` value of a manifest, wherever it is: dependencies (inline, dotted or in
/// their own table), `[lib]` and `[[bin]]` paths, workspace dependencies.
pub(crate) fn manifest_paths(manifest: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("path") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + 4..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                continue;
            }
            let Some(value) = after.trim_start().strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            if let Some(quoted) = value.strip_prefix('"')
                && let Some(end) = quoted.find('"')
            {
                out.push(PathBuf::from(&quoted[..end]));
            }
        }
    }
    out
}

/// Whether a manifest gives a dependency another name: `alias = { package = "real", .. }`.
pub(crate) fn renames_a_dependency(manifest: &str) -> bool {
    manifest.lines().any(|line| {
        let line = line.split('#').next().unwrap_or_default();
        line.match_indices("package").any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let word_start =
                before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
            word_start && line[at + 7..].trim_start().starts_with('=')
        })
    })
}

/// The `members` of a manifest's `[workspace]`, as written (a glob only as a last `/*`).
pub(crate) fn manifest_members(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section = "";
    let mut in_members = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if !in_members && line.starts_with('[') {
            section = line;
            continue;
        }
        let rest = if in_members {
            line
        } else if section == "[workspace]"
            && let Some(value) = line.strip_prefix("members")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            value.trim_start().trim_start_matches('[')
        } else {
            continue;
        };
        let (values, closed) = match rest.split_once(']') {
            Some((values, _)) => (values, true),
            None => (rest, false),
        };
        out.extend(
            values
                .split(',')
                .map(|v| v.trim().trim_matches(['"', '\'']))
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        );
        in_members = !closed;
    }
    out
}

/// The names a manifest's dependencies (of every kind and target, not a workspace's shared
/// ones) go by in code: each table's keys, `-` read as `_`.
pub(crate) fn manifest_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            let shared = header.starts_with("workspace");
            in_table = header.ends_with("dependencies") && !shared;
            if !shared && let Some((_, name)) = header.rsplit_once("dependencies.") {
                out.push(name.trim_matches(['"', '\'']).to_owned());
            }
            continue;
        }
        if in_table && let Some(at) = line.find(['=', '.', ' ']) {
            let name = line[..at].trim_matches(['"', '\'']);
            if !name.is_empty() {
                out.push(name.to_owned());
            }
        }
    }
    for name in &mut out {
        *name = name.replace('-', "_");
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_give_their_name_and_paths() {
        let manifest = r#"
[package]
name = "app" # the app
version = "0.1.0"

[dependencies]
steps = { path = "../steps", version = "0.1" }
other.path = "vendor/other"
xpath = "1"

[dependencies.third]
path = "third"

[[bin]]
name = "fixture"
path = "src/main.rs"
"#;
        assert_eq!(manifest_name(manifest).as_deref(), Some("app"));
        let paths: Vec<String> = manifest_paths(manifest)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(paths, ["../steps", "vendor/other", "third", "src/main.rs"]);
        assert!(!renames_a_dependency(manifest));
        assert!(renames_a_dependency(
            "[dependencies]\nalias = { package = \"real\", version = \"1\" }\n"
        ));
        assert!(renames_a_dependency(
            "[dependencies.alias]\npackage = \"real\"\n"
        ));
        assert_eq!(
            manifest_dependencies(manifest),
            ["other", "steps", "third", "xpath"]
        );
        let deps = "[dev-dependencies]\nmy-lib.workspace = true\n\
                    [target.'cfg(unix)'.build-dependencies]\n\"quoted\" = \"1\"\n\
                    [workspace.dependencies]\nshared = \"2\"\n";
        assert_eq!(manifest_dependencies(deps), ["my_lib", "quoted"]);
    }

    #[test]
    fn a_workspace_names_its_members() {
        let one_line =
            "[package]\nmembers = [\"no\"]\n[workspace]\nmembers = [\"a\", \"crates/*\"]\n";
        assert_eq!(manifest_members(one_line), ["a", "crates/*"]);
        let lines = "[workspace]\nresolver = \"3\"\nmembers = [\n    \"x\", # first\n    'y',\n]\n[dependencies]\nz = \"1\"\n";
        assert_eq!(manifest_members(lines), ["x", "y"]);
    }
}
