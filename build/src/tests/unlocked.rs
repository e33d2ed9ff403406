//! A package no lock lists: the dependencies its manifest names cannot be keyed, so a step that
//! calls into one is never cached, and says why.

use super::{analyse, write};

#[test]
fn a_step_of_a_package_no_lock_lists_is_not_cached_when_it_calls_a_dependency() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"my-steps\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
         itoa = \"1\"\ntanto = \"0.1\"\n",
    );
    write(
        dir,
        "src/lib.rs",
        "#[step]\nasync fn count(ctx: &Ctx) -> Result<()> { itoa::Buffer::new(); Ok(()) }\n\
         #[step]\nasync fn plain(ctx: &Ctx) -> Result<()> { Ok(()) }\n",
    );
    let analysis = analyse(dir, "my-steps", "0.1.0", None);
    let record = |label: &str| {
        analysis
            .steps
            .values()
            .find(|r| r.split(';').nth(2) == Some(label))
            .cloned()
            .expect(label)
    };
    let count = record("`count`");
    assert_eq!(count.split(';').nth(1), Some(""), "not cached: {count}");
    assert!(
        count.contains("no Cargo.lock the build uses lists `my-steps` 0.1.0"),
        "{count}"
    );
    let plain = record("`plain`");
    assert_eq!(plain.split(';').nth(1).map(str::len), Some(64), "{plain}");
    assert_eq!(
        analysis.crate_wide.split(';').nth(1),
        Some(""),
        "the crate's record covers every dependency: {}",
        analysis.crate_wide
    );
}
