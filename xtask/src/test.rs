//! `cargo xtask test`: the README's test command. Lints checked, Docker up, images made, the
//! test servers' packages installed, whole suite run.

/// Runs `cargo xtask lint`, ensures the daemon, the images and what the tests' own servers
/// need (a registry, a TCP proxy, Podman and its test user, BuildGrid), then runs every test of the
/// workspace. The checks come first: they take minutes where the suite takes much longer.
pub(crate) fn run(extra: &[String]) -> Result<(), String> {
    crate::lint::run(&[])?;
    crate::daemon::ensure()?;
    crate::images::ensure()?;
    crate::servers::ensure()?;
    let mut cmd = crate::cargo();
    cmd.args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .args(extra);
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the test suite failed ({status}); re-run `cargo xtask test` after fixing it"
        ));
    }
    let mut doc = crate::cargo();
    doc.args(["test", "--workspace", "--doc"]);
    eprintln!("xtask: running {doc:?}");
    let status = doc.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the doctests failed ({status})"))
    }
}
