//! A step's code in its key: what the build script's record puts there, what a miss says about
//! it, and what never counts (where an item is).

use tanto::__internal::cache::{KeyRecord, Reason, Trees, explain, record_text};
use tanto::__internal::graph::{CodeInfo, StepInfo, StepSettings};

/// A step whose build-script record is `record` and whose signature and body are `tokens`
/// (leaked: `StepInfo` holds `&'static str`s).
fn step_with(tokens: &'static str, record: String) -> StepInfo {
    StepInfo {
        name: "build",
        path: "app::build",
        doc: "",
        tokens,
        code: CodeInfo {
            record: Some(Box::leak(record.into_boxed_str())),
            crate_record: Some("1;ff;;;"),
            compiled: &[],
            package: Some("app"),
            version: Some("0.1.0"),
            cfg_test: false,
        },
        params: &[],
        output: "()",
        settings: StepSettings::DEFAULT,
    }
}

/// A step whose build-script record is `record`.
fn step(record: String) -> StepInfo {
    step_with("c0de", record)
}

fn key(digest: &str, entries: &[(&str, &str, &str)]) -> KeyRecord {
    KeyRecord::for_step(&step(record_text(digest, "`build`", entries)), None)
}

fn reasons(old: &KeyRecord, new: &KeyRecord) -> Vec<String> {
    explain(Some(old), new, &Trees::new())
        .iter()
        .map(ToString::to_string)
        .collect()
}

const BEFORE: [(&str, &str, &str); 3] = [
    ("`build`", "src/lib.rs:40", "0000000000000001"),
    ("`SETUP`", "src/lib.rs:27", "0000000000000002"),
    ("crate `serde`", "1.0.1", "0000000000000003"),
];

#[test]
fn a_miss_names_the_items_that_changed_appeared_or_went_away() {
    let old = key("aa", &BEFORE);
    assert_eq!(old.code_items.len(), 3);
    assert!(old.code_items["`build`"].own);

    let setup = key(
        "bb",
        &[
            BEFORE[0],
            ("`SETUP`", "src/lib.rs:27", "00000000000000f2"),
            BEFORE[2],
        ],
    );
    assert_eq!(
        reasons(&old, &setup),
        ["code changed: `SETUP` (src/lib.rs:27 in app) used by this step"]
    );

    let edited = [
        ("`build`", "src/lib.rs:40", "00000000000000f1"),
        BEFORE[1],
        BEFORE[2],
    ];
    let own = KeyRecord::for_step(
        &step_with("c0de + 1", record_text("cc", "`build`", &edited)),
        None,
    );
    assert_eq!(
        reasons(&old, &own),
        ["code changed: the step's fn `build` (src/lib.rs:40 in app)"]
    );
    // The fn's item changed and its signature and body did not: an attribute did
    // (`#[step(timeout = ..)]`, which no setting names).
    assert_eq!(
        reasons(&old, &key("cc", &edited)),
        ["code changed: the attributes of the step's fn `build` (src/lib.rs:40 in app)"]
    );

    let bumped = key(
        "dd",
        &[
            BEFORE[0],
            BEFORE[1],
            ("crate `serde`", "1.0.2", "00000000000000f3"),
        ],
    );
    assert_eq!(
        reasons(&old, &bumped),
        ["code changed: crate `serde` (from 1.0.1 to 1.0.2) used by this step"]
    );

    let swapped = key(
        "ee",
        &[
            BEFORE[0],
            BEFORE[2],
            ("`helper`", "src/util.rs:3", "0000000000000004"),
        ],
    );
    assert_eq!(
        reasons(&old, &swapped),
        [
            "code changed: now uses `helper` (src/util.rs:3 in app); no longer uses `SETUP` (src/lib.rs:27 in app)"
        ]
    );
}

#[test]
fn where_an_item_is_never_counts() {
    let old = key("aa", &BEFORE);
    let moved = key(
        "aa",
        &[
            ("`build`", "src/lib.rs:44", "0000000000000001"),
            BEFORE[1],
            BEFORE[2],
        ],
    );
    assert_eq!(
        old.digest(),
        moved.digest(),
        "the same code, further down the file"
    );
    assert!(explain(Some(&old), &moved, &Trees::new()).is_empty());
}

#[test]
fn without_items_on_both_sides_the_code_changed_is_all_there_is_to_say() {
    // A key from before code items: the same record, without them.
    let new = key("bb", &BEFORE);
    let mut old = key("aa", &BEFORE);
    old.code_items.clear();
    assert_eq!(
        explain(Some(&old), &new, &Trees::new()),
        [Reason::CodeChanged]
    );
    old.code = new.code.clone();
    assert!(
        explain(Some(&old), &new, &Trees::new()).is_empty(),
        "items alone are not the key"
    );
    assert_eq!(old.digest(), new.digest());
}

#[test]
fn a_miss_after_the_code_could_not_be_keyed_says_what_keyed_it_then() {
    let new = key("aa", &BEFORE);
    // The build script gave no digest: the step could not be keyed, and said why.
    let unkeyed = KeyRecord::for_step(&step("1;;`build`;include_str! of a variable;".into()), None);
    assert!(unkeyed.code_items.is_empty());
    assert_eq!(
        reasons(&unkeyed, &new),
        [
            "the step's code was keyed by nothing (it could not be keyed: include_str! of a variable) before, and by the items it uses now"
        ]
    );
    // No build script: the step's own tokens alone.
    let mut info = step(String::new());
    info.code = CodeInfo::NONE;
    let tokens = KeyRecord::for_step(&info, None);
    assert_eq!(
        reasons(&tokens, &new),
        [
            "the step's code was keyed by its own tokens alone (no `tanto_build::digests()` in its crate's build script) before, and by the items it uses now"
        ]
    );
    assert_eq!(
        reasons(&new, &tokens),
        [
            "the step's code was keyed by the items it uses before, and by its own tokens alone (no `tanto_build::digests()` in its crate's build script) now"
        ]
    );
    // What the key covered is not the key: the same code keyed the same way is no miss.
    let mut bare = new.clone();
    bare.code_cover = Some(tanto::__internal::cache::Cover::Tokens);
    assert_eq!(bare.digest(), new.digest());
}
