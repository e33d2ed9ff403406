//! `tanto-test/busybox:latest`: Debian's static busybox, its applet links, `/tmp`, users
//! `root`, `tanto` (uid 1000) and `nobody`, and the machine's CA bundle. Built in memory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    BUSYBOX, CA_BUNDLE, Result, docker_import, ensure_package, header, image_exists, output,
};

/// Builds the image unless it exists; `true` when it built it.
pub(super) fn busybox(force: bool) -> Result<bool> {
    if !force && image_exists(BUSYBOX)? {
        return Ok(false);
    }
    let busybox = static_busybox()?;
    let list = output(Command::new(&busybox).arg("--list-full"))?;
    let rootfs = busybox_rootfs(&busybox, &list).map_err(|e| format!("build the rootfs: {e}"))?;
    docker_import(BUSYBOX, &[], |w| w.write_all(&rootfs))?;
    let echo = output(Command::new("docker").args([
        "run",
        "--rm",
        "--network=none",
        BUSYBOX,
        "sh",
        "-c",
        "echo ok",
    ]))?;
    if echo.trim() != "ok" {
        return Err(format!("{BUSYBOX} does not run a shell: got `{echo}`"));
    }
    Ok(true)
}

/// The path of Debian's static busybox, installing `busybox-static` when it is missing.
fn static_busybox() -> Result<PathBuf> {
    ensure_package("busybox-static")?;
    let files = output(Command::new("dpkg").args(["-L", "busybox-static"]))?;
    files
        .lines()
        .find(|l| l.ends_with("/bin/busybox"))
        .map(PathBuf::from)
        .ok_or_else(|| "package busybox-static has no /bin/busybox".to_owned())
}

/// The rootfs tarball: `/bin/busybox`, a symlink per applet (what `busybox --install -s`
/// makes), a few folders, the users and the CA bundle. Built in memory, owned by root.
fn busybox_rootfs(busybox: &Path, applets: &str) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let dirs: &[(&str, u32, u64)] = &[
        ("bin", 0o755, 0),
        ("sbin", 0o755, 0),
        ("usr", 0o755, 0),
        ("usr/bin", 0o755, 0),
        ("usr/sbin", 0o755, 0),
        ("etc", 0o755, 0),
        ("etc/ssl", 0o755, 0),
        ("etc/ssl/certs", 0o755, 0),
        ("root", 0o700, 0),
        ("home", 0o755, 0),
        ("home/tanto", 0o755, 1000),
        ("tmp", 0o1777, 0),
        ("var", 0o755, 0),
        ("var/tmp", 0o1777, 0),
    ];
    for &(path, mode, owner) in dirs {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        h.set_uid(owner);
        h.set_gid(owner);
        tar.append_data(&mut h, path, io::empty())?;
    }
    let bin = fs::read(busybox)?;
    let mut h = header(tar::EntryType::Regular, 0o755, bin.len() as u64);
    tar.append_data(&mut h, "bin/busybox", bin.as_slice())?;
    for applet in applets.lines().map(str::trim) {
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, applet, "/bin/busybox")?;
    }
    let files: [(&str, &[u8]); 3] = [
        (
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n\
              tanto:x:1000:1000:tanto:/home/tanto:/bin/sh\n\
              nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", b"root:x:0:\ntanto:x:1000:\nnogroup:x:65534:\n"),
        (
            "etc/nsswitch.conf",
            b"passwd: files\ngroup: files\nhosts: files dns\n",
        ),
    ];
    for (path, body) in files {
        let mut h = header(tar::EntryType::Regular, 0o644, body.len() as u64);
        tar.append_data(&mut h, path, body)?;
    }
    if let Ok(bundle) = fs::read(CA_BUNDLE) {
        let mut h = header(tar::EntryType::Regular, 0o644, bundle.len() as u64);
        tar.append_data(&mut h, &CA_BUNDLE[1..], bundle.as_slice())?;
    }
    tar.into_inner()
}
