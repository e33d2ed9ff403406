//! Row 7: `ship pack` (build the service in the Rust image, copy the binary into busybox),
//! cold and fully cached, against `bench/ship.Dockerfile`, the same two stages under BuildKit.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::measure::{self, Samples, duration};
use super::report::{Line, Row, Target};
use super::tanto_run::{self, Run};
use super::{Bench, settle, tools};

/// The multi-stage Dockerfile that does what `ship pack` does.
const DOCKERFILE: &str = r#"# Row 7 of `cargo xtask bench` (xtask/src/bench/ship.rs): what `ship pack` does, as a
# multi-stage build. Both stages start from the local test images; nothing is pulled.
FROM tanto-test/rust:1.95 AS build
COPY . /src
WORKDIR /src
ENV RUSTFLAGS="-C target-feature=+crt-static" CARGO_TERM_COLOR=never
RUN cargo build --release --offline --target x86_64-unknown-linux-gnu

FROM tanto-test/busybox:latest
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/hello-service /app/hello-service
ENTRYPOINT ["/app/hello-service"]
EXPOSE 8080
LABEL org.opencontainers.image.title=hello-service
"#;

/// Measures row 7.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let reps = b.reps(6);
    let dockerfile = b.root.join("bench").join("ship.Dockerfile");
    std::fs::write(&dockerfile, DOCKERFILE)
        .map_err(|e| format!("write {}: {e}", dockerfile.display()))?;
    let src = service_copy(b)?;
    settle();
    let client = tools::buildkit_client()?;
    let iids = b.fresh_dir("ship-iid")?;
    let buildkit_once = |cold: bool, n: usize| -> Result<f64, String> {
        let mut cmd = Command::new(&client);
        cmd.env("DOCKER_BUILDKIT", "1")
            .args(["build", "--pull=false", "--progress=plain", "--iidfile"])
            .arg(iids.join(format!("{n}-{cold}")))
            .arg("-f")
            .arg(&dockerfile);
        if cold {
            cmd.arg("--no-cache");
        }
        let (ms, output) = measure::timed(cmd.arg(&src))?;
        let log = String::from_utf8_lossy(&output.stderr);
        if log.to_lowercase().contains("pulling") {
            return Err("BuildKit pulled an image; the baseline must use the local one".into());
        }
        if cold == cargo_cached(&log) {
            return Err(format!(
                "BuildKit's {} build {} its `cargo build` step",
                if cold { "cold" } else { "cached" },
                if cold { "reused" } else { "ran" }
            ));
        }
        Ok(ms)
    };
    let buildkit = |cold: bool, n: usize| tools::buildkit_once_more(b, |_| buildkit_once(cold, n));
    let src_arg = src.to_string_lossy().into_owned();
    let tanto = |store: &Path| tanto_run::run(&b.bins.ship, &["pack", "--src", &src_arg], store);

    let measured = repetitions(b, reps, &tanto, &buildkit);
    // BuildKit's images go whatever happened; a failure to remove them comes second.
    let removed = remove_images(&iids);
    let s = measured?;
    removed?;
    Ok(row(&s))
}

/// A warm-up, then `reps` repetitions of: tanto cold and cached, BuildKit cold and cached.
fn repetitions(
    b: &Bench,
    reps: usize,
    tanto: &dyn Fn(&Path) -> Result<Run, String>,
    buildkit: &dyn Fn(bool, usize) -> Result<f64, String>,
) -> Result<Figures, String> {
    b.say("  warm-up: one cold build of each");
    tanto(&b.fresh_dir("ship-store")?)?;
    buildkit(true, 0)?;
    let mut s = Figures::default();
    for r in 0..reps {
        b.say(&format!("  repetition {}/{reps}", r + 1));
        let store = b.fresh_dir("ship-store")?;
        let cold = tanto(&store)?;
        expect(&cold, "cold", (2, 0))?;
        s.cold.push(cold.wall_ms);
        let cached = tanto(&store)?;
        expect(&cached, "cached", (0, 2))?;
        s.cached.push(cached.wall_ms);
        s.bk_cold.push(buildkit(true, r + 1)?);
        s.bk_cached.push(buildkit(false, r + 1)?);
        s.cold_runs.push(cold);
        s.cached_runs.push(cached);
    }
    Ok(s)
}

/// Everything row 7 measures.
#[derive(Default)]
struct Figures {
    cold: Samples,
    cached: Samples,
    bk_cold: Samples,
    bk_cached: Samples,
    cold_runs: Vec<Run>,
    cached_runs: Vec<Run>,
}

