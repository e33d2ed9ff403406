//! Times hashing a folder as a step input: `Store::hash_input_dir`, stat cache included.
//!
//! `bench_hash DIR STORE` opens (or creates) the store at `STORE`, hashes `DIR` once with the
//! default filter, saves the stat cache as a run does, and prints `ms=` (in-process) with the
//! walk's counts, so a cold store gives the cold figure and a second call the warm one.
//! `--exclude GLOB` and `--include GLOB` (each repeatable) add globs to the filter.

use std::time::Instant;

use tanto::__internal::cache::Store;
use tanto::DirSelect;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_hash DIR STORE [--exclude GLOB].. [--include GLOB]..";
    let (Some(dir), Some(store)) = (args.next(), args.next()) else {
        return Err(usage.into());
    };
    let (mut exclude, mut include) = (Vec::new(), Vec::new());
    while let Some(flag) = args.next() {
        let list = match flag.as_str() {
            "--exclude" => &mut exclude,
            "--include" => &mut include,
            _ => return Err(usage.into()),
        };
        let glob: &'static str = Box::leak(args.next().ok_or(usage)?.into_boxed_str());
        list.push(glob);
    }
    // The filter lives as long as the process, as a pipeline's own does.
    let select = DirSelect {
        exclude: Box::leak(exclude.into_boxed_slice()),
        include: Box::leak(include.into_boxed_slice()),
        ..DirSelect::DEFAULT
    };
    let started = Instant::now();
    let store = Store::open(&store).map_err(|e| e.to_string())?;
    let hashed = store
        .hash_input_dir(dir.as_ref(), &select)
        .map_err(|e| e.to_string())?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let s = hashed.stats;
    println!(
        "ms={ms:.3} files={} dirs={} bytes={} files_read={} bytes_read={} digest={}",
        s.files, s.dirs, s.bytes, s.files_read, s.bytes_read, hashed.digest
    );
    Ok(())
}
