//! Row 6: what the macros cost at compile time — a clean build of `tanto-macros` against syn
//! alone, an incremental rebuild of a crate of 200 `#[step]` items against the same crate
//! without the attributes, and the same rebuild with a build script that calls
//! `tanto_build::digests()` against the crate without it. The crates are generated under
//! `target/bench/macros`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Bench;
use super::measure::{self, Samples, duration};
use super::report::{Line, Row, Target};

const ITEMS: usize = 200;

/// The workspace's optimization levels, for the incremental rebuilds: tanto and its
/// dependencies are optimized as they are in this workspace (with full debug info, as the
/// table's rows were measured). The clean builds take a new user's default profile instead,
/// under which Cargo builds a proc macro and its dependencies with `build-override`.
const PROFILE: &str =
    "\n[profile.dev.package.\"*\"]\nopt-level = 1\n\n[profile.dev.package.blake3]\nopt-level = 3\n";

/// For the manifests of the clean builds, whose tanto crates are path dependencies: Cargo
/// compiles a path dependency incrementally, as its own code, but a dependency from crates.io
/// without incremental state, which a clean build pays for and never uses. A user's workspace
/// gets tanto from crates.io, so its clean build is measured that way (`"*"` is every package
/// that is not a member; the user's own crate stays incremental, as it is for them).
pub(crate) const AS_FROM_CRATES_IO: &str = "\n[profile.dev.package.\"*\"]\nincremental = false\n";

