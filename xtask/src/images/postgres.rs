//! `tanto-test/postgres:15`: PostgreSQL 15 from Debian's packages in a `debootstrap
//! --variant=minbase` rootfs, with a database cluster made at build time that trusts every
//! client (on 127.0.0.1 and the network) and listens on all addresses. For tests only.
//!
//! The rootfs is kept as a tarball beside the Rust image's, so a rebuild is one import.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{
    Result, SUITE, cache_dir, clear_files, debian_mirror, docker_import, ensure_package, image_env,
    output, run_cmd,
};

/// The PostgreSQL image the services tests run.
pub(crate) const POSTGRES: &str = "tanto-test/postgres:15";
/// Bumped whenever the image's contents change, so existing images are rebuilt.
const RECIPE: &str = "1";
const BIN: &str = "/usr/lib/postgresql/15/bin";
const DATA: &str = "/var/lib/postgresql/data";

/// Builds the image unless it exists with this recipe; `true` when it built it.
pub(super) fn postgres(force: bool) -> Result<bool> {
    if !force && image_env(POSTGRES, "TANTO_IMAGE_RECIPE")?.as_deref() == Some(RECIPE) {
        return Ok(false);
    }
    let rootfs = cache_dir()?.join(format!("debian-{SUITE}-postgresql-15-r{RECIPE}.tar"));
    if force || !rootfs.exists() {
        postgres_rootfs(&rootfs)?;
    }
    let changes = [
        "USER postgres".to_owned(),
        format!("ENV PATH={BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        format!("ENV PGDATA={DATA}"),
        format!("ENV TANTO_IMAGE_RECIPE={RECIPE}"),
        format!(r#"CMD ["postgres", "-D", "{DATA}"]"#),
        "EXPOSE 5432".to_owned(),
    ];
    docker_import(POSTGRES, &changes, |w| {
        let mut file = fs::File::open(&rootfs)?;
        std::io::copy(&mut file, w).map(drop)
    })?;
    let check = output(Command::new("docker").args([
        "run",
        "--rm",
        "--network=none",
        POSTGRES,
        "postgres",
        "--version",
    ]))?;
    print!("{check}");
    Ok(true)
}

/// Debootstraps Debian with PostgreSQL 15, makes and configures its cluster in the chroot,
/// and writes the rootfs to the tarball `dest`.
fn postgres_rootfs(dest: &Path) -> Result<()> {
    if !crate::daemon::is_root() {
        return Err(format!(
            "building {POSTGRES} needs root (debootstrap, chroot); run `sudo -E cargo xtask images postgres`"
        ));
    }
    ensure_package("debootstrap")?;
    let mirror = debian_mirror();
    let dir = dest.with_extension("rootfs");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
    }
    println!(
        "images: debootstrap {SUITE} with postgresql-15 into {}",
        dir.display()
    );
    run_cmd(Command::new("debootstrap").args([
        "--variant=minbase",
        "--include=postgresql-15",
        SUITE,
        &dir.to_string_lossy(),
        &mirror,
    ]))?;
    let chroot = |args: &[&str]| run_cmd(Command::new("chroot").arg(&dir).args(args));
    chroot(&[
        "install", "-d", "-o", "postgres", "-g", "postgres", "-m", "0700", DATA,
    ])?;
    chroot(&[
        "install",
        "-d",
        "-o",
        "postgres",
        "-g",
        "postgres",
        "-m",
        "2775",
        "/var/run/postgresql",
    ])?;
    let initdb = format!("{BIN}/initdb -D {DATA} --auth=trust --username=postgres --encoding=UTF8");
    chroot(&["su", "postgres", "-s", "/bin/sh", "-c", &initdb])?;
    let data = dir.join(&DATA[1..]);
    append(&data.join("postgresql.conf"), "listen_addresses = '*'\n")?;
    // Test databases only: any client on the network, without a password.
    append(&data.join("pg_hba.conf"), "host all all 0.0.0.0/0 trust\n")?;
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

fn append(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    file.write_all(line.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}
