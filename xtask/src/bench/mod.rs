//! `cargo xtask bench [--quick] [ROW..]`: measures tanto against its baselines on this machine
//! and writes `BENCHMARKS.md` from scratch.
//!
//! Rows (by number or name): 1 `overhead`, 2 `pipeline`, 3 `hashing`, 4 `scheduler`,
//! 5 `cli`, 6 `macros`, 7 `ship`, 8 `remote`, 9 `podman`, 10 `pruning`, 11 `light`. Each runs tanto and its baselines
//! in the same run, interleaved, and reports medians with their spread. Timing is done here
//! with `Instant` around `std::process::Command` rather than with hyperfine: several rows must
//! prepare state between repetitions (fresh stores, an edited file, a cache-busting build
//! argument) and read tanto's JSON events of the very run they timed, and one clock for every
//! figure keeps ratios honest.
//!
//! A full run rewrites `BENCHMARKS.md`; a run of some rows or with `--quick` prints the
//! table and writes it to `target/bench/BENCHMARKS.partial.md` instead.

mod cli_start;
mod hashing;
mod light_build;
mod macro_cost;
mod measure;
mod overhead;
mod pipeline;
mod podman;
mod profile;
mod pruning;
mod report;
mod scheduler;
mod shared_cache;
mod ship;
mod tanto_run;
mod tools;
mod tree;
mod workload;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use report::Row;
use tools::Bins;

/// Measures one row.
type Measure = fn(&Bench) -> Result<Row, String>;

/// The rows, in order: number, name, and the function that measures it.
const ROWS: [(u8, &str, Measure); 11] = [
    (1, "overhead", overhead::run),
    (2, "pipeline", pipeline::run),
    (3, "hashing", hashing::run),
    (4, "scheduler", scheduler::run),
    (5, "cli", cli_start::run),
    (6, "macros", macro_cost::run),
    (7, "ship", ship::run),
    (8, "remote", shared_cache::run),
    (9, "podman", podman::run),
    (10, "pruning", pruning::run),
    (11, "light", light_build::run),
];

/// The rows that time cargo itself and run no bench binary, so need no release build.
const BUILD_ROWS: [u8; 2] = [6, 11];

/// What every row gets: paths, binaries and how many repetitions to make.
pub(crate) struct Bench {
    /// The workspace root.
    pub(crate) root: PathBuf,
    /// Scratch space: `target/bench`.
    pub(crate) work: PathBuf,
    /// The release binaries.
    pub(crate) bins: Bins,
    /// Fewer repetitions, for trying things out.
    pub(crate) quick: bool,
    started: Instant,
}

impl Bench {
    /// `full` repetitions, or a third of them (at least two) with `--quick`.
    pub(crate) fn reps(&self, full: usize) -> usize {
        if self.quick { (full / 3).max(2) } else { full }
    }

