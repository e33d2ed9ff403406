//! What the Debian-based images share: a `debootstrap --variant=minbase` rootfs kept as a
//! tarball, and for the server images, one recipe from that tarball to a checked image.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{Result, cache_dir, docker_import, ensure_package, image_env, output, run_cmd};

/// The Debian release every image is made from.
pub(super) const SUITE: &str = "bookworm";

/// A Debian rootfs: which packages it holds and what is done to it before it is packed.
pub(super) struct Rootfs<'a> {
    /// The image it is for, named in messages.
    pub image: &'a str,
    /// The `cargo xtask images` argument that builds that image.
    pub arg: &'a str,
    /// Packages for debootstrap's `--include`, comma-separated.
    pub packages: &'a str,
    /// Whether the documentation, manual pages and translations go.
    pub strip_docs: bool,
}

impl Rootfs<'_> {
    /// Debootstraps the rootfs, lets `setup` change it (given its folder), removes apt's
    /// downloads, and writes it to the tarball `dest`.
    pub(super) fn build(&self, dest: &Path, setup: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let Rootfs { image, arg, .. } = self;
        if !crate::daemon::is_root() {
            return Err(format!(
                "building {image} needs root (debootstrap, chroot); run `sudo -E cargo xtask images {arg}`"
            ));
        }
        ensure_package("debootstrap")?;
        let mirror = debian_mirror();
        let dir = dest.with_extension("rootfs");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
        }
        println!(
            "images: debootstrap {SUITE} with {} from {mirror} into {}",
            self.packages,
            dir.display()
        );
        run_cmd(Command::new("debootstrap").args([
            "--variant=minbase",
            &format!("--include={}", self.packages),
            SUITE,
            &dir.to_string_lossy(),
            &mirror,
        ]))?;
        setup(&dir)?;
        for junk in ["var/cache/apt/archives", "var/lib/apt/lists"] {
            clear_files(&dir.join(junk))?;
        }
        if self.strip_docs {
            for docs in ["usr/share/doc", "usr/share/man", "usr/share/locale"] {
                let _ = fs::remove_dir_all(dir.join(docs));
            }
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
}

/// A server image: a Debian rootfs with its packages, imported with `changes`, then checked
/// by running `check` in it.
pub(super) struct ServerImage<'a> {
    /// The rootfs.
    pub rootfs: Rootfs<'a>,
    /// Names the cached tarball, `debian-SUITE-NAME-rRECIPE.tar`.
    pub slug: &'a str,
    /// Bumped whenever the image's contents change, so existing images are rebuilt.
    pub recipe: &'a str,
    /// `docker import --change` lines; the recipe's `ENV` is added.
    pub changes: &'a [String],
    /// A command that prints the server's version.
    pub check: &'a [&'a str],
}

impl ServerImage<'_> {
    /// Builds the image unless it exists with this recipe, making its rootfs with `setup`
    /// unless the tarball is cached; `true` when it built it.
    pub(super) fn ensure(
        &self,
        force: bool,
        setup: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<bool> {
        let image = self.rootfs.image;
        if !force && image_env(image, "TANTO_IMAGE_RECIPE")?.as_deref() == Some(self.recipe) {
            return Ok(false);
        }
        let tarball =
            cache_dir()?.join(format!("debian-{SUITE}-{}-r{}.tar", self.slug, self.recipe));
        if force || !tarball.exists() {
            self.rootfs.build(&tarball, setup)?;
        }
        let mut changes = self.changes.to_vec();
        changes.push(format!("ENV TANTO_IMAGE_RECIPE={}", self.recipe));
        docker_import(image, &changes, |w| {
            let mut file = fs::File::open(&tarball)?;
            std::io::copy(&mut file, w).map(drop)
        })?;
        let mut check = Command::new("docker");
        check
            .args(["run", "--rm", "--network=none", image])
            .args(self.check);
        print!("{}", output(&mut check)?);
        Ok(true)
    }
}

/// Removes the regular files directly in `dir` (apt's downloaded packages and lists).
fn clear_files(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path())
                .map_err(|e| format!("remove {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The machine's Debian mirror from its apt sources (one-line or deb822 format).
fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list") {
        texts.push(text);
    }
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let ext = path.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("list" | "sources"))
                && let Ok(text) = fs::read_to_string(&path)
            {
                texts.push(text);
            }
        }
    }
    texts
        .iter()
        .find_map(|t| mirror_in(t))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

fn mirror_in(text: &str) -> Option<String> {
    let is_main_archive = |uri: &str| uri.trim_end_matches('/').ends_with("/debian");
    for line in text.lines().map(str::trim) {
        // One-line format: `deb [options] URI suite components`.
        if let Some(rest) = line.strip_prefix("deb ") {
            let rest = match rest.trim_start().strip_prefix('[') {
                Some(opts) => opts.split_once(']').map_or("", |(_, r)| r),
                None => rest,
            };
            if let Some(uri) = rest.split_whitespace().next()
                && is_main_archive(uri)
            {
                return Some(uri.to_owned());
            }
        }
        // deb822 format: `URIs: one or more`.
        if let Some(uris) = line.strip_prefix("URIs:")
            && let Some(uri) = uris.split_whitespace().find(|u| is_main_archive(u))
        {
            return Some(uri.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_skips_security() {
        let text = "Types: deb\nURIs: http://deb.debian.org/debian-security\n\n\
                    Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://mirror.example/debian/")
        );
    }

    #[test]
    fn mirror_from_one_line_format_with_options() {
        let text = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://ftp.de.debian.org/debian bookworm main\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
    }
}
