//! Row 2: the 20-step CI-shaped pipeline over a 10k-file tree — cold, fully cached, and
//! after a one-file change — against BuildKit and a sequential script of `docker run`s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::measure::{self, Samples, duration};
use super::report::{Line, Row, Target};
use super::tanto_run::{self, Run};
use super::{Bench, settle, tools, tree, workload};

/// The machine's CPU count.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The `-j` values of the extra cold runs: one slot per CPU (the old default), two more (the
/// default), and four per CPU. How many slots steps that mostly wait on the daemon want.
fn jobs_sweep() -> [usize; 3] {
    [cpus(), cpus() + 2, 4 * cpus()]
}

/// Measures row 2.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(5);
    let (dockerfile, script) = write_baselines(&b.root)?;
    let src = b.work.join("src10k");
    b.say("  generating the 10k-file source tree");
    let files = tree::source(&src)?;
    settle();
    let client = tools::buildkit_client()?;
    let bust_base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let buildkit = |bust: &str, out: &Path| -> Result<f64, String> {
        let mut cmd = Command::new(&client);
        cmd.env("DOCKER_BUILDKIT", "1")
            .args(["build", "--pull=false", "--progress=plain", "-f"])
            .arg(&dockerfile)
            .args([
                "--build-arg",
                &format!("BUST={bust}"),
                "--target",
                "result",
                "-o",
            ])
            .arg(format!("type=local,dest={}", out.display()))
            .arg(&src);
        let (ms, output) = measure::timed(&mut cmd)?;
        if String::from_utf8_lossy(&output.stderr)
            .to_lowercase()
            .contains("pulling")
        {
            return Err("BuildKit pulled an image; the baseline must use the local one".into());
        }
        Ok(ms)
    };
    let tanto_with = |store: &Path, out: Option<&Path>, extra: &[&str]| -> Result<Run, String> {
        let src = src.to_string_lossy();
        let mut args = vec!["ci20", "--src", &src];
        args.extend(extra);
        let out = out.map(|o| o.to_string_lossy().into_owned());
        if let Some(out) = &out {
            args.extend(["--out", out]);
        }
        tanto_run::run(&b.bins.fixture, &args, store)
    };
    let tanto = |store: &Path, out: Option<&Path>| tanto_with(store, out, &[]);
    b.say("  warm-up: the naive script once");
    naive(&script, &src, &b.fresh_dir("ci20-sh")?)?;

    let mut s = Figures::default();
    for r in 0..reps {
        b.say(&format!("  repetition {}/{reps}", r + 1));
        let store = b.fresh_dir("ci20-store")?;
        let t_out = b.fresh_dir("ci20-out")?;
        let cold = tanto(&store, Some(&t_out))?;
        expect(&cold, "cold", |(ran, ..)| ran == 20)?;
        let gate = tanto_output(&t_out)?;
        s.cold.push(cold.wall_ms);
        s.cold_profile.push(cold);
        let cached = tanto(&store, None)?;
        expect(&cached, "cached", |(ran, cached, ..)| {
            ran == 0 && cached == 20
        })?;
        s.cached.push(cached.wall_ms);
        s.cached_profile.push(cached);
        // Every step runs again, with what the cold run left in the store: each step's hint
        // that it ran one command, as a real cold step sees it after its inputs changed.
        let hinted = tanto_with(&store, None, &["--no-cache"])?;
        expect(&hinted, "hinted", |(ran, ..)| ran == 20)?;
        s.hinted.push(hinted.wall_ms);
        for (jobs, samples) in jobs_sweep().iter().zip(&mut s.cold_jobs) {
            let jobs = jobs.to_string();
            let store = b.fresh_dir("ci20-store-jobs")?;
            let run = tanto_with(&store, None, &["-j", &jobs])?;
            expect(&run, &format!("cold -j {jobs}"), |(ran, ..)| ran == 20)?;
            samples.push(run.wall_ms);
        }

        let bk_out = b.fresh_dir("ci20-bk")?;
        let (bust, cold) = tools::buildkit_once_more(b, |attempt| {
            let bust = format!("{bust_base}-{}-{r}-{attempt}", std::process::id());
            buildkit(&bust, &bk_out).map(|ms| (bust, ms))
        })?;
        s.bk_cold.push(cold);
        same("BuildKit's", &bk_out, &gate)?;
        s.bk_cached
            .push(tools::buildkit_once_more(b, |_| buildkit(&bust, &bk_out))?);

        let sh_out = b.fresh_dir("ci20-sh")?;
        let (total, steps) = naive(&script, &src, &sh_out)?;
        same("the naive script's", &sh_out, &gate)?;
        s.naive.push(total);
        let critical = workload::critical_path(&steps)?;
        let total = steps.values().sum::<f64>();
        let packed = total / cpus() as f64;
        s.raw_total.push(total);
        s.critical.push(critical);
        s.bound.push(critical.max(packed));
        s.step_ms.extend(steps.values().copied());

        tree::touch_one(&src, r)?;
        let one = tanto(&store, Some(&t_out))?;
        expect(&one, "one-file", |(ran, ..)| ran > 0)?;
        s.one_ran = one.counts()?.0;
        s.one.push(one.wall_ms);
        s.bk_one.push(buildkit(&bust, &bk_out)?);
        same("BuildKit's one-file", &bk_out, &tanto_output(&t_out)?)?;
    }
    Ok(row(&s, files))
}

