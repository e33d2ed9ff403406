//! Installs what the suite's own servers need: a registry (`docker-registry`, with `htpasswd`
//! for its users), `openssl` for TLS certificates, a TCP proxy to the daemon (`socat`), Podman
//! with `uidmap` for rootless runs, the plain user that rootless Podman runs as, `tmux`, the
//! real terminal of the live-view and shell tests, and BuildGrid for the shared-cache tests
//! (`buildgrid.rs`). The tests start and stop the servers themselves.

use std::process::{Command, Stdio};

use crate::daemon::{is_root, sh};

/// The unprivileged user of the rootless Podman tests (`support/podman.rs` names it too).
const TEST_USER: &str = "tanto-test";

/// Each program the tests run, and the Debian package that has it.
const PROGRAMS: &[(&str, &str)] = &[
    ("docker-registry", "docker-registry"),
    // the registry tests' htpasswd files; a recommendation of `docker-registry`'s only, which
    // an apt configured without recommendations leaves out
    ("htpasswd", "apache2-utils"),
    // the shared cache's TLS tests make their certificates with it
    ("openssl", "openssl"),
    ("socat", "socat"),
    ("podman", "podman"),
    ("newuidmap", "uidmap"),
    ("tmux", "tmux"),
];

fn has_program(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn has_user(user: &str) -> bool {
    Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the missing packages and creates the test user, as root or with `CI` set;
/// otherwise says what to install.
pub(crate) fn ensure() -> Result<(), String> {
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(program, _)| !has_program(program))
        .map(|(_, package)| *package)
        .collect();
    let may_install = is_root() || std::env::var_os("CI").is_some();
    if !missing.is_empty() {
        let packages = missing.join(" ");
        if !may_install {
            return Err(format!(
                "the suite starts servers from Debian packages that are missing: run \
                 `sudo apt-get install {packages}`, then re-run"
            ));
        }
        eprintln!("xtask: installing {packages}");
        sh(&format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages} >/dev/null"
        ))?;
    }
    crate::buildgrid::ensure()?;
    // Only root runs rootless Podman as another user; anyone else runs it as themselves.
    if is_root() && !has_user(TEST_USER) {
        eprintln!("xtask: creating the user {TEST_USER} for the rootless Podman tests");
        sh(&format!("useradd -m {TEST_USER}"))?;
    }
    Ok(())
}