/// Measures row 6.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let base = b.work.join("macros");
    let macros = b.root.join("macros");
    let lock = std::fs::read_to_string(b.root.join("Cargo.lock"))
        .map_err(|e| format!("read Cargo.lock: {e}"))?;
    let syn = dep_line(&lock, "syn", "3.")?;
    let features = "features = [\"full\", \"extra-traits\", \"visit\"]";
    let syn_dep = format!("syn = {{ version = \"={syn}\", {features} }}\n");
    let crates = [
        (
            "tanto-macros",
            format!("tanto-macros = {{ path = {:?} }}\n", macros),
        ),
        ("syn", syn_dep.clone()),
        (
            "deps",
            format!(
                "{syn_dep}quote = \"1\"\nproc-macro2 = \"1\"\ntanto-tokens = {{ path = {:?} }}\n",
                b.root.join("tokens")
            ),
        ),
    ];
    let mut clean: Vec<(PathBuf, Samples)> = Vec::new();
    for (name, deps) in &crates {
        let dir = base.join("clean").join(name);
        let manifest = format!(
            "[package]\nname = \"bench-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [lib]\npath = \"lib.rs\"\nproc-macro = true\n\n[dependencies]\n{deps}\n[workspace]\n\
             {AS_FROM_CRATES_IO}"
        );
        write(&dir.join("Cargo.toml"), &manifest)?;
        write(
            &dir.join("lib.rs"),
            "//! An empty proc-macro crate, for build times.\n",
        )?;
        write(&dir.join("Cargo.lock"), &lock)?;
        clean.push((dir, Samples::default()));
    }
    let clean_reps = if b.quick { 1 } else { 3 };
    let mut extra = Samples::default();
    let mut own = Samples::default();
    let mut tokens = Samples::default();
    for i in 0..clean_reps {
        b.say(&format!("  clean builds {}/{clean_reps}", i + 1));
        let mut this = Vec::new();
        for (dir, samples) in &mut clean {
            let target = dir.join("target");
            if target.exists() {
                std::fs::remove_dir_all(&target)
                    .map_err(|e| format!("remove {}: {e}", target.display()))?;
            }
            let ms = cargo_build(dir, None)?;
            samples.push(ms);
            this.push(ms);
        }
        extra.push(this[0] - this[1]);
        let units = unit_times(&clean[0].0.join("target"))?;
        own.push(units.get("tanto-macros").copied().unwrap_or(f64::NAN));
        tokens.push(units.get("tanto-tokens").copied().unwrap_or(f64::NAN));
    }

    let items = base.join("items");
    write(
        &items.join("Cargo.toml"),
        &format!(
            "[workspace]\nmembers = [\"stepped\", \"plain\", \"analysed\"]\nresolver = \"3\"\n{PROFILE}"
        ),
    )?;
    write(&items.join("Cargo.lock"), &lock)?;
    let runtime = b.root.join("runtime");
    let build = b.root.join("build");
    for (name, attr) in [("stepped", true), ("plain", false), ("analysed", true)] {
        let analysed = name == "analysed";
        let build_dep = if analysed {
            format!("\n[build-dependencies]\ntanto-build = {{ path = {build:?} }}\n")
        } else {
            String::new()
        };
        write(
            &items.join(name).join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\ntanto = {{ path = {runtime:?} }}\n{build_dep}"
            ),
        )?;
        if analysed {
            write(
                &items.join(name).join("build.rs"),
                "fn main() {\n    tanto_build::digests();\n}\n",
            )?;
        }
        write(&items.join(name).join("src/lib.rs"), &items_source(attr, 0))?;
    }
    b.say("  building the 200-item crates once (the first time builds tanto too)");
    for name in ["stepped", "plain", "analysed"] {
        cargo_build(&items, Some(name))?;
    }
    // Rebuilds are short and load moves them by tens of ms, so even `--quick` takes five pairs.
    let reps = if b.quick { 5 } else { 9 };
    let (mut stepped, mut plain, mut per_item) =
        (Samples::default(), Samples::default(), Samples::default());
    let (mut stepped_unit, mut plain_unit) = (Samples::default(), Samples::default());
    let (mut analysed, mut script) = (Samples::default(), Samples::default());
    for r in 1..=reps {
        b.say(&format!("  incremental rebuilds {r}/{reps}"));
        write(&items.join("analysed/src/lib.rs"), &items_source(true, r))?;
        analysed.push(cargo_build(&items, Some("analysed"))?);
        script.push(build_script_run(&items.join("target"), "analysed")?);
        // The two sides alternate which goes first, so a drift in load falls on both.
        let (mut s, mut p) = (0.0, 0.0);
        for attr in [r % 2 == 0, r % 2 == 1] {
            let name = if attr { "stepped" } else { "plain" };
            write(&items.join(name).join("src/lib.rs"), &items_source(attr, r))?;
            let ms = cargo_build(&items, Some(name))?;
            let unit = unit_times(&items.join("target"))?
                .get(name)
                .copied()
                .unwrap_or(f64::NAN);
            if attr {
                s = ms;
                stepped_unit.push(unit);
            } else {
                p = ms;
                plain_unit.push(unit);
            }
        }
        stepped.push(s);
        plain.push(p);
        per_item.push((s - p) / ITEMS as f64);
    }
    let mut notes = vec![
        format!(
            "From `cargo build --timings` of the clean builds (medians): the `tanto-macros` crate \
             itself compiles in {}, its `tanto-tokens` dependency (the canonical form of tokens) \
             in {}; syn, quote and proc-macro2 are shared with the baseline. A proc-macro crate with exactly \
             tanto-macros's dependencies and no code builds in {}.",
            duration(own.median()),
            duration(tokens.median()),
            clean[2].1
        ),
        format!(
            "From `cargo build --timings` of the incremental rebuilds (medians): rustc spends {} \
             on the crate with the attributes and {} on the one without; the rest of each figure \
             is cargo's own start and fingerprinting.",
            duration(stepped_unit.median()),
            duration(plain_unit.median())
        ),
        format!(
            "With `tanto_build::digests()` in its build script, each rebuild also runs the build \
             script, which parses the crate and keys every step by what it reaches: {} \
             (`cargo build --timings`' unit for the run, median), against a whole rebuild of {}.",
            duration(script.median()),
            duration(analysed.median())
        ),
    ];
    let per_item_line = Line::alone("extra rebuild time per `#[step]` item", &per_item, 0.5);
    if per_item_line.met() == Some(false) {
        b.say("  profiling both crates with rustc's -Z time-passes");
        let with = time_passes(&items, "stepped", true, reps)?;
        let without = time_passes(&items, "plain", false, reps)?;
        let get = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
        let mut grown: Vec<(&String, f64)> = with
            .keys()
            .filter(|k| !matches!(k.as_str(), "total" | "expand_crate"))
            .map(|k| (k, get(&with, k) - get(&without, k)))
            .collect();
        grown.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = grown
            .iter()
            .take(5)
            .map(|(k, _)| {
                let (w, o) = (get(&with, k), get(&without, k));
                format!("`{k}` {} against {}", duration(w), duration(o))
            })
            .collect();
        notes.push(format!(
            "From `rustc -Z time-passes` on the same kind of incremental rebuild \
             (`RUSTC_BOOTSTRAP=1`, in a target folder of its own), the passes that grow most \
             with the attributes: {}; in total {} against {}, of which macro expansion \
             itself (`macro_expand_crate`) {} against {}.",
            top.join(", "),
            duration(get(&with, "total")),
            duration(get(&without, "total")),
            duration(get(&with, "macro_expand_crate")),
            duration(get(&without, "macro_expand_crate")),
        ));
    }
    Ok(Row {
        id: 6,
        title: "Macro cost",
        workload: format!(
            "Clean `cargo build` (the default dev profile, as a new user's workspace has it, \
             so Cargo builds the macros and syn with its `build-override` settings; one target \
             folder each, deleted before each build; `tanto-macros` and `tanto-tokens`, path \
             dependencies here, built without incremental state as Cargo builds a dependency \
             from crates.io) of an empty proc-macro crate depending on \
             `tanto-macros`, against one depending on syn {syn} alone with the same features. \
             Then an incremental `cargo build` after editing one string in the first function \
             (keeping its length) of a generated crate of {ITEMS} `#[step]` async fns, against \
             the same crate without the attributes, the two alternating which goes first, {reps} \
             pairs; and of the same crate with a `build.rs` calling `tanto_build::digests()` \
             against it without (these with the workspace's profile settings); tanto itself is \
             already built."
        ),
        lines: vec![
            Line::versus(
                "clean build of `tanto-macros`",
                &clean[0].1,
                "syn alone",
                &clean[1].1,
                Target::None,
            ),
            Line {
                what: "extra clean-build time over syn alone".into(),
                baseline: None,
                tanto: extra,
                target: Target::Under(1000.0),
            },
            Line::versus(
                format!("incremental rebuild, {ITEMS} `#[step]` items"),
                &stepped,
                "the same crate without the attributes",
                &plain,
                Target::None,
            ),
            per_item_line,
            Line::versus(
                format!("incremental rebuild, {ITEMS} `#[step]` items, `tanto_build::digests()`"),
                &analysed,
                "the same crate without the build script",
                &stepped,
                Target::Ratio(1.2),
            ),
        ],
        notes,
    })
}