/// Everything row 2 measures.
#[derive(Default)]
struct Figures {
    cold: Samples,
    /// Every step run again on the cold run's store (`--no-cache`): with its hints.
    hinted: Samples,
    cached: Samples,
    one: Samples,
    bk_cold: Samples,
    bk_cached: Samples,
    bk_one: Samples,
    naive: Samples,
    critical: Samples,
    /// The raw `docker run`s' total time, per repetition.
    raw_total: Samples,
    /// max(critical path, the raw `docker run`s' total time ÷ CPUs), per repetition.
    bound: Samples,
    step_ms: Vec<f64>,
    one_ran: u64,
    /// Cold runs with each `-j` of [`jobs_sweep`].
    cold_jobs: [Samples; 3],
    cold_profile: Vec<Run>,
    cached_profile: Vec<Run>,
}

fn row(s: &Figures, files: usize) -> Row {
    let naive_cmd = "`bench/ci20.sh`: sequential `docker run --rm`s";
    let mut lines = vec![
        Line::versus(
            "cold run (empty store)",
            &s.cold,
            "the machine's bound: max(critical path of raw `docker run`s, their total time ÷ CPUs)",
            &s.bound,
            Target::Ratio(1.1),
        ),
        Line::versus(
            "cold run (empty store)",
            &s.cold,
            "critical path of raw `docker run`s (from the naive script's per-step times)",
            &s.critical,
            Target::None,
        ),
        Line::versus(
            "cold run, hints from an earlier run (`--no-cache` on its store)",
            &s.hinted,
            "the machine's bound",
            &s.bound,
            Target::None,
        ),
    ];
    for (jobs, samples) in jobs_sweep().iter().zip(&s.cold_jobs) {
        lines.push(Line::versus(
            format!("cold run with `-j {jobs}`"),
            samples,
            "the machine's bound",
            &s.bound,
            Target::None,
        ));
    }
    lines.extend([
        Line::versus(
            "cold run (empty store)",
            &s.cold,
            "BuildKit cold (`bench/ci20.Dockerfile`)",
            &s.bk_cold,
            Target::None,
        ),
        Line::versus(
            "cold run (empty store)",
            &s.cold,
            naive_cmd,
            &s.naive,
            Target::None,
        ),
        Line::versus(
            "cached re-run",
            &s.cached,
            "BuildKit cached rebuild",
            &s.bk_cached,
            Target::Ratio(0.1),
        ),
        Line::versus(
            "cached re-run",
            &s.cached,
            "tanto's own cold run",
            &s.cold,
            Target::Ratio(0.05),
        ),
        Line::alone("cached re-run", &s.cached, 20.0),
        Line::versus(
            "after a one-file change",
            &s.one,
            "BuildKit after the same change",
            &s.bk_one,
            Target::None,
        ),
    ]);
    Row {
        id: 2,
        title: "20-step pipeline over a 10k-file tree",
        workload: format!(
            "The pipeline `ci20` (`e2e/src/bench.rs`) over a generated workspace of {files} \
             files: five checks fanned out over the source, a build feeding four test steps, a \
             diamond into coverage, a five-step release chain, docs, and a gate; every step is \
             one busybox script over the read-only source and its upstream outputs. The \
             baselines run the same scripts: BuildKit as a multi-stage build with bind mounts \
             (`DOCKER_BUILDKIT=1`, `--pull=false`: the base image comes from the local image \
             store, and the row fails if BuildKit reports a pull; cold by a fresh `BUST` build \
             argument), and a sequential \
             shell script of `docker run --rm --network=none`s. All three must end with the \
             same `gate` output, which the row checks. tanto runs with its default `-j` (the \
             CPU count plus two), and again with the `-j` of each sweep line. The hinted line \
             runs every step again with `--no-cache` on the cold run's store, where each step \
             left the hint that it ran one command, so each runs it as its container's own \
             process: what a real cold step sees once its code has run before. The one-file \
             change appends a comment to one module: tanto then ran {} of 20 steps (the rest were cut off because their inputs' digests were unchanged).",
            s.one_ran
        ),
        lines,
        notes: notes(s),
    }
}

