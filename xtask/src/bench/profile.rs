//! Where a process spends its time, from `perf`: the one-line notes for rows that miss.

use std::path::Path;
use std::process::Command;

use super::measure;

/// Runs `program args..` under `perf record` (writing `data`) and sums up `perf report`:
/// the kernel's share and the hottest symbols. An error says why there is no profile.
pub(crate) fn perf_top(
    program: &Path,
    args: &[&str],
    data: &Path,
    top: usize,
) -> Result<String, String> {
    measure::run(
        Command::new("perf")
            .args(["record", "-F", "4000", "-o"])
            .arg(data)
            .arg("--")
            .arg(program)
            .args(args),
    )
    .map_err(|e| format!("no profile (`perf record` failed; install `linux-perf`?): {e}"))?;
    let report = measure::run(
        Command::new("perf")
            .args(["report", "--stdio", "--no-children", "--sort", "sym", "-i"])
            .arg(data),
    )?;
    let mut kernel = 0.0;
    let mut hot = Vec::new();
    for line in report.lines() {
        let mut words = line.split_whitespace();
        let (Some(pct), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(pct) = pct.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) else {
            continue;
        };
        let symbol: Vec<&str> = words.collect();
        if kind == "[k]" {
            kernel += pct;
        }
        if hot.len() < top {
            let mut name = symbol.join(" ");
            if name.len() > 70 {
                name.truncate(name.char_indices().nth(67).map_or(name.len(), |(i, _)| i));
                name.push('…');
            }
            let side = if kind == "[k]" { " (kernel)" } else { "" };
            hot.push(format!("`{name}`{side} {pct:.0}%"));
        }
    }
    if hot.is_empty() {
        return Err("no profile: `perf report` found no samples".into());
    }
    Ok(format!(
        "perf: {kernel:.0}% of samples in the kernel; hottest symbols {}",
        hot.join(", ")
    ))
}
