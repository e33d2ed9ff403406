//! Timing commands and summarising repetitions: median and spread, in milliseconds.

use std::fmt;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Repeated measurements of one quantity, in milliseconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    ms: Vec<f64>,
}

impl Samples {
    /// Adds one measurement.
    pub(crate) fn push(&mut self, ms: f64) {
        self.ms.push(ms);
    }

    /// How many measurements there are.
    pub(crate) fn len(&self) -> usize {
        self.ms.len()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median (the mean of the middle two for an even count); NaN when empty.
    pub(crate) fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// The smallest and largest measurement.
    pub(crate) fn range(&self) -> (f64, f64) {
        let v = self.sorted();
        (
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN),
        )
    }
}

/// `median (min–max, n=N)`, in ms below ten seconds and in s above.
impl fmt::Display for Samples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.range();
        write!(
            f,
            "{} ({}–{}, n={})",
            duration(self.median()),
            duration(lo),
            duration(hi),
            self.len()
        )
    }
}

/// A duration in ms, shown with a precision that suits its size.
pub(crate) fn duration(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1e3)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// `cmd` as a shell-like line, for messages.
pub(crate) fn show(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` to the end, stdout captured and stderr kept for errors; returns its wall time
/// in ms (spawn to exit) and its output. A non-zero exit is an error naming the command.
pub(crate) fn timed(cmd: &mut Command) -> Result<(f64, Output), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", show(cmd)))?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            show(cmd),
            out.status,
            tail(&out.stderr)
        ));
    }
    Ok((ms, out))
}

/// Runs `cmd` like [`timed`] and returns its stdout as text.
pub(crate) fn run(cmd: &mut Command) -> Result<String, String> {
    timed(cmd).map(|(_, out)| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last lines of a command's stderr, for an error message.
pub(crate) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// The values of `key=VALUE` fields in `text`, in order, parsed as numbers.
pub(crate) fn fields(text: &str, key: &str) -> Vec<f64> {
    let prefix = format!("{key}=");
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix)?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let mut s = Samples::default();
        for v in [5.0, 1.0, 3.0, 2.0] {
            s.push(v);
        }
        assert!((s.median() - 2.5).abs() < 1e-9);
        assert_eq!(s.range(), (1.0, 5.0));
        assert_eq!(fields("ms=1.5 files=3 ms=2", "ms"), vec![1.5, 2.0]);
    }
}
