//! Makes sure a Docker daemon answers: installs and starts Debian's `docker.io` when allowed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root, and so may install packages and start daemons.
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs `script` with `sh -c`; an error names it.
pub(crate) fn sh(script: &str) -> Result<(), String> {
    let status = Command::new("sh")
        .args(["-c", script])
        .status()
        .map_err(|e| format!("cannot run `{script}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{script}` failed ({status})"))
    }
}

/// Returns once `docker info` answers. As root or with `CI` set, installs Debian's
/// `docker.io` when the client is missing and starts `dockerd` in the background; otherwise
/// says what to do.
pub(crate) fn ensure() -> Result<(), String> {
    if answers() {
        return Ok(());
    }
    if !(is_root() || std::env::var_os("CI").is_some()) {
        return Err(
            "no Docker daemon answers: start it (`sudo systemctl start docker`), \
                    or set DOCKER_HOST to a daemon you can reach, then re-run"
                .into(),
        );
    }
    if Command::new("dockerd").arg("--version").output().is_err() {
        eprintln!("xtask: installing Debian's docker.io");
        sh(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null",
        )?;
    }
    let log = std::env::temp_dir().join("tanto-dockerd.log");
    eprintln!("xtask: starting dockerd (log: {})", log.display());
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err_file = log_file.try_clone().map_err(|e| e.to_string())?;
    Command::new("dockerd")
        .stdout(log_file)
        .stderr(err_file)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dockerd: {e}"))?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if Path::new("/var/run/docker.sock").exists() && answers() {
            eprintln!(
                "xtask: dockerd answers after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "dockerd did not answer within 60 s; see {}",
        log.display()
    ))
}
