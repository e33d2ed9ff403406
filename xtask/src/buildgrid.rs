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

/// The file written into the virtualenv once BuildGrid is installed in it.
const READY: &str = "tanto-ready";

/// Creates the virtualenv and installs BuildGrid into it, unless that was done.
pub(crate) fn ensure() -> Result<(), String> {
    let venv = venv().ok_or("set HOME or TANTO_TEST_BUILDGRID_VENV for BuildGrid's virtualenv")?;
    if venv.join(READY).exists() {
        return Ok(());
    }
    let parent = venv
        .parent()
        .ok_or("BuildGrid's virtualenv needs a parent folder")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
    // Made in its place, so that its scripts (`bgd`) name its own interpreter, and marked
    // ready last: a half-made one (an install cut short) is made again.
    eprintln!(
        "xtask: installing BuildGrid {VERSION} from PyPI into {}",
        venv.display()
    );
    sh(&format!(
        "rm -rf '{v}' && python3 -m venv '{v}' && '{v}/bin/python' -m pip install -q \
         --disable-pip-version-check buildgrid=={VERSION}",
        v = venv.display()
    ))
    .map_err(|e| format!("{e}; BuildGrid needs python3-venv and PyPI"))?;
    std::fs::write(venv.join(READY), VERSION).map_err(|e| format!("mark {}: {e}", venv.display()))
}

/// A BuildGrid server of this process (for `cargo xtask bench`), stopped when dropped.
pub(crate) struct Server {
    child: std::process::Child,
    /// `grpc://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl Server {
    /// Installs BuildGrid if needed and starts it on a free port of 127.0.0.1, serving CAS,
    /// ByteStream and an action cache with its storage in `dir`; waits until it listens.
    pub(crate) fn start(dir: &std::path::Path) -> Result<Self, String> {
        ensure()?;
        let venv = venv().ok_or("no place for BuildGrid's virtualenv")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("find a free port: {e}"))?
            .port();
        let cas = dir.join("cas");
        std::fs::create_dir_all(&cas).map_err(|e| format!("create {}: {e}", cas.display()))?;
        let config = dir.join("buildgrid.yml");
        let yaml = format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\n\
             storages:\n  - !disk-storage &cas\n    path: {cas}\n\
             caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 100000\n    \
             allow-updates: true\n\
             instances:\n  - name: \"\"\n    services:\n      - !action-cache\n        cache: *ac\n      \
             - !cas\n        storage: *cas\n      - !bytestream\n        storage: *cas\n",
            cas = cas.display()
        );
        std::fs::write(&config, yaml).map_err(|e| format!("write {}: {e}", config.display()))?;
        let log = std::fs::File::create(dir.join("server.log"))
            .map_err(|e| format!("create BuildGrid's log: {e}"))?;
        let child = std::process::Command::new(venv.join("bin").join("python"))
            .args([
                "-c",
                "import sys; from buildgrid.server.app import cli; sys.argv[0] = 'bgd'; sys.exit(cli())",
                "server",
                "start",
            ])
            .arg(&config)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start BuildGrid: {e}"))?;
        let mut server = Self {
            child,
            url: format!("grpc://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "BuildGrid exited ({status}) before it listened; see {}",
                    dir.join("server.log").display()
                ));
            }
            if std::time::Instant::now() > deadline {
                return Err("BuildGrid did not listen within a minute".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
