//! `tanto-test/postgres:15`: PostgreSQL 15 from Debian's packages in a `debootstrap
//! --variant=minbase` rootfs, with a database cluster made at build time that trusts every
//! client (on 127.0.0.1 and the network) and listens on all addresses. For tests only.
//!
//! The rootfs is kept as a tarball beside the Rust image's, so a rebuild is one import.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::debian::{Rootfs, ServerImage};
use super::{Result, run_cmd};

/// The PostgreSQL image the services tests run.
pub(crate) const POSTGRES: &str = "tanto-test/postgres:15";
const BIN: &str = "/usr/lib/postgresql/15/bin";
const DATA: &str = "/var/lib/postgresql/data";

/// Builds the image unless it exists with its recipe; `true` when it built it.
pub(super) fn postgres(force: bool) -> Result<bool> {
    let changes = [
        "USER postgres".to_owned(),
        format!("ENV PATH={BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        format!("ENV PGDATA={DATA}"),
        format!(r#"CMD ["postgres", "-D", "{DATA}"]"#),
        "EXPOSE 5432".to_owned(),
    ];
    let image = ServerImage {
        rootfs: Rootfs {
            image: POSTGRES,
            arg: "postgres",
            packages: "postgresql-15",
            strip_docs: true,
        },
        slug: "postgresql-15",
        recipe: "1",
        changes: &changes,
        check: &["postgres", "--version"],
    };
    image.ensure(force, cluster)
}

/// Makes the database cluster in the chroot `dir`, trusting every client and listening on
/// all addresses.
fn cluster(dir: &Path) -> Result<()> {
    let chroot = |args: &[&str]| run_cmd(Command::new("chroot").arg(dir).args(args));
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
