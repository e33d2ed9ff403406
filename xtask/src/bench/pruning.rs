//! Row 10: hashing a 1M-file tree whose `target/` (90 % of the files) is left out by a glob,
//! against hashing its 100k included files alone: pruned folders must cost nothing.

use std::path::Path;
use std::process::Command;

use super::measure::{self, Samples, duration, fields};
use super::report::{Line, Row, Target};
use super::{Bench, settle, tree};

const DIRS: usize = 100;
const JUNK_DIRS: usize = 900;
const PER_DIR: usize = 1_000;
const SIZE: usize = 1_024;

/// Measures row 10.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(5);
    let dir = b.work.join("tree1m");
    b.say("  making the 1M-file tree (once; about a minute)");
    if tree::with_target(&dir, DIRS, JUNK_DIRS, PER_DIR, SIZE)? {
        settle();
    }
    let src = dir.join("src");
    // The process's time, and `bench_hash`'s own (without process start and exit).
    let hash = |root: &Path, store: &Path, globs: &[&str]| -> Result<(f64, f64), String> {
        let (ms, out) =
            measure::timed(Command::new(&b.bins.hash).arg(root).arg(store).args(globs))?;
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let files = fields(&out, "files").first().copied().unwrap_or(0.0);
        if files != (DIRS * PER_DIR) as f64 {
            return Err(format!(
                "bench_hash {} {globs:?} saw {files} files, not {}",
                root.display(),
                DIRS * PER_DIR
            ));
        }
        let inside = fields(&out, "ms").first().copied().unwrap_or(f64::NAN);
        Ok((ms, inside))
    };
    let path = dir.to_string_lossy().into_owned();
    let find = format!("find {path} -path {path}/target -prune -o -type f -print | wc -l");
    let find_all = format!("find {path} -type f | wc -l");
    let exclude = ["--exclude", "target"];
    let include = ["--include", "src/**"];
    let mut s = [(); 8].map(|()| Samples::default());
    let mut inside = [(); 6].map(|()| Samples::default());
    for i in 0..reps {
        b.say(&format!("  repetition {}/{reps}", i + 1));
        let stores = [
            b.fresh_dir("prune-alone")?,
            b.fresh_dir("prune-exclude")?,
            b.fresh_dir("prune-include")?,
        ];
        let cases: [(&Path, &[&str]); 3] = [(&src, &[]), (&dir, &exclude), (&dir, &include)];
        // Each repetition starts with another case, so what one case leaves behind (the files
        // its store wrote, the stores just removed) weighs on each case alike.
        for warm in [0, 3] {
            for k in 0..3 {
                let c = (i + k) % 3;
                let (ms, ins) = hash(cases[c].0, &stores[c], cases[c].1)?;
                s[warm + c].push(ms);
                inside[warm + c].push(ins);
            }
        }
        s[6].push(measure::timed(Command::new("sh").args(["-c", &find]))?.0);
        s[7].push(measure::timed(Command::new("sh").args(["-c", &find_all]))?.0);
    }
    let alone = format!("`bench_hash` of `src/` alone ({} files)", DIRS * PER_DIR);
    let lines = vec![
        Line::versus(
            "cold, `exclude = \"target\"`",
            &s[1],
            alone.clone(),
            &s[0],
            Target::Ratio(1.1),
        ),
        Line::versus(
            "cold, `include = \"src/**\"`",
            &s[2],
            alone.clone(),
            &s[0],
            Target::Ratio(1.1),
        ),
        Line::versus(
            "warm, `exclude = \"target\"`",
            &s[4],
            alone.clone(),
            &s[3],
            Target::Ratio(1.1),
        ),
        Line::versus(
            "warm, `include = \"src/**\"`",
            &s[5],
            alone,
            &s[3],
            Target::Ratio(1.1),
        ),
        Line::versus(
            "warm, `exclude = \"target\"`",
            &s[4],
            format!("`{}`", find.replace(&path, "DIR")),
            &s[6],
            Target::None,
        ),
    ];
    let notes = vec![
        format!(
            "For scale: `{}` lists all {} files in {}; the pruned walks never read `target/`.",
            find_all.replace(&path, "DIR"),
            (DIRS + JUNK_DIRS) * PER_DIR,
            duration(s[7].median())
        ),
        format!(
            "Inside the process (`bench_hash`'s own timer, without process start and exit; \
             medians): cold {} for `src/` alone, {} with `exclude`, {} with `include`; warm \
             {}, {} and {}. The cases take turns to go first.",
            duration(inside[0].median()),
            duration(inside[1].median()),
            duration(inside[2].median()),
            duration(inside[3].median()),
            duration(inside[4].median()),
            duration(inside[5].median()),
        ),
    ];
    Ok(Row {
        id: 10,
        title: "Pruning, 1M files with 90 % excluded",
        workload: format!(
            "`Store::hash_input_dir` (as row 3, a process per hash) over \
             `target/bench/tree1m`: {} files of {SIZE} bytes under `src/` and {} empty files \
             in {JUNK_DIRS} folders under `target/debug/`, which a glob leaves out (`exclude = \
             \"target\"`, or `include = \"src/**\"`); against the same hash of `src/` alone, \
             cold (a fresh store) and warm (the stat cache of the cold run).",
            DIRS * PER_DIR,
            JUNK_DIRS * PER_DIR
        ),
        lines,
        notes,
    })
}
