//! Measures folder hashing on a generated tree: cold (no stat cache) against
//! `tar cf - DIR | wc -c`, and a warm re-hash with the stat cache.
//!
//! `cargo bench -p tanto --bench hash_tree` (100,000 files by default; set
//! `TANTO_BENCH_FILES` for another count).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tanto::__internal::cache::{StatCache, hash_dir_with};
use tanto::DirSelect;

fn generate(root: &Path, files: usize) -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut bytes = 0;
    for i in 0..files {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let dir = root.join(format!("d{:03}/s{:02}", i / 1000, (i / 100) % 10));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        let size = 100 + (seed % 4000) as usize;
        let content: Vec<u8> = (0..size).map(|j| (seed as usize + j * 31) as u8).collect();
        std::fs::write(dir.join(format!("f{i}.rs")), &content).expect("write");
        bytes += size as u64;
    }
    bytes
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: keep that a quick smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    let files = std::env::var("TANTO_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 1_000 });
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("tree");
    let (bytes, took) = time(|| generate(&root, files));
    println!(
        "generated {files} files, {} MiB, in {took:.2?}",
        bytes >> 20
    );
    // Flush the writes first, so writeback does not compete with the measurements.
    let _ = Command::new("sync").status();
    std::thread::sleep(StatCache::DEFAULT_RACY_WINDOW + Duration::from_millis(200));

    let tar = || {
        time(|| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("tar cf - -C {} . | wc -c", root.display()))
                .output()
                .expect("tar runs")
        })
        .1
    };
    let tar_best = tar().min(tar()).min(tar());
    println!("tar cf - | wc -c       {tar_best:>10.2?}");

    let cache_file = tmp.path().join("statcache");
    let mut cold_best = Duration::MAX;
    for _ in 0..3 {
        let _ = std::fs::remove_file(&cache_file);
        let cache = StatCache::load(&cache_file);
        let (hashed, took) = time(|| hash_dir_with(&root, &DirSelect::DEFAULT, &cache));
        let hashed = hashed.expect("hashes");
        assert_eq!(hashed.stats.files_read, files as u64);
        cold_best = cold_best.min(took);
        let ((), save) = time(|| cache.save().expect("saves"));
        println!("cold hash              {took:>10.2?}  (saving the stat cache: {save:.2?})");
    }
    println!(
        "cold / tar             {:>10.2}",
        cold_best.as_secs_f64() / tar_best.as_secs_f64()
    );
    for _ in 0..3 {
        let (cache, load) = time(|| StatCache::load(&cache_file));
        let (hashed, took) = time(|| hash_dir_with(&root, &DirSelect::DEFAULT, &cache));
        let hashed = hashed.expect("hashes");
        assert_eq!(hashed.stats.files_read, 0);
        println!(
            "warm re-hash           {took:>10.2?}  (+ loading the stat cache: {load:.2?}; {} files, {} read)",
            hashed.stats.files, hashed.stats.files_read
        );
    }
}
