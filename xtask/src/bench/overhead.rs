//! Row 1: what one step costs on top of its command — a one-step `--no-cache` pipeline running
//! `true`, against `docker run --rm` and against bollard's create/start/wait/remove.

use std::process::Command;

use super::Bench;
use super::measure::{self, Samples, duration};
use super::report::{Line, Row, Target};
use super::tanto_run;
use super::workload::IMAGE;

/// Adds the `create=`, `start=`, `run=` and `remove=` of `bench_bollard`'s `line` to `to`.
fn laps(line: &str, to: &mut [Samples; 4]) {
    for (key, samples) in ["create", "start", "run", "remove"]
        .iter()
        .zip(to.iter_mut())
    {
        if let Some(ms) = measure::fields(line, key).first() {
            samples.push(*ms);
        }
    }
}

/// Measures row 1.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(15);
    let store = b.fresh_dir("one-store")?;
    let fixture = b.bins.fixture.clone();
    let tanto = || tanto_run::run(&fixture, &["one", "--no-cache"], &store);
    let docker = || measure::timed(Command::new("docker").args(["run", "--rm", IMAGE, "true"]));
    let bollard = || measure::timed(Command::new(&b.bins.bollard).arg(IMAGE));
    // A step's sequence done with bollard, ended as a step ends, then by force as before.
    let as_step = || measure::run(Command::new(&b.bins.bollard).args(["--as-step", IMAGE]));
    let forced = || measure::run(Command::new(&b.bins.bollard).args(["--as-step=force", IMAGE]));
    b.say("  warm-up");
    tanto()?;
    docker()?;
    bollard()?;
    as_step()?;
    forced()?;
    let (mut t, mut d, mut bo) = (Samples::default(), Samples::default(), Samples::default());
    let mut phases: [Samples; 5] = Default::default();
    // create, start, run, remove: bollard's own sequence, a step's, and a step's ended by force.
    let (mut plain, mut stepwise, mut by_force): ([Samples; 4], [Samples; 4], [Samples; 4]) =
        Default::default();
    for i in 0..reps {
        b.say(&format!("  repetition {}/{reps}", i + 1));
        let run = tanto()?;
        if run.counts()?.0 != 1 {
            return Err(format!(
                "`fixture one --no-cache` ran {:?} steps, not 1",
                run.counts()?
            ));
        }
        t.push(run.wall_ms);
        for (p, ms) in phases.iter_mut().zip(run.phases()) {
            p.push(ms);
        }
        d.push(docker()?.0);
        let (ms, out) = bollard()?;
        bo.push(ms);
        laps(&String::from_utf8_lossy(&out.stdout), &mut plain);
        laps(&as_step()?, &mut stepwise);
        laps(&forced()?, &mut by_force);
    }
    let lap =
        |s: &[Samples; 4]| -> Vec<String> { s.iter().map(|x| duration(x.median())).collect() };
    let (p, q, f) = (lap(&plain), lap(&stepwise), lap(&by_force));
    let m: Vec<String> = phases.iter().map(|p| duration(p.median())).collect();
    let notes = vec![
        format!(
            "Where tanto's time goes (medians of the JSON events' timestamps): {} from process \
             start to `run_started` (CLI, store, connecting to Docker, resolving the image), {} \
             to the step's start, {} in the step (with the hint of its warm store: the container created with `true` \
             as its own process, attached, started and waited for), {} to `run_finished`, {} \
             to exit (the step's exited container removed, which starts in the background when \
             the step ends; the view flushed).",
            m[0], m[1], m[2], m[3], m[4]
        ),
        format!(
            "Where the rest goes (`bench_bollard --as-step`: bollard doing what a step does, \
             medians): a container created with the keep-alive as PID 1 and attached {} (bollard's \
             own create: {}), started {} ({}), `true` run as an exec and its exit code read {} \
             (the container's own `true`, waited for: {}), the container ended by closing its \
             keep-alive's stdin and its removal by the daemon waited for {} (bollard removing \
             its exited container: {}; removing a step's running container by force, as steps \
             did before: {}). That is the path of a step without the hint that its code runs \
             one command (its first run, or an empty store). This row's step has the hint \
             from its warm store, so it runs `true` as its container's own process, as \
             `bench_bollard` does: no exec, no keep-alive to end, and its exited container \
             removed as bollard's is. What it pays on top is the attach of its output before \
             the start, the image's resolution, its process start and store, and the run's \
             end (its containers and networks listed by label).",
            q[0], p[0], q[1], p[1], q[2], p[2], q[3], p[3], f[3]
        ),
        "`docker run --rm` uses the default bridge network as a user would type it; the bollard \
         timer and the tanto step run without a network."
            .to_owned(),
    ];
    Ok(Row {
        id: 1,
        title: "Per-step container overhead",
        workload: "A one-step pipeline whose step runs `true` in `tanto-test/busybox`, run \
                   with `--no-cache` (so it always runs) and a warm store, timed from spawn \
                   to exit of the pipeline binary."
            .to_owned(),
        lines: vec![
            Line::versus(
                "one step running `true`",
                &t,
                "bollard create/start/wait/remove (`bench_bollard`)",
                &bo,
                Target::Ratio(1.1),
            ),
            Line::versus(
                "one step running `true`",
                &t,
                format!("`docker run --rm {IMAGE} true`"),
                &d,
                Target::None,
            ),
        ],
        notes,
    })
}
