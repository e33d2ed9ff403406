//! Row 8: the 20-step pipeline fully cached from a warm shared cache (BuildGrid) with an
//! empty local store — a second machine — against the same run with a warm local store.

use super::measure::{Samples, duration};
use super::report::{Line, Row, Target};
use super::tanto_run;
use super::{Bench, settle, tree};

/// Measures row 8.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(9);
    let src = b.work.join("src10k");
    b.say("  generating the 10k-file source tree");
    let files = tree::source(&src)?;
    b.say("  starting BuildGrid");
    let server = crate::buildgrid::Server::start(&b.fresh_dir("buildgrid")?)?;
    let remote = [("TANTO_REMOTE_CACHE", server.url.as_str())];
    let src = src.to_string_lossy().into_owned();
    let fixture = &b.bins.fixture;
    let warm = b.fresh_dir("remote-warm")?;
    b.say("  warming BuildGrid and a local store");
    let first = tanto_run::run_with(
        fixture,
        &["ci20", "--src", &src, "--remote-upload"],
        &warm,
        &remote,
    )?;
    if first.counts()?.0 != 20 {
        return Err(format!("the warming run gave {:?}", first.counts()?));
    }
    settle();
    let (mut from_remote, mut local) = (Samples::default(), Samples::default());
    // Spawn to `run_started`, `run_started` to `run_finished` (no step runs), then to exit.
    let mut phases: [Samples; 3] = Default::default();
    for r in 0..reps {
        b.say(&format!("  repetition {}/{reps}", r + 1));
        let empty = b.fresh_dir("remote-empty")?;
        let run = tanto_run::run_with(fixture, &["ci20", "--src", &src], &empty, &remote)?;
        let counts = run.counts()?;
        if counts.0 != 0 || counts.1 != 20 {
            return Err(format!(
                "the run with an empty store and a warm BuildGrid gave (ran, cached, failed, skipped) = {counts:?}"
            ));
        }
        if !run
            .stderr
            .contains(": 20 hits (20 from the pipeline's index)")
        {
            return Err(format!(
                "the run with an empty store did not read its hits from the pipeline's index: {}",
                run.stderr
            ));
        }
        from_remote.push(run.wall_ms);
        let [start, first, steps, last, exit] = run.phases();
        for (p, ms) in phases.iter_mut().zip([start, first + steps + last, exit]) {
            p.push(ms);
        }
        let run = tanto_run::run(fixture, &["ci20", "--src", &src], &warm)?;
        if run.counts()?.1 != 20 {
            return Err(format!("the warm local run gave {:?}", run.counts()?));
        }
        local.push(run.wall_ms);
    }
    drop(server);
    let m: Vec<String> = phases.iter().map(|p| duration(p.median())).collect();
    let what = "`ci20` fully cached: empty local store, warm BuildGrid";
    Ok(Row {
        id: 8,
        title: "Shared cache",
        workload: format!(
            "Row 2's pipeline `ci20` over its generated workspace of {files} files, with a \
             fresh, empty store and `TANTO_REMOTE_CACHE` pointing at a BuildGrid (from PyPI, \
             serving CAS, ByteStream and an LRU action cache on 127.0.0.1) that one run with \
             `--remote-upload` warmed: every step a remote hit, no output fetched. Against the \
             same run on the warm store of that first run, without a remote."
        ),
        lines: vec![
            Line::versus(
                what,
                &from_remote,
                "the same run with a warm local store",
                &local,
                Target::Ratio(3.0),
            ),
            Line::alone(what, &from_remote, 300.0),
        ],
        notes: vec![format!(
            "Where the remote run's time goes (medians of the JSON events' timestamps): {} \
             from process start to `run_started` (a new store, the tree hashed with an empty \
             stat cache, connecting and asking the server's capabilities), {} from there to \
             `run_finished` (20 lookups along the pipeline's dependency chains, every one \
             answered by the pipeline's index, which the run read with one `GetActionResult` \
             beside its hashing; every output of `ci20` is a value, which the result carries, so \
             there is no blob to check with `FindMissingBlobs`; each hit recorded in the new \
             store), {} to exit.",
            m[0], m[1], m[2]
        )],
    })
}
