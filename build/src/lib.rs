//! The build-script half of [tanto](https://docs.rs/tanto)'s code digests: a step's cache key
//! covers the code it uses, not only its own tokens.
//!
//! `#[step]` sees one fn. When the `SETUP` const that every step interpolates changes, or a
//! helper two calls away, the macro cannot tell. This crate can: called from the package's
//! build script, it parses the package's sources with syn, finds each `#[step]` fn, follows
//! what it names (consts, statics, fns, types with their impls, `macro_rules!` macros, through
//! `use` imports, `crate::`, `super::` and globs) transitively within the crate, and keys the
//! step by the tokens of everything it reaches, by the identity of each dependency it calls
//! (a registry crate's version and checksum, a path crate's sources), and by the `cfg` keys,
//! `env!` variables and `include_str!` files that code reads.
//!
//! ```toml
//! # Cargo.toml
//! [build-dependencies]
//! tanto-build = "0.1"
//! ```
//!
//! ```no_run
//! // build.rs
//! # #[allow(clippy::needless_doctest_main)]
//! fn main() {
//!     tanto_build::digests();
//! }
//! ```
//!
//! Editing one item re-runs exactly the steps that reach it; editing an item no step reaches,
//! or only whitespace and comments, re-runs nothing. `BIN PIPELINE --plan` names what changed:
//! ``code changed: `SETUP` (src/lib.rs:27) used by this step``.
//!
//! Where the sources cannot tell, the key is coarser, never unsound, and `--plan` says which
//! fallback was taken: a name that an item-level macro call may define keys the step by those
//! calls; a module the analysis cannot read (a `#[cfg_attr(.., path)]`) by every file of the
//! crate; a path that is neither this crate's nor a named dependency's (a renamed crate) by
//! every dependency; an `include_str!` of a path that is not a literal makes the step
//! uncacheable. A step the sources do not show as a `#[step]` fn (one made by a macro) is keyed
//! by the whole crate.
//!
//! Without this build script, a step is keyed by its own tokens and its crate's name and
//! version, and `--plan` says that the items it uses are not covered.
//!
//! # How it reaches the step
//!
//! The build script passes one variable per step to rustc, `TANTO_CODE_<key>`, where the key
//! is a hash of the step fn's signature and body, and `TANTO_CODE` for the whole crate; the
//! expansion of `#[step]` reads them with `option_env!`, so a crate without this build script
//! compiles as before. It prints `cargo::rerun-if-changed` for every file it read (so add your
//! own for any other input of your build script) and `cargo::rerun-if-env-changed` for every
//! variable the steps' code reads.

mod deps;
mod emit;
mod files;
mod load;
mod lock;
mod reach;
mod scan;
mod syntax;
mod tokens;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use emit::{Composer, code_digest, record};
use reach::Walker;
use tanto_tokens::compiled::READ_WHEN_COMPILED;

/// How many bytes all steps' records may take together in rustc's environment (Linux allows a
/// few MiB for arguments and environment together, and 128 KiB for one string).
const RECORDS_BUDGET: usize = 512 * 1024;

/// Computes the code digest of every step of the package being built and hands them to its
/// compilation. Call it from `build.rs`; it reads what Cargo sets for build scripts
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, `CARGO_PKG_VERSION`, `OUT_DIR`).
///
/// # Panics
///
/// When it does not run as a build script (`CARGO_MANIFEST_DIR` is not set).
pub fn digests() {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        panic!(
            "tanto_build::digests() runs in a build script, where Cargo sets CARGO_MANIFEST_DIR"
        );
    };
    let name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from);
    let lock = lock::find_lock(&dir, out_dir.as_deref(), &name, &version);
    let analysis = analyse(&dir, &name, &version, lock.as_deref());
    let mut out = String::new();
    for file in &analysis.read {
        out.push_str(&format!("cargo::rerun-if-changed={}\n", file.display()));
    }
    for var in &analysis.envs {
        out.push_str(&format!("cargo::rerun-if-env-changed={var}\n"));
    }
    for (key, record) in &analysis.steps {
        out.push_str(&format!("cargo::rustc-env=TANTO_CODE_{key}={record}\n"));
    }
    out.push_str(&format!(
        "cargo::rustc-env=TANTO_CODE={}\n",
        analysis.crate_wide
    ));
    print!("{out}");
}

/// What [`digests`] found in one package. Not a stable interface: for tanto's own tests.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Analysis {
    /// Each step's record by its lookup key.
    pub steps: BTreeMap<String, String>,
    /// The record of the crate as a whole, for steps the sources do not show.
    pub crate_wide: String,
    /// Files read, for `cargo::rerun-if-changed`.
    pub read: BTreeSet<PathBuf>,
    /// Variables the steps' code reads.
    pub envs: BTreeSet<String>,
}

