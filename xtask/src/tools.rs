//! The host tools some tests drive for real (a terminal multiplexer, …): installed from
//! Debian's packages when missing, as root or in CI; otherwise the command that installs them.

use std::process::{Command, Stdio};

/// Each `(binary, Debian package)` that the test suite runs.
const TOOLS: &[(&str, &str)] = &[("tmux", "tmux")];

fn present(binary: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure every tool of [`TOOLS`] is on the `PATH`.
pub(crate) fn ensure() -> Result<(), String> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(binary, _)| !present(binary))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {} >/dev/null",
        missing.join(" ")
    );
    if !(crate::daemon::is_root() || std::env::var_os("CI").is_some()) {
        return Err(format!(
            "the tests need {}: install them (`sudo {install}`), then re-run",
            missing.join(", ")
        ));
    }
    eprintln!("xtask: installing {}", missing.join(", "));
    let status = Command::new("sh")
        .args(["-c", &install])
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{install}` failed ({status})"))
    }
}
