//! The steps' code keys cover what they use: `SETUP`, which every cargo step interpolates, is
//! one of the items of each of their keys, so editing it re-runs them; the report steps are
//! keyed by the body they share too.

use tanto::__internal::cache::{CodeKey, Cover};
use tanto::__private::Step;

#[test]
fn every_cargo_step_is_keyed_by_setup_and_fmt_check_is_not() {
    // Each step by the label of its fn among the items (its module's path, then its name).
    let keys = [
        ("clippy", CodeKey::of(&<cargo_steps::clippy as Step>::INFO)),
        ("test", CodeKey::of(&<cargo_steps::test as Step>::INFO)),
        (
            "test_with_docker",
            CodeKey::of(&<cargo_steps::test_with_docker as Step>::INFO),
        ),
        ("doc", CodeKey::of(&<cargo_steps::doc as Step>::INFO)),
        ("build", CodeKey::of(&<cargo_steps::build as Step>::INFO)),
        (
            "reports::test_report",
            CodeKey::of(&<cargo_steps::test_report as Step>::INFO),
        ),
        (
            "reports::test_shard",
            CodeKey::of(&<cargo_steps::test_shard as Step>::INFO),
        ),
        (
            "reports::test_report_package",
            CodeKey::of(&<cargo_steps::test_report_package as Step>::INFO),
        ),
        (
            "reports::test_report_package_with_docker",
            CodeKey::of(&<cargo_steps::test_report_package_with_docker as Step>::INFO),
        ),
    ];
    for (name, key) in &keys {
        assert_eq!(
            key.cover,
            Cover::Items(vec![]),
            "{name}: the build script found it"
        );
        let setup = key
            .items
            .get("`SETUP`")
            .unwrap_or_else(|| panic!("{name}: {:?}", key.items));
        assert!(setup.at.starts_with("src/lib.rs:"), "{name}: {setup:?}");
        assert!(
            key.items[&format!("`{name}`")].own,
            "{name}: its own fn is an item"
        );
    }
    // The report steps share their body: editing it (or nextest's config) re-runs each.
    for (name, key) in &keys[5..] {
        for item in ["`reports::run_suite`", "`reports::NEXTEST_CONFIG`"] {
            assert!(
                key.items
                    .get(item)
                    .is_some_and(|i| i.at.starts_with("src/reports.rs:")),
                "{name}: {item} in {:?}",
                key.items
            );
        }
    }
    let fmt = CodeKey::of(&<cargo_steps::fmt_check as Step>::INFO);
    assert!(
        !fmt.items.contains_key("`SETUP`"),
        "fmt_check does not use it: {:?}",
        fmt.items
    );
}