fn notes(s: &Figures) -> Vec<String> {
    let median = |f: &dyn Fn(&Run) -> f64, runs: &[Run]| {
        let mut x = Samples::default();
        for r in runs {
            x.push(f(r));
        }
        x.median()
    };
    let phase = |i: usize, runs: &[Run]| median(&|r: &Run| r.phases()[i], runs);
    let busy = median(
        &|r: &Run| {
            r.spans()
                .iter()
                .map(|(_, a, z)| Run::ms(*a, *z))
                .sum::<f64>()
        },
        &s.cold_profile,
    );
    let mut steps = Samples::default();
    for v in &s.step_ms {
        steps.push(*v);
    }
    let tanto_path = median(
        &|r: &Run| {
            let labels = workload::labels();
            let by_name: HashMap<String, f64> = r
                .spans()
                .iter()
                .filter_map(|(l, a, z)| Some(((*labels.get(l)?).to_owned(), Run::ms(*a, *z))))
                .collect();
            workload::critical_path(&by_name).unwrap_or(f64::NAN)
        },
        &s.cold_profile,
    );
    let cold_steps = {
        let mut x = Samples::default();
        for r in &s.cold_profile {
            for (_, a, z) in r.spans() {
                x.push(Run::ms(a, z));
            }
        }
        x
    };
    let cpus = cpus();
    vec![
        format!(
            "Cold run, from the JSON events (medians): {} from spawn to `run_started` (CLI, \
             store, Docker connection, hashing the 10k-file `--src`), {} until the first step \
             starts, {} from the first step's start to the last one's end, {} to exit. The 20 \
             raw `docker run`s take {} in all, which {cpus} CPUs cannot fit in less than {}, \
             and {} along the critical path: the bound is the larger. tanto's 20 steps hold {} \
             of container time ({} ÷ {cpus}); along the graph's critical path they take {}. \
             One step takes {} in tanto against {} per `docker run` in the naive script: \
             with an empty store a step has the hint that it runs one command only once a \
             step of the same step fn has ended in the run (`ci20`'s 20 steps call five), and \
             one without it pays an exec and the end of a keep-alive container still up when \
             its command is done on top of a `docker run`; the hinted line shows what those \
             cost. The `-j` sweep lines are what the default follows.",
            duration(phase(0, &s.cold_profile)),
            duration(phase(1, &s.cold_profile)),
            duration(phase(2, &s.cold_profile)),
            duration(phase(3, &s.cold_profile) + phase(4, &s.cold_profile)),
            duration(s.raw_total.median()),
            duration(s.raw_total.median() / cpus as f64),
            duration(s.critical.median()),
            duration(busy),
            duration(busy / cpus as f64),
            duration(tanto_path),
            duration(cold_steps.median()),
            duration(steps.median()),
        ),
        format!(
            "Cached re-run, from the JSON events (medians): {} from spawn to `run_started` \
             (CLI, store, Docker connection, hashing 10k files through the stat cache), {} from \
             there to `run_finished` (20 key lookups), {} to exit.",
            duration(phase(0, &s.cached_profile)),
            duration(
                phase(1, &s.cached_profile)
                    + phase(2, &s.cached_profile)
                    + phase(3, &s.cached_profile)
            ),
            duration(phase(4, &s.cached_profile)),
        ),
    ]
}

/// Fails unless the run's `(ran, cached, failed, skipped)` pass `ok`.
fn expect(run: &Run, what: &str, ok: impl Fn((u64, u64, u64, u64)) -> bool) -> Result<(), String> {
    let counts = run.counts()?;
    if ok(counts) {
        Ok(())
    } else {
        Err(format!(
            "tanto's {what} run of `ci20` gave (ran, cached, failed, skipped) = {counts:?}"
        ))
    }
}

/// The string tanto exported as the pipeline's output: the one `NAME.json` that `--out` wrote.
fn tanto_output(out: &Path) -> Result<String, String> {
    let listing = std::fs::read_dir(out).map_err(|e| format!("list {}: {e}", out.display()))?;
    let json: Vec<_> = listing
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    let [path] = json.as_slice() else {
        return Err(format!(
            "--out {} holds {} JSON files, not one",
            out.display(),
            json.len()
        ));
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str::<String>(&text)
        .map_err(|e| format!("{} is not a JSON string: {e}", path.display()))
}

/// Fails unless `out/gate` holds `expected`: the baselines and tanto ran the same scripts.
fn same(who: &str, out: &Path, expected: &str) -> Result<(), String> {
    let path = out.join(workload::FINAL);
    let got =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{who} `{}` output {got:?} differs from tanto's {expected:?}: the baselines in bench/ \
             and `ci20` in e2e/src/bench.rs no longer run the same scripts",
            workload::FINAL
        ))
    }
}

/// Runs the naive script; returns its wall time and each step's time.
fn naive(script: &Path, src: &Path, out: &Path) -> Result<(f64, HashMap<String, f64>), String> {
    let (ms, output) = measure::timed(Command::new("sh").arg(script).arg(src).arg(out))?;
    let steps = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("step ")?.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
        })
        .collect();
    Ok((ms, steps))
}

/// Writes `bench/ci20.Dockerfile` and `bench/ci20.sh` from the workload.
fn write_baselines(root: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = root.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let dockerfile = dir.join("ci20.Dockerfile");
    let script = dir.join("ci20.sh");
    for (path, text) in [
        (&dockerfile, workload::dockerfile()),
        (&script, workload::shell_script()),
    ] {
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok((dockerfile, script))
}
