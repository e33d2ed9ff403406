//! Times hashing a folder as a step input: `Store::hash_input_dir`, stat cache included.
//!
//! `bench_hash DIR STORE` opens (or creates) the store at `STORE`, hashes `DIR` once with the
//! default filter, saves the stat cache as a run does, and prints `ms=` (in-process) with the
//! walk's counts, so a cold store gives the cold figure and a second call the warm one.

use std::time::Instant;

use tanto::__internal::cache::Store;
use tanto::DirSelect;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(store)) = (args.next(), args.next()) else {
        return Err("usage: bench_hash DIR STORE".into());
    };
    let started = Instant::now();
    let store = Store::open(&store).map_err(|e| e.to_string())?;
    let hashed = store
        .hash_input_dir(dir.as_ref(), &DirSelect::DEFAULT)
        .map_err(|e| e.to_string())?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let s = hashed.stats;
    println!(
        "ms={ms:.3} files={} dirs={} bytes={} files_read={} bytes_read={} digest={}",
        s.files, s.dirs, s.bytes, s.files_read, s.bytes_read, hashed.digest
    );
    Ok(())
}
