//! Generated file trees: a 10k-file source tree shaped like a Rust workspace, and a flat
//! tree of equal-sized files for hashing. Both are deterministic, so figures compare across
//! runs.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Crates in the source tree, each with `MODULES` modules.
const CRATES: usize = 50;
const MODULES: usize = 196;
const DOCS: usize = 97;

/// A 64-bit xorshift, enough for reproducible filler bytes.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    fs::write(path, contents).map_err(|e| format!("write {}: {e}", path.display()))
}

fn fresh(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))
}

/// Writes a fresh source tree of exactly 10,000 files at `dir`: a root manifest and lock
/// file, a README, `docs/*.md`, and 50 crates of a manifest, a README and 196 modules of
/// about 1 KiB each.
pub(crate) fn source(dir: &Path) -> Result<usize, String> {
    fresh(dir)?;
    let mut files = 0;
    let members: Vec<String> = (0..CRATES).map(|c| format!("\"crates/c{c:02}\"")).collect();
    let manifest = format!("[workspace]\nmembers = [{}]\n", members.join(", "));
    write(&dir.join("Cargo.toml"), manifest.as_bytes())?;
    let mut lock = String::from("version = 4\n");
    for c in 0..CRATES {
        lock.push_str(&format!(
            "\n[[package]]\nname = \"c{c:02}\"\nversion = \"0.1.{c}\"\n"
        ));
    }
    write(&dir.join("Cargo.lock"), lock.as_bytes())?;
    write(&dir.join("README.md"), b"# bench workspace\n")?;
    files += 3;
    for d in 0..DOCS {
        let text = format!(
            "# Chapter {d}\n\n{}\n",
            "Some prose about the project. ".repeat(20)
        );
        write(&dir.join(format!("docs/ch{d:03}.md")), text.as_bytes())?;
        files += 1;
    }
    let mut noise = Noise(0x2545_f491_4f6c_dd1d);
    for c in 0..CRATES {
        let root = dir.join(format!("crates/c{c:02}"));
        let manifest = format!("[package]\nname = \"c{c:02}\"\nversion = \"0.1.{c}\"\n");
        write(&root.join("Cargo.toml"), manifest.as_bytes())?;
        write(&root.join("README.md"), format!("# c{c:02}\n").as_bytes())?;
        files += 2;
        for m in 0..MODULES {
            let mut text = String::new();
            if m % 3 == 0 {
                text.push_str("// SPDX-License-Identifier: MIT\n");
            }
            text.push_str(&format!("//! Module {m} of crate c{c:02}.\n\n"));
            for f in 0..12 {
                let k = noise.next() % 1000;
                text.push_str(&format!(
                    "pub fn f{f}(x: u64) -> u64 {{\n    x.wrapping_mul({k}).rotate_left({})\n}}\n\n",
                    f + 1
                ));
            }
            write(&root.join(format!("src/m{m:03}.rs")), text.as_bytes())?;
            files += 1;
        }
    }
    Ok(files)
}

/// Appends a comment to one module of the source tree: the one-file change.
pub(crate) fn touch_one(dir: &Path, n: usize) -> Result<(), String> {
    let path = dir.join(format!("crates/c{:02}/src/m042.rs", n % CRATES));
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    writeln!(file, "// edit {n}").map_err(|e| format!("write {}: {e}", path.display()))
}

/// Makes sure `dir` holds `dirs` × `per_dir` files of `size` pseudo-random bytes; a marker
/// beside it records a finished tree, so the next call returns at once.
pub(crate) fn flat(dir: &Path, dirs: usize, per_dir: usize, size: usize) -> Result<bool, String> {
    let marker = dir.with_extension("done");
    let stamp = format!("{dirs}x{per_dir}x{size}\n");
    if fs::read_to_string(&marker).is_ok_and(|s| s == stamp) && dir.is_dir() {
        return Ok(false);
    }
    let _ = fs::remove_file(&marker);
    fresh(dir)?;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; size];
    for d in 0..dirs {
        let sub = dir.join(format!("d{d:03}"));
        fs::create_dir_all(&sub).map_err(|e| format!("create {}: {e}", sub.display()))?;
        for f in 0..per_dir {
            for chunk in buf.chunks_mut(8) {
                let bytes = noise.next().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            let path = sub.join(format!("f{f:04}.bin"));
            fs::write(&path, &buf).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
    }
    write(&marker, stamp.as_bytes())?;
    Ok(true)
}

/// Makes sure `dir` holds a project of `dirs` × `per_dir` files of `size` bytes under `src/`
/// and `junk_dirs` × `per_dir` empty files under `target/`, like a build folder nothing
/// ignores; a marker beside it records a finished tree.
pub(crate) fn with_target(
    dir: &Path,
    dirs: usize,
    junk_dirs: usize,
    per_dir: usize,
    size: usize,
) -> Result<bool, String> {
    let marker = dir.with_extension("done");
    let stamp = format!("{dirs}+{junk_dirs}x{per_dir}x{size}\n");
    if fs::read_to_string(&marker).is_ok_and(|s| s == stamp) && dir.is_dir() {
        return Ok(false);
    }
    let _ = fs::remove_file(&marker);
    fresh(dir)?;
    flat(&dir.join("src"), dirs, per_dir, size)?;
    // `flat` leaves its marker beside `src/`, inside the tree: not one of its files.
    let inner = dir.join("src.done");
    fs::remove_file(&inner).map_err(|e| format!("remove {}: {e}", inner.display()))?;
    for d in 0..junk_dirs {
        let sub = dir.join(format!("target/debug/deps{d:03}"));
        fs::create_dir_all(&sub).map_err(|e| format!("create {}: {e}", sub.display()))?;
        for f in 0..per_dir {
            let path = sub.join(format!("o{f:04}.rlib"));
            fs::File::create(&path).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
    }
    write(&marker, stamp.as_bytes())?;
    Ok(true)
}