/// The locked version of `name` whose version starts with `major`.
fn dep_line(lock: &str, name: &str, major: &str) -> Result<String, String> {
    let header = format!("name = \"{name}\"\nversion = \"{major}");
    let at = lock
        .find(&header)
        .ok_or_else(|| format!("Cargo.lock has no `{name}` {major}x"))?;
    let rest = &lock[at + header.len() - major.len()..];
    Ok(rest.split('"').next().unwrap_or_default().to_owned())
}

/// The generated crate: `ITEMS` async fns, with `#[step]` when `attr`; `rev` changes one
/// string in the first, so each rebuild has an edit to compile. The edit keeps the string's
/// length: one that moves the items below it makes rustc check again every item an attribute
/// macro produced, whatever the macro (see row 6's notes), which this line does not measure.
fn items_source(attr: bool, rev: usize) -> String {
    let mut out = String::from(
        "//! Generated by `cargo xtask bench`: many steps, for timing the macros.\n\n\
         use tanto::prelude::*;\n",
    );
    for i in 0..ITEMS {
        let tag = if i == 0 {
            // Same length every time: see `items_source`'s doc.
            format!("s000 rev {rev:04}")
        } else {
            format!("s{i:03}")
        };
        if attr {
            out.push_str("\n#[step(image = \"tanto-test/busybox:latest\")]\n");
        } else {
            out.push('\n');
        }
        out.push_str(&format!(
            "/// Echoes its input.\npub async fn s{i:03}(ctx: &Ctx, x: String) -> Result<String> {{\n    \
             let out = ctx.container().exec([\"echo\", \"{tag}\", &x]).await?;\n    Ok(out.stdout)\n}}\n"
        ));
    }
    out
}

/// Writes `text` to `path` (creating its folder) unless it already holds exactly that.
pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

