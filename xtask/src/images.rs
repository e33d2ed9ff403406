//! `cargo xtask images`: builds the test images offline, since no registry is reachable.
//!
//! - `tanto-test/busybox:latest`: Debian's static busybox, its applet links, `/tmp`, users
//!   `root`, `tanto` (uid 1000) and `nobody`, and the machine's CA bundle (see
//!   `images/busybox.rs`).
//! - `tanto-test/rust:1.95`: a `debootstrap --variant=minbase` Debian with gcc, libc6-dev and
//!   ca-certificates, plus the machine's Rust toolchain under `/usr/local/rust`, its Docker
//!   client and its `cargo-nextest` (see `images/nextest.rs`).
//! - `tanto-test/postgres:15`: PostgreSQL 15 from Debian's packages, trusting every client
//!   (see `images/postgres.rs`).
//! - `tanto-test/redis:7`: Redis 7 from Debian's `redis-server`, open to every client (see
//!   `images/redis.rs`).
//!
//! Each image is skipped when `docker image inspect` finds it, so a re-run takes a moment. The
//! debootstrap rootfs is kept as a tarball under `target/tanto-images` (or `TANTO_IMAGES_CACHE`);
//! `images/debian.rs` makes it, for the three Debian images alike.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod busybox;
mod debian;
mod nextest;
mod postgres;
mod redis;

use debian::{Rootfs, SUITE};

/// The tiny image the runtime's integration tests use.
pub(crate) const BUSYBOX: &str = "tanto-test/busybox:latest";
/// A Debian image with gcc and the machine's Rust toolchain.
pub(crate) const RUST: &str = "tanto-test/rust:1.95";

/// Bumped whenever the Rust image's contents change, so existing images are rebuilt.
const RECIPE: &str = "3";
/// The machine's Docker client, added to the Rust image so that steps given the daemon's
/// socket (`#[step(docker_socket)]`) can run tests that call `docker`. It links only libc.
const DOCKER_CLI: &str = "/usr/bin/docker";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const RUST_PATH: &str = "/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

type Result<T, E = String> = std::result::Result<T, E>;

