//! Variables and `cfg` keys the build script cannot see (its own `cargo::rustc-env` and
//! `cargo::rustc-cfg`): marked for the expansion to read when it is compiled, in the step's
//! record and in the crate's.

use super::{analyse, write};

const LIB: &str = r#"
use tanto::prelude::*;

#[step]
pub async fn stamped(ctx: &Ctx) -> Result<String> {
    let speed = if cfg!(tanto_test_unseen_flag) { "fast" } else { "slow" };
    Ok(format!("{} {speed} {}", env!("TANTO_TEST_UNSEEN_VAR"), env!("PATH")))
}
"#;

#[test]
fn what_the_build_script_cannot_see_is_read_when_compiled() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
    );
    write(tmp.path(), "src/lib.rs", LIB);
    let analysis = analyse(tmp.path(), "app", "0.1.0", None);
    let step = analysis.steps.values().next().expect("one step");
    let read = |record: &str| -> Vec<String> {
        tanto_tokens::compiled::read_when_compiled(record)
            .into_iter()
            .map(|(label, _)| label)
            .collect()
    };
    let unseen = [
        "cfg `tanto_test_unseen_flag`",
        "env `TANTO_TEST_UNSEEN_VAR`",
    ];
    assert_eq!(read(step), unseen, "{step}");
    // What the build script sees (`PATH`) stays keyed there.
    assert!(step.contains(";env `PATH`||"), "{step}");
    // A step keyed by the crate's record (one the build script did not find) has them too.
    assert_eq!(
        read(&analysis.crate_wide),
        unseen,
        "{}",
        analysis.crate_wide
    );
}