/// Analyses package `name` `version` in `dir`, with the `Cargo.lock` at `lock`.
#[doc(hidden)]
pub fn analyse(dir: &Path, name: &str, version: &str, lock: Option<&Path>) -> Analysis {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let deps = deps::Deps::new(dir, name, version, lock);
    let lib_name = name.replace('-', "_");
    let roots = files::crate_roots(dir, &manifest);
    let crates: Vec<(PathBuf, load::Crate)> = roots
        .into_iter()
        .map(|r| {
            let krate = load::load(&r, dir);
            (r, krate)
        })
        .collect();
    let mut analysis = Analysis::default();
    analysis.read.insert(dir.join("Cargo.toml"));
    let mut composer = Composer {
        package: dir,
        deps: &deps,
        own_lib: None,
        units: Default::default(),
        all_files: None,
    };
    let dep_names = deps.code_names();
    let renames = files::renames_a_dependency(&manifest)
        || deps
            .root_manifest()
            .is_some_and(|m| files::renames_a_dependency(&m));
    let lib = crates.iter().position(|(r, _)| r.ends_with("src/lib.rs"));
    if let Some(lib) = lib {
        let krate = &crates[lib].1;
        let walker = Walker::new(krate, &dep_names, renames);
        let reach = walker.reach(0..krate.items.len());
        let (entries, _) = composer.entries(lib, krate, &reach);
        composer.own_lib = Some((lib_name.clone(), code_digest(&entries)));
    }
    let mut conflicts = HashSet::new();
    let mut parts = std::collections::HashMap::new();
    let mut everything: Vec<emit::Entry> = Vec::new();
    // What the expansion reads when compiled, by label, for the crate's record.
    let mut compiled: std::collections::BTreeMap<String, emit::Entry> = Default::default();
    let mut crate_notes = BTreeSet::new();
    let mut crate_uncacheable = None;
    for (root, (_, krate)) in crates.iter().enumerate() {
        analysis.read.extend(krate.files.iter().cloned());
        let mut names = dep_names.clone();
        if Some(root) != lib {
            names.insert(lib_name.clone());
        }
        let walker = Walker::new(krate, &names, renames);
        for (id, item) in krate.items.iter().enumerate() {
            let Some(key) = &item.step_key else { continue };
            let reach = walker.reach([id]);
            let (entries, uncacheable) = composer.entries(root, krate, &reach);
            analysis.envs.extend(reach.envs.iter().cloned());
            analysis.read.extend(reach.files.iter().cloned());
            let notes: Vec<String> = reach.notes.iter().cloned().collect();
            let own = format!("`{}`", item.label);
            let text = record(&entries, &own, &notes, uncacheable.as_deref(), emit::LISTED);
            parts.insert(key.clone(), (entries, own, notes, uncacheable));
            // The same tokens in two crates of the package, reaching different code: neither
            // record can stand for both, so both steps take the crate's.
            if let Some(other) = analysis.steps.insert(key.clone(), text.clone())
                && other != text
            {
                conflicts.insert(key.clone());
            }
        }
        let mut all = walker.reach(0..krate.items.len());
        all.all_deps = true;
        all.crate_files = true;
        analysis.envs.extend(all.envs.iter().cloned());
        analysis.read.extend(all.files.iter().cloned());
        crate_notes.extend(all.notes.iter().cloned());
        let (entries, uncacheable) = composer.entries(root, krate, &all);
        crate_uncacheable = crate_uncacheable.or(uncacheable);
        for e in entries.iter().filter(|e| e.at == READ_WHEN_COMPILED) {
            compiled.entry(e.label.clone()).or_insert_with(|| e.clone());
        }
        everything.extend(entries.into_iter().map(|mut e| {
            e.label = format!(
                "{} in {}",
                e.label,
                crates[root]
                    .0
                    .strip_prefix(dir)
                    .unwrap_or(&crates[root].0)
                    .display()
            );
            e
        }));
    }
    for key in conflicts {
        analysis.steps.remove(&key);
    }
    // The records travel in rustc's environment, which the system bounds: list fewer items
    // per step (the digests still cover them all) until they fit.
    for listed in [50, 10, 0] {
        if analysis.steps.values().map(String::len).sum::<usize>() <= RECORDS_BUDGET {
            break;
        }
        for (key, text) in &mut analysis.steps {
            if let Some((entries, own, notes, uncacheable)) = parts.get(key) {
                *text = record(entries, own, notes, uncacheable.as_deref(), listed);
            }
        }
    }
    analysis.read.extend(deps.watched.borrow().iter().cloned());
    everything.sort_by(|a, b| a.label.cmp(&b.label));
    let crate_digest = code_digest(&everything);
    let summary = emit::Entry {
        label: "the crate's sources and dependencies".into(),
        at: String::new(),
        digest: crate_digest,
    };
    let notes: Vec<String> = crate_notes.into_iter().collect();
    // What the expansion reads when compiled, for the steps keyed by the crate's record.
    let mut listed = vec![summary];
    listed.extend(compiled.into_values());
    analysis.crate_wide = record(&listed, "", &notes, crate_uncacheable.as_deref(), 1);
    analysis
}
