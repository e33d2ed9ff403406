//! Runs a tanto pipeline binary with `--progress json` and reads its event stream, so rows
//! can check what ran and say where a run's time went.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::measure;

/// One finished run of a pipeline binary.
pub(crate) struct Run {
    /// Spawn to exit, in ms.
    pub(crate) wall_ms: f64,
    /// When the process was spawned and when it had exited, in µs since the Unix epoch (the
    /// clock of the events' `ts_us`).
    pub(crate) spawned_us: u64,
    pub(crate) exited_us: u64,
    /// The events, in order.
    pub(crate) events: Vec<Value>,
    /// What it wrote on standard error (the shared cache's summary line among it).
    pub(crate) stderr: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Runs `bin args.. --progress json` with its store at `cache_dir`; fails when the run does.
pub(crate) fn run(bin: &Path, args: &[&str], cache_dir: &Path) -> Result<Run, String> {
    run_with(bin, args, cache_dir, &[])
}

/// [`run`] with the variables `env` set.
pub(crate) fn run_with(
    bin: &Path,
    args: &[&str],
    cache_dir: &Path,
    env: &[(&str, &str)],
) -> Result<Run, String> {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .args(["--progress", "json"])
        .env("TANTO_CACHE_DIR", cache_dir)
        .env_remove("TANTO_REMOTE_CACHE")
        .envs(env.iter().copied());
    let spawned_us = now_us();
    let (wall_ms, out) = measure::timed(&mut cmd)?;
    let exited_us = now_us();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "`{}` printed a line that is not JSON ({e}): {l}",
                    measure::show(&cmd)
                )
            })
        })
        .collect::<Result<Vec<Value>, String>>()?;
    Ok(Run {
        wall_ms,
        spawned_us,
        exited_us,
        events,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

impl Run {
    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["event"] == kind)
    }

    /// The `ts_us` of the first event of `kind`.
    pub(crate) fn ts(&self, kind: &str) -> Option<u64> {
        self.of_kind(kind).next()?["ts_us"].as_u64()
    }

    /// `(ran, cached, failed, skipped)` from `run_finished`.
    pub(crate) fn counts(&self) -> Result<(u64, u64, u64, u64), String> {
        let e = self
            .of_kind("run_finished")
            .next()
            .ok_or("the run printed no `run_finished` event")?;
        let n = |k: &str| e[k].as_u64().unwrap_or(0);
        Ok((n("ran"), n("cached"), n("failed"), n("skipped")))
    }

    /// `(label, started_us, finished_us)` of every step that ran.
    pub(crate) fn spans(&self) -> Vec<(String, u64, u64)> {
        self.of_kind("step_finished")
            .filter_map(|end| {
                let label = end["step"].as_str()?;
                let start =
                    self.of_kind("step_started").find(|s| s["step"] == label)?["ts_us"].as_u64()?;
                Some((label.to_owned(), start, end["ts_us"].as_u64()?))
            })
            .collect()
    }

    /// Milliseconds between two instants in µs, clamped at zero.
    pub(crate) fn ms(from_us: u64, to_us: u64) -> f64 {
        to_us.saturating_sub(from_us) as f64 / 1e3
    }

    /// Where the wall time went: process start to `run_started`, `run_started` to the first
    /// step's start, the steps (first start to last end), the last end to `run_finished`,
    /// and `run_finished` to exit. Missing events count as zero.
    pub(crate) fn phases(&self) -> [f64; 5] {
        let started = self.ts("run_started").unwrap_or(self.spawned_us);
        let finished = self.ts("run_finished").unwrap_or(self.exited_us);
        let spans = self.spans();
        let first = spans.iter().map(|s| s.1).min().unwrap_or(finished);
        let last = spans.iter().map(|s| s.2).max().unwrap_or(first);
        [
            Self::ms(self.spawned_us, started),
            Self::ms(started, first),
            Self::ms(first, last),
            Self::ms(last, finished),
            Self::ms(finished, self.exited_us),
        ]
    }
}
