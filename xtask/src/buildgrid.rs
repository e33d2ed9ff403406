//! Installs BuildGrid, the REAPI v2 server of the shared-cache tests, from PyPI into a
//! virtualenv when it is missing: where `e2e/tests/support/buildgrid.rs` looks for it
//! (`TANTO_TEST_BUILDGRID_VENV`, else `~/.cache/tanto-test/buildgrid-VERSION`).

use std::path::PathBuf;

use crate::daemon::sh;

/// The release the tests run; the harness names the same.
const VERSION: &str = "0.4.4";

fn venv() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TANTO_TEST_BUILDGRID_VENV") {
        return Some(dir.into());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(
        cache
            .join("tanto-test")
            .join(format!("buildgrid-{VERSION}")),
    )
}

/// Creates the virtualenv and installs BuildGrid into it, unless it is there.
pub(crate) fn ensure() -> Result<(), String> {
    let venv = venv().ok_or("set HOME or TANTO_TEST_BUILDGRID_VENV for BuildGrid's virtualenv")?;
    if venv.join("bin").join("python").exists() {
        return Ok(());
    }
    let parent = venv
        .parent()
        .ok_or("BuildGrid's virtualenv needs a parent folder")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
    // Made beside its place and renamed in, so a half-made one is never used; the tests call
    // its interpreter by path, which finds the virtualenv wherever it is.
    let staging = parent.join(format!(".buildgrid-{}", std::process::id()));
    eprintln!(
        "xtask: installing BuildGrid {VERSION} from PyPI into {}",
        venv.display()
    );
    sh(&format!(
        "rm -rf '{s}' && python3 -m venv '{s}' && '{s}/bin/python' -m pip install -q \
         --disable-pip-version-check buildgrid=={VERSION}",
        s = staging.display()
    ))
    .map_err(|e| format!("{e}; BuildGrid needs python3-venv and PyPI"))?;
    std::fs::rename(&staging, &venv).map_err(|e| format!("rename {}: {e}", staging.display()))
}