/// Runs `cargo build --offline --timings` in `dir` (for `package` only, when given); returns
/// its wall time.
pub(crate) fn cargo_build(dir: &Path, package: Option<&str>) -> Result<f64, String> {
    let mut cmd = crate::cargo();
    cmd.current_dir(dir)
        .args(["build", "--offline", "--timings", "--target-dir"])
        .arg(dir.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS");
    if let Some(p) = package {
        cmd.args(["-p", p]);
    }
    measure::timed(&mut cmd).map(|(ms, _)| ms).map_err(|e| {
        format!("{e}\n(if a crate is missing offline, run `cargo fetch` in the workspace)")
    })
}

/// How long the last `cargo build --timings` in `target` spent running `package`'s build
/// script, in ms.
fn build_script_run(target: &Path, package: &str) -> Result<f64, String> {
    let units = timing_units(target)?;
    let run = units.iter().find(|u| {
        u["name"].as_str() == Some(package) && u["mode"].as_str() == Some("run-custom-build")
    });
    run.and_then(|u| u["duration"].as_f64())
        .map(|d| d * 1e3)
        .ok_or_else(|| format!("the last build of `{package}` did not run its build script"))
}

/// Each unit's compile time in ms from the last `cargo build --timings` report in `target`.
fn unit_times(target: &Path) -> Result<HashMap<String, f64>, String> {
    let mut times = HashMap::new();
    for u in timing_units(target)? {
        if let (Some(name), Some(d)) = (u["name"].as_str(), u["duration"].as_f64()) {
            *times.entry(name.to_owned()).or_insert(0.0) += d * 1e3;
        }
    }
    Ok(times)
}

/// The units of the last `cargo build --timings` report in `target`.
pub(crate) fn timing_units(target: &Path) -> Result<Vec<serde_json::Value>, String> {
    let path = target.join("cargo-timings/cargo-timing.html");
    let html =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let start = html
        .find("const UNIT_DATA = ")
        .ok_or_else(|| format!("{} has no UNIT_DATA", path.display()))?
        + "const UNIT_DATA = ".len();
    let end = html[start..]
        .find("];")
        .ok_or_else(|| format!("{}: UNIT_DATA does not end", path.display()))?;
    serde_json::from_str(&html[start..start + end + 1])
        .map_err(|e| format!("{}: UNIT_DATA is not JSON: {e}", path.display()))
}

/// rustc's pass times in ms for an incremental rebuild of `package` (the generated crate,
/// `attr` saying which) after an edit, from `cargo rustc -- -Z time-passes` on stable through
/// `RUSTC_BOOTSTRAP`: a profile only. Cargo rebuilds everything when `RUSTC_BOOTSTRAP`
/// changes, so this uses a target folder of its own, kept between runs (the first run builds
/// tanto into it once); a first build there makes the profiled one incremental.
fn time_passes(
    dir: &Path,
    package: &str,
    attr: bool,
    rev: usize,
) -> Result<HashMap<String, f64>, String> {
    let source = dir.join(package).join("src/lib.rs");
    let mut passes = HashMap::new();
    for edit in [rev + 1, rev + 2] {
        write(&source, &items_source(attr, edit))?;
        let mut cmd = crate::cargo();
        cmd.current_dir(dir)
            .args(["rustc", "--offline", "-p", package, "--target-dir"])
            .arg(dir.join("target-time-passes"))
            .args(["--", "-Z", "time-passes"])
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("CARGO_TARGET_DIR");
        passes = parse_passes(&measure::timed(&mut cmd)?.1.stderr);
    }
    Ok(passes)
}

/// The `time: SECS; rss: … NAME` lines of `-Z time-passes`, in ms by pass name.
fn parse_passes(stderr: &[u8]) -> HashMap<String, f64> {
    let mut passes = HashMap::new();
    for line in String::from_utf8_lossy(stderr).lines() {
        let Some(rest) = line.strip_prefix("time:") else {
            continue;
        };
        let secs = rest
            .split(';')
            .next()
            .and_then(|t| t.trim().parse::<f64>().ok());
        let name = rest.rsplit('\t').next().map(str::trim);
        if let (Some(secs), Some(name)) = (secs, name) {
            passes.entry(name.to_owned()).or_insert(secs * 1e3);
        }
    }
    passes
}
