//! The steps' code keys cover what they use: `SETUP`, which every cargo step interpolates, is
//! one of the items of each of their keys, so editing it re-runs them.

use tanto::__internal::cache::{CodeKey, Cover};
use tanto::__private::Step;

#[test]
fn every_cargo_step_is_keyed_by_setup_and_fmt_check_is_not() {
    let keys = [
        ("clippy", CodeKey::of(&<cargo_steps::clippy as Step>::INFO)),
        ("test", CodeKey::of(&<cargo_steps::test as Step>::INFO)),
        (
            "test_with_docker",
            CodeKey::of(&<cargo_steps::test_with_docker as Step>::INFO),
        ),
        ("doc", CodeKey::of(&<cargo_steps::doc as Step>::INFO)),
        ("build", CodeKey::of(&<cargo_steps::build as Step>::INFO)),
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
    let fmt = CodeKey::of(&<cargo_steps::fmt_check as Step>::INFO);
    assert!(
        !fmt.items.contains_key("`SETUP`"),
        "fmt_check does not use it: {:?}",
        fmt.items
    );
}