    /// A fresh, empty folder `name` under `target/bench`.
    pub(crate) fn fresh_dir(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.work.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Prints a progress line on stderr, stamped with the time since the start.
    pub(crate) fn say(&self, message: &str) {
        eprintln!(
            "bench [{:>5.1}s] {message}",
            self.started.elapsed().as_secs_f64()
        );
    }
}

fn usage() -> String {
    let names: Vec<String> = ROWS
        .iter()
        .map(|(n, name, _)| format!("{n}|{name}"))
        .collect();
    format!(
        "usage: cargo xtask bench [--quick] [ROW..]   rows: {}",
        names.join(" ")
    )
}

/// Runs `cargo xtask bench ARGS`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut picked: Vec<u8> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--quick" | "-q" => quick = true,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => {
                let row = ROWS
                    .iter()
                    .find(|(n, name, _)| other == *name || other == n.to_string())
                    .ok_or_else(|| format!("unknown row `{other}`; {}", usage()))?;
                if !picked.contains(&row.0) {
                    picked.push(row.0);
                }
            }
        }
    }
    let all = picked.is_empty();
    if all {
        picked = ROWS.iter().map(|r| r.0).collect();
    }
    picked.sort_unstable();
    let started = Instant::now();
    crate::daemon::ensure()?;
    crate::images::ensure()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent folder")?
        .to_path_buf();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bins = if picked.iter().all(|r| BUILD_ROWS.contains(r)) {
        tools::bin_paths(&target)
    } else {
        tools::build_bins(&root, &target)?
    };
    let bench = Bench {
        work: target.join("bench"),
        root,
        bins,
        quick,
        started,
    };
    std::fs::create_dir_all(&bench.work)
        .map_err(|e| format!("create {}: {e}", bench.work.display()))?;
    let load_before = load();
    let mut rows = Vec::new();
    for (n, name, measure) in ROWS.iter().filter(|r| picked.contains(&r.0)) {
        let load_at_start = load();
        bench.say(&format!("row {n} ({name}), load average {load_at_start}"));
        let mut row = measure(&bench).map_err(|e| format!("row {n} ({name}): {e}"))?;
        row.workload.push_str(&format!(
            " (Load average, this bench's own work included: {load_at_start} when the row \
             started, {} when it ended.)",
            load()
        ));
        for line in &row.lines {
            let against = line
                .baseline
                .as_ref()
                .map_or(String::new(), |(name, figure)| {
                    format!(" vs {figure} ({name})")
                });
            bench.say(&format!("  {}: {}{against}", line.what, line.tanto));
        }
        rows.push(row);
    }
    let header = header(&bench, load_before, all && !quick);
    let text = report::markdown(&header, &rows);
    let out = if all && !quick {
        bench.root.join("BENCHMARKS.md")
    } else {
        print!("{text}");
        bench.work.join("BENCHMARKS.partial.md")
    };
    std::fs::write(&out, &text).map_err(|e| format!("write {}: {e}", out.display()))?;
    bench.say(&format!("wrote {}", out.display()));
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| !r.all_met())
        .map(|r| r.id.to_string())
        .collect();
    if !missed.is_empty() {
        bench.say(&format!("rows missing a target: {}", missed.join(", ")));
    }
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn first_line(cmd: &mut Command) -> String {
    measure::run(cmd)
        .map(|s| s.lines().next().unwrap_or("").trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn header(bench: &Bench, load_before: String, full: bool) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let kernel = first_line(Command::new("uname").arg("-r"));
    let docker = first_line(Command::new("docker").args([
        "version",
        "--format",
        "{{.Server.Version}} (API {{.Server.APIVersion}}, client {{.Client.Version}})",
    ]));
    let rustc = first_line(Command::new("rustc").arg("--version"));
    let mode = if full { "full" } else { "partial or --quick" };
    format!(
        "# Benchmarks\n\n\
         Generated by `cargo xtask bench` ({mode} run, {:.0} s) on {date}: {cpus} CPUs ({}), \
         Linux {kernel}, Docker {docker}, {rustc}; load average {load_before} at the start and \
         {} at the end. Regenerate with `cargo xtask bench` (all rows: about 10 minutes on a \
         quiet machine once the release binaries and generated crates are built, under 20 the \
         first time), `cargo xtask bench 2 3` (some rows) or `--quick` (fewer repetitions: \
         about 6 minutes). \
         Timing code: `xtask/src/bench/`; baselines: `bench/`.\n\n\
         Every figure is the median of its repetitions with the fastest and slowest in \
         brackets, taken in this run with tanto and its baseline interleaved. The ratio is \
         tanto's median over the baseline's. Page caches are warm for everyone: nothing here \
         drops them, since other work shares the machine. Commands are timed from spawn to \
         exit by the harness itself (`std::process::Command` and `Instant`) rather than by \
         hyperfine: rows prepare state between repetitions (fresh stores, an edited file, a \
         cache-busting build argument) and read the JSON events of the very run they timed, \
         and one clock for tanto and its baselines keeps the ratios comparable. Where a row \
         misses its target, its notes say where the time goes, from tanto's JSON event \
         timestamps, `perf` or `cargo build --timings`.\n",
        bench.started.elapsed().as_secs_f64(),
        cpu_model(),
        load()
    )
}

/// Sleeps out the stat cache's racy window (files changed within a second of being hashed are
/// hashed again next time), so a warm measurement is not charged for a tree just written.
pub(crate) fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1_100));
}