/// Runs `cargo xtask images [--force] [busybox] [rust] [postgres] [redis]`; with no name,
/// builds all.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut force = false;
    let mut wanted = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--force" | "-f" => force = true,
            "busybox" | "rust" | "postgres" | "redis" => wanted.push(arg.as_str()),
            "-h" | "--help" => {
                println!("usage: cargo xtask images [--force] [busybox] [rust] [postgres] [redis]");
                return Ok(());
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`, expected `--force`, `busybox`, `rust`, `postgres` or `redis`"
                ));
            }
        }
    }
    if wanted.is_empty() {
        wanted = vec!["busybox", "rust", "postgres", "redis"];
    }
    check_docker()?;
    for name in wanted {
        let started = Instant::now();
        let (image, built) = match name {
            "busybox" => (BUSYBOX, busybox::busybox(force)?),
            "postgres" => (postgres::POSTGRES, postgres::postgres(force)?),
            "redis" => (redis::REDIS, redis::redis(force)?),
            _ => (RUST, rust(force)?),
        };
        let verb = if built { "built" } else { "present" };
        println!(
            "images: {image} {verb} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Makes sure the images exist (and the Rust one holds the machine's toolchain); quick
/// when they do. For `cargo xtask test` and CI.
pub(crate) fn ensure() -> Result<()> {
    run(&[])
}

fn check_docker() -> Result<()> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .map_err(|e| {
            format!(
                "cannot run `docker`: {e}; run `cargo xtask images` as root to install and start Docker"
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "Docker does not answer: {}; run `cargo xtask images` as root to start it",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// The value of variable `key` in the config of `image`; `None` when the image or the variable
/// is missing.
fn image_env(image: &str, key: &str) -> Result<Option<String>> {
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            image,
        ])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `docker image inspect`: {e}"))?;
    if !out.status.success() {
        return Ok(None);
    }
    let prefix = format!("{key}=");
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned)))
}

fn image_exists(image: &str) -> Result<bool> {
    let status = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `docker image inspect`: {e}"))?;
    Ok(status.success())
}

/// The id of `image`, if it exists.
fn image_id(image: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A tar header owned by root, with a fixed time.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(tar::DETERMINISTIC_TIMESTAMP);
    h
}

// ---------------------------------------------------------------------------------------------
// rust

fn rust(force: bool) -> Result<bool> {
    let version = output(Command::new(rustc()).arg("--version"))?;
    let number = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_owned();
    // The tag names the minor version; the image records the exact toolchain it holds, so a
    // new toolchain on the machine rebuilds it.
    let recorded = image_env(RUST, "RUST_VERSION")?;
    let recipe = image_env(RUST, "TANTO_IMAGE_RECIPE")?;
    let nextest = nextest::find();
    let nextest_version = nextest.as_ref().map_or(nextest::NONE, |(_, v)| v.as_str());
    let recorded_nextest = image_env(RUST, "TANTO_NEXTEST")?;
    if !force
        && recorded.as_deref() == Some(number.as_str())
        && recipe.as_deref() == Some(RECIPE)
        && recorded_nextest.as_deref() == Some(nextest_version)
    {
        return Ok(false);
    }
    if nextest.is_none() {
        println!(
            "images: no cargo-nextest on this machine (`cargo install cargo-nextest --locked`); {RUST} is built without it, and test steps run `cargo test`"
        );
    }
    if let Some(old) = recorded {
        println!("images: {RUST} holds rustc {old}, the machine has {number}: rebuilding");
    }
    let base = cache_dir()?.join(format!("debian-{SUITE}-gcc.tar"));
    if force || !base.exists() {
        let rootfs = Rootfs {
            image: RUST,
            arg: "rust",
            packages: "gcc,libc6-dev,ca-certificates",
            strip_docs: false,
        };
        rootfs.build(&base, |dir| {
            // The image must trust what the machine trusts (HTTPS through a proxy's own CA).
            if Path::new(CA_BUNDLE).exists() {
                let to = dir.join(&CA_BUNDLE[1..]);
                fs::copy(CA_BUNDLE, &to).map_err(|e| format!("copy {CA_BUNDLE}: {e}"))?;
            }
            Ok(())
        })?;
    }
    let sysroot = PathBuf::from(output(Command::new(rustc()).args(["--print", "sysroot"]))?.trim());
    let version = output(Command::new(rustc()).arg("--version"))?;
    println!(
        "images: adding {} from {}",
        version.trim(),
        sysroot.display()
    );

    let changes = [
        format!("ENV PATH={RUST_PATH}"),
        "ENV CARGO_HOME=/usr/local/cargo".to_owned(),
        format!("ENV RUST_VERSION={number}"),
        format!("ENV TANTO_IMAGE_RECIPE={RECIPE}"),
        format!("ENV TANTO_NEXTEST={nextest_version}"),
        format!("ENV SSL_CERT_FILE={CA_BUNDLE}"),
    ];
    let nextest_bin = nextest.as_ref().map(|(path, _)| path.as_path());
    docker_import(RUST, &changes, |w| {
        rust_rootfs(w, &base, &sysroot, nextest_bin)
    })?;

    let check = output(Command::new("docker").args([
        "run",
        "--rm",
        "--network=none",
        RUST,
        "sh",
        "-c",
        "cargo --version && rustc --version && cc --version | head -n 1 && \
         { cargo nextest --version 2>/dev/null | head -n 1 || true; }",
    ]))?;
    print!("{check}");
    Ok(true)
}

fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned())
}

/// Streams the final rootfs: the cached Debian tarball, then the toolchain under
/// `/usr/local/rust` (owned by root, modes normalized), an empty, writable `CARGO_HOME`, and
/// the Docker client and `nextest` in `/usr/local/bin`.
fn rust_rootfs(
    w: &mut dyn Write,
    base: &Path,
    sysroot: &Path,
    nextest: Option<&Path>,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(w);
    let file = fs::File::open(base)?;
    let mut archive = tar::Archive::new(io::BufReader::new(file));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut h = entry.header().clone();
        match h.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name()?.map(|t| t.into_owned()).ok_or_else(|| {
                    io::Error::other(format!("link {} has no target", path.display()))
                })?;
                tar.append_link(&mut h, &path, &target)?;
            }
            tar::EntryType::Regular | tar::EntryType::Directory => {
                tar.append_data(&mut h, &path, &mut entry)?;
            }
            // Device nodes and fifos: the runtime provides /dev.
            _ => {}
        }
    }

    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut h, "usr/local/rust", io::empty())?;
    let mut h = header(tar::EntryType::Directory, 0o777, 0);
    tar.append_data(&mut h, "usr/local/cargo", io::empty())?;
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    for part in ["bin", "lib", "libexec", "etc"] {
        let src = sysroot.join(part);
        if src.exists() {
            tar.append_dir_all(format!("usr/local/rust/{part}"), &src)?;
        }
    }
    if Path::new(DOCKER_CLI).exists() {
        tar.append_path_with_name(DOCKER_CLI, "usr/local/bin/docker")?;
    }
    if let Some(nextest) = nextest {
        tar.append_path_with_name(nextest, "usr/local/bin/cargo-nextest")?;
    }
    tar.finish()
}

fn cache_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("TANTO_IMAGES_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"));
            target.join("tanto-images")
        }
    };
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// helpers

/// Installs Debian package `name` with apt when it is missing.
fn ensure_package(name: &str) -> Result<()> {
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
    if installed {
        return Ok(());
    }
    if !crate::daemon::is_root() {
        return Err(format!(
            "package `{name}` is missing; install it with `sudo apt-get install -y {name}`"
        ));
    }
    println!("images: installing {name}");
    let install = || {
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "-q", name])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
        install()?;
    }
    Ok(())
}

/// Pipes the tarball that `write` produces into `docker import`, then removes the image that
/// the tag named before, so rebuilds do not pile up.
fn docker_import(
    image: &str,
    changes: &[String],
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let previous = image_id(image);
    import(image, changes, write)?;
    if let Some(previous) = previous
        && image_id(image).as_ref() != Some(&previous)
    {
        // Best effort: a container may still use the old image.
        let _ = Command::new("docker")
            .args(["image", "rm", &previous])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(())
}

fn import(
    image: &str,
    changes: &[String],
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let mut cmd = Command::new("docker");
    cmd.arg("import");
    for change in changes {
        cmd.args(["--change", change]);
    }
    cmd.args(["-", image])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `docker import`: {e}"))?;
    let written = match child.stdin.take() {
        Some(stdin) => {
            let mut stdin = io::BufWriter::with_capacity(1 << 20, stdin);
            write(&mut stdin).and_then(|()| stdin.flush())
        }
        None => Err(io::Error::other("no stdin")),
    };
    let status = child
        .wait()
        .map_err(|e| format!("wait for `docker import`: {e}"))?;
    written.map_err(|e| format!("stream the rootfs of {image} to `docker import`: {e}"))?;
    if !status.success() {
        return Err(format!("`docker import` of {image} failed ({status})"));
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({})", out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{cmd:?} printed non-UTF-8: {e}"))
}

fn run_cmd(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed ({status})"));
    }
    Ok(())
}
