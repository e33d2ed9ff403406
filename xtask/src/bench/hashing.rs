//! Row 3: hashing a 100k-file tree as a step input, cold and with a warm stat cache, against
//! `tar` and `b3sum` reading the same files.

use std::process::Command;

use super::measure::{self, Samples, duration, fields};
use super::report::{Line, Row, Target};
use super::{Bench, profile, settle, tools, tree};

const DIRS: usize = 100;
const PER_DIR: usize = 1_000;
const SIZE: usize = 4_096;

/// Measures row 3.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(5);
    tools::ensure_b3sum()?;
    let dir = b.work.join("tree100k");
    b.say("  making the 100k-file tree (once)");
    if tree::flat(&dir, DIRS, PER_DIR, SIZE)? {
        settle();
    }
    let path = dir.to_string_lossy().into_owned();
    let tar = format!("tar cf - -C {path} . | wc -c");
    let b3 = format!("find {path} -type f -print0 | xargs -0 b3sum > /dev/null");
    let hash = |store: &std::path::Path| -> Result<(f64, String), String> {
        let (ms, out) = measure::timed(Command::new(&b.bins.hash).arg(&dir).arg(store))?;
        Ok((ms, String::from_utf8_lossy(&out.stdout).into_owned()))
    };
    b.say("  warm-up: tar once");
    measure::timed(Command::new("sh").args(["-c", &tar]))?;
    let (mut cold, mut warm) = (Samples::default(), Samples::default());
    let (mut t, mut b3s) = (Samples::default(), Samples::default());
    let (mut cold_in, mut warm_in) = (Samples::default(), Samples::default());
    let mut warm_read = 0.0;
    for i in 0..reps {
        b.say(&format!("  repetition {}/{reps}", i + 1));
        let store = b.fresh_dir("hash-store")?;
        let (ms, out) = hash(&store)?;
        let files = fields(&out, "files").first().copied().unwrap_or(0.0);
        if files < (DIRS * PER_DIR) as f64 {
            return Err(format!(
                "bench_hash saw {files} files in {path}, not {}: is the tree ignored by a .gitignore above it?",
                DIRS * PER_DIR
            ));
        }
        cold.push(ms);
        cold_in.push(fields(&out, "ms").first().copied().unwrap_or(f64::NAN));
        let (ms, out) = hash(&store)?;
        warm.push(ms);
        warm_in.push(fields(&out, "ms").first().copied().unwrap_or(f64::NAN));
        warm_read = fields(&out, "files_read")
            .first()
            .copied()
            .unwrap_or(f64::NAN);
        t.push(measure::timed(Command::new("sh").args(["-c", &tar]))?.0);
        b3s.push(measure::timed(Command::new("sh").args(["-c", &b3]))?.0);
    }
    let mut notes = vec![format!(
        "Inside the process (`bench_hash`'s own timer, without process start and exit): cold \
         {}, warm {}. The warm run read {warm_read} files' contents; the rest came from the \
         stat cache, which is loaded from and saved to the store each time as in a run.",
        duration(cold_in.median()),
        duration(warm_in.median()),
    )];
    let lines = vec![
        Line::versus(
            "cold hash (fresh stat cache)",
            &cold,
            format!("`{}`", tar.replace(&path, "DIR")),
            &t,
            Target::Ratio(0.5),
        ),
        Line::versus(
            "cold hash (fresh stat cache)",
            &cold,
            format!("`{}`", b3.replace(&path, "DIR")),
            &b3s,
            Target::None,
        ),
        Line::alone("warm hash (stat cache)", &warm, 100.0),
    ];
    let data = b.work.join("hash.perf");
    let store = b.work.join("hash-store").to_string_lossy().into_owned();
    let args = [path.as_str(), store.as_str()];
    if lines[2].met() == Some(false) {
        b.say("  profiling the warm hash");
        let profile = profile::perf_top(&b.bins.hash, &args, &data, 6).unwrap_or_else(|e| e);
        notes.push(format!("Warm hash, {profile}."));
    }
    if lines[0].met() == Some(false) {
        b.say("  profiling the cold hash");
        b.fresh_dir("hash-store")?;
        let profile = profile::perf_top(&b.bins.hash, &args, &data, 6).unwrap_or_else(|e| e);
        notes.push(format!("Cold hash, {profile}."));
    }
    Ok(Row {
        id: 3,
        title: "Tree hashing, 100k files of 4 KiB",
        workload: format!(
            "`Store::hash_input_dir` (the Merkle hash of a `Dir` input, `.gitignore` \
             rules on, stat cache saved into the store) over {} files of {SIZE} bytes in {DIRS} \
             folders under `target/bench/tree100k`, timed as a process (`bench_hash`): cold with \
             a fresh store, warm with the store's stat cache from the cold run.",
            DIRS * PER_DIR
        ),
        lines,
        notes,
    })
}