fn row(s: &Figures) -> Row {
    let lines = vec![
        Line::versus(
            "cold build and package (empty store)",
            &s.cold,
            "BuildKit cold (`--no-cache`)",
            &s.bk_cold,
            Target::Ratio(1.1),
        ),
        Line::versus(
            "fully cached re-run",
            &s.cached,
            "BuildKit cached rebuild",
            &s.bk_cached,
            Target::Ratio(0.5),
        ),
    ];
    Row {
        id: 7,
        title: "ship: build and package an image",
        workload: "`ship pack --src` over a copy of `examples/ship/service` (a std-only HTTP \
             service): `build` runs `cargo build --release` for a static binary in \
             `tanto-test/rust:1.95` and captures it, `package` puts it into \
             `tanto-test/busybox:latest` as an image (no command runs, so the image is the \
             base plus one loaded layer, no container). The baseline is \
             `bench/ship.Dockerfile`, the same two stages under BuildKit \
             (`DOCKER_BUILDKIT=1` with Docker 20.10's own client, `--pull=false`: both \
             stages start from the local images, and the row fails if BuildKit reports a \
             pull), exporting its image into the daemon like tanto. Cold: tanto with an empty \
             store, BuildKit with `--no-cache` (the row fails if its `cargo build` step is \
             reported cached); cached: the same command again (where it must be)."
            .to_owned(),
        lines,
        notes: notes(s),
    }
}

fn notes(s: &Figures) -> Vec<String> {
    let median = |runs: &[Run], f: &dyn Fn(&Run) -> f64| {
        let mut x = Samples::default();
        for r in runs {
            x.push(f(r));
        }
        x.median()
    };
    let step = |runs: &[Run], name: &str| {
        median(runs, &|r: &Run| {
            (r.spans().iter())
                .find(|(l, ..)| l == name)
                .map_or(f64::NAN, |(_, a, z)| Run::ms(*a, *z))
        })
    };
    let phase = |runs: &[Run], i: usize| median(runs, &|r: &Run| r.phases()[i]);
    vec![
        format!(
            "Cold run, from the JSON events (medians): {} from spawn to `run_started` (CLI, \
             store, Docker connection, hashing `--src`), `build` {} (a container of the Rust \
             image, the upload of the source, `cargo build`, the binary captured into the \
             store), `package` {} (the layer written and loaded, no container), {} from the \
             last step's end to exit.",
            duration(phase(&s.cold_runs, 0)),
            duration(step(&s.cold_runs, "build")),
            duration(step(&s.cold_runs, "package")),
            duration(phase(&s.cold_runs, 3) + phase(&s.cold_runs, 4)),
        ),
        format!(
            "Cached re-run, from the JSON events (medians): {} from spawn to `run_started`, {} \
             from there to `run_finished` (two key lookups; the image's id checked in the \
             daemon), {} to exit.",
            duration(phase(&s.cached_runs, 0)),
            duration(
                phase(&s.cached_runs, 1) + phase(&s.cached_runs, 2) + phase(&s.cached_runs, 3)
            ),
            duration(phase(&s.cached_runs, 4)),
        ),
    ]
}

/// Whether BuildKit's plain progress `log` reports its `cargo build` step as cached.
fn cargo_cached(log: &str) -> bool {
    let step = (log.lines())
        .find(|l| l.contains("RUN cargo build"))
        .and_then(|l| l.split_whitespace().next());
    step.is_some_and(|n| log.lines().any(|l| l.trim() == format!("{n} CACHED")))
}

/// Fails unless the run's `(ran, cached)` are `want`.
fn expect(run: &Run, what: &str, want: (u64, u64)) -> Result<(), String> {
    let (ran, cached, ..) = run.counts()?;
    if (ran, cached) == want {
        Ok(())
    } else {
        Err(format!(
            "tanto's {what} run of `ship pack` ran {ran} and found {cached} cached steps, not {want:?}"
        ))
    }
}

/// A copy of the service's sources under `target/bench`, so no build output is in the
/// context of either side.
fn service_copy(b: &Bench) -> Result<PathBuf, String> {
    let from = b.root.join("examples/ship/service");
    let to = b.fresh_dir("ship-src")?;
    std::fs::create_dir_all(to.join("src")).map_err(|e| format!("create {}: {e}", to.display()))?;
    for file in ["Cargo.toml", "src/main.rs"] {
        std::fs::copy(from.join(file), to.join(file))
            .map_err(|e| format!("copy {}: {e}", from.join(file).display()))?;
    }
    Ok(to)
}

/// Removes the images BuildKit made (their ids are in the files under `iids`); tanto's image
/// is one id whatever the run, and is left like any step's output.
fn remove_images(iids: &Path) -> Result<(), String> {
    let mut ids: Vec<String> = std::fs::read_dir(iids)
        .map_err(|e| format!("read {}: {e}", iids.display()))?
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    measure::run(Command::new("docker").arg("rmi").args(&ids)).map(drop)
}
