//! `tanto-test/redis:7`: Redis 7 from Debian's `redis-server` package in a `debootstrap
//! --variant=minbase` rootfs, listening on all addresses without protected mode, nothing
//! persisted. For tests only.
//!
//! The rootfs is kept as a tarball beside the other images', so a rebuild is one import.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{
    Result, SUITE, cache_dir, clear_files, debian_mirror, docker_import, ensure_package, image_env,
    output, run_cmd,
};

/// The Redis image the services tests run.
pub(crate) const REDIS: &str = "tanto-test/redis:7";
/// Bumped whenever the image's contents change, so existing images are rebuilt.
const RECIPE: &str = "1";

/// Builds the image unless it exists with this recipe; `true` when it built it.
pub(super) fn redis(force: bool) -> Result<bool> {
    if !force && image_env(REDIS, "TANTO_IMAGE_RECIPE")?.as_deref() == Some(RECIPE) {
        return Ok(false);
    }
    let rootfs = cache_dir()?.join(format!("debian-{SUITE}-redis-r{RECIPE}.tar"));
    if force || !rootfs.exists() {
        redis_rootfs(&rootfs)?;
    }
    let changes = [
        "USER redis".to_owned(),
        format!("ENV TANTO_IMAGE_RECIPE={RECIPE}"),
        // Test servers only: any client on the network, nothing written to disk.
        r#"CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]"#
            .to_owned(),
        "EXPOSE 6379".to_owned(),
    ];
    docker_import(REDIS, &changes, |w| {
        let mut file = fs::File::open(&rootfs)?;
        std::io::copy(&mut file, w).map(drop)
    })?;
    let check = output(Command::new("docker").args([
        "run",
        "--rm",
        "--network=none",
        REDIS,
        "redis-server",
        "--version",
    ]))?;
    print!("{check}");
    Ok(true)
}

/// Debootstraps Debian with `redis-server` and writes the rootfs to the tarball `dest`.
fn redis_rootfs(dest: &Path) -> Result<()> {
    if !crate::daemon::is_root() {
        return Err(format!(
            "building {REDIS} needs root (debootstrap); run `sudo -E cargo xtask images redis`"
        ));
    }
    ensure_package("debootstrap")?;
    let mirror = debian_mirror();
    let dir = dest.with_extension("rootfs");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
    }
    println!(
        "images: debootstrap {SUITE} with redis-server into {}",
        dir.display()
    );
    run_cmd(Command::new("debootstrap").args([
        "--variant=minbase",
        "--include=redis-server",
        SUITE,
        &dir.to_string_lossy(),
        &mirror,
    ]))?;
    for junk in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        clear_files(&dir.join(junk))?;
    }
    for docs in ["usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let _ = fs::remove_dir_all(dir.join(docs));
    }
    let partial = dest.with_extension("tar.partial");
    run_cmd(
        Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .args(["--numeric-owner", "-cf"])
            .arg(&partial)
            .arg("."),
    )?;
    fs::rename(&partial, dest).map_err(|e| format!("rename {}: {e}", partial.display()))?;
    fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
    Ok(())
}
