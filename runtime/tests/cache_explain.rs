//! Explaining misses: one reason per kind of change, in plain words.

mod cache_support;

use std::path::Path;

use tanto::__internal::cache::{ArtifactKind, InputRecord, KeyRecord, Reason, Store, explain};
use tanto::Digest;
use tanto::DirSelect;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

fn base() -> KeyRecord {
    let mut key = KeyRecord::new("ci::build", "c0de");
    key.image = Some("sha256:aaa".into());
    key.settings.insert("workdir".into(), "/src".into());
    key.input(
        "profile",
        InputRecord {
            kind: ArtifactKind::Value,
            digest: Digest::of(b"\"release\""),
            upstream: None,
            value: None,
            items: None,
        },
    )
}

fn texts(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(ToString::to_string).collect()
}

#[test]
fn each_component_has_its_reason() {
    let store = tempfile::tempdir().expect("tempdir");
    let store = Store::open(store.path()).expect("opens");
    let old = base();
    assert_eq!(explain(None, &old, &store), [Reason::FirstRun]);
    assert!(explain(Some(&old), &old.clone(), &store).is_empty());

    let mut new = old.clone();
    new.code = "beef".into();
    assert_eq!(explain(Some(&old), &new, &store), [Reason::CodeChanged]);

    let mut new = old.clone();
    new.version = Some("2".into());
    assert_eq!(
        texts(&explain(Some(&old), &new, &store)),
        ["version changed from (none) to 2"]
    );

    let mut new = old.clone();
    new.image = Some("sha256:bbb".into());
    assert_eq!(
        explain(Some(&old), &new, &store),
        [Reason::ImageChanged {
            old: Some("sha256:aaa".into()),
            new: Some("sha256:bbb".into())
        }]
    );
    // An id reads as its first 12 hex digits, as `docker images` shows it.
    let (a, b) = ("sha256:b2378a1c9e0f", "sha256:70764f2d9a1b");
    let (mut old_id, mut new_id) = (old.clone(), old.clone());
    old_id.image = Some(format!("{a}{}", "0".repeat(52)));
    new_id.image = Some(format!("{b}{}", "1".repeat(52)));
    assert_eq!(
        texts(&explain(Some(&old_id), &new_id, &store)),
        ["image changed from b2378a1c9e0f to 70764f2d9a1b"]
    );

    let mut new = old.clone();
    new.settings.insert("workdir".into(), "/app".into());
    new.settings.insert("env.CI".into(), "1".into());
    assert_eq!(
        texts(&explain(Some(&old), &new, &store)),
        [
            "setting `env.CI` changed from (none) to 1",
            "setting `workdir` changed from /src to /app"
        ]
    );

    let mut new = old.clone();
    new.format += 1;
    assert!(matches!(
        explain(Some(&old), &new, &store)[..],
        [Reason::FormatChanged { .. }]
    ));

    let mut new = old.clone();
    new.inputs.get_mut("profile").expect("profile").digest = Digest::of(b"\"dev\"");
    assert_eq!(
        texts(&explain(Some(&old), &new, &store)),
        ["input `profile` changed"]
    );

    assert_eq!(Reason::Forced.to_string(), "forced to run");
}

#[test]
fn a_changed_folder_input_names_its_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store")).expect("opens");
    let src = tmp.path().join("src");
    write(&src, "src/main.rs", "fn main() {}");
    write(&src, "src/old.rs", "");
    let hashed = |store: &Store| {
        store
            .hash_input_dir(&src, &DirSelect::DEFAULT)
            .expect("hashes")
            .digest
    };
    let dir_input = |digest| InputRecord {
        kind: ArtifactKind::Dir,
        digest,
        upstream: None,
        value: None,
        items: None,
    };
    let old = base().input("src", dir_input(hashed(&store)));

    write(&src, "src/main.rs", "fn main() { run() }");
    std::fs::remove_file(src.join("src/old.rs")).expect("rm");
    write(&src, "docs/new.md", "");
    let new = base().input("src", dir_input(hashed(&store)));
    let reasons = explain(Some(&old), &new, &store);
    assert_eq!(
        reasons,
        [Reason::InputChanged {
            param: "src".into(),
            added: vec!["docs/".into()],
            removed: vec!["src/old.rs".into()],
            modified: vec!["src/main.rs".into()],
        }]
    );
    assert_eq!(
        reasons[0].to_string(),
        "input `src` changed: modified src/main.rs; added docs/; removed src/old.rs"
    );

    for i in 0..14 {
        write(&src, &format!("gen/f{i:02}.rs"), "");
    }
    let newer = base().input("src", dir_input(hashed(&store)));
    // gen/ is a new folder, so write into an existing one to list files one by one.
    let text = explain(Some(&new), &newer, &store)[0].to_string();
    assert_eq!(text, "input `src` changed: added gen/");
    let more = base().input("src", {
        for i in 0..14 {
            write(&src, &format!("gen/f{i:02}.rs"), "changed");
        }
        dir_input(hashed(&store))
    });
    let text = explain(Some(&newer), &more, &store)[0].to_string();
    assert_eq!(
        text,
        "input `src` changed: modified gen/f00.rs, gen/f01.rs, gen/f02.rs, gen/f03.rs, \
         gen/f04.rs, gen/f05.rs, gen/f06.rs, gen/f07.rs, gen/f08.rs, gen/f09.rs and 4 more"
    );
}

#[test]
fn upstream_changes_name_the_step_and_its_name_is_not_in_the_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path()).expect("opens");
    let staging = store.temp_dir().expect("temp");
    let out = |content: &str| {
        let top = staging.path().join("out");
        write(&top, "bin/app", content);
        store.ingest_dir(&top).expect("ingests").digest()
    };
    let upstream = |digest| InputRecord {
        kind: ArtifactKind::Dir,
        digest,
        upstream: Some("build".into()),
        value: None,
        items: None,
    };
    // Early cutoff (same output bytes, same key, dependents stay cached) is shown end to end
    // by `an_unchanged_upstream_output_keeps_dependents_cached` in e2e/tests/cli.rs.
    let old = base().input("bin", upstream(out("v1")));
    let new = base().input("bin", upstream(out("v2")));
    let reasons = explain(Some(&old), &new, &store);
    assert_eq!(
        texts(&reasons),
        ["input `bin` from step `build` changed: modified bin/app"]
    );

    // Renaming the upstream step does not change the key.
    let mut renamed = old.clone();
    renamed.inputs.get_mut("bin").expect("bin").upstream = Some("compile".into());
    assert_eq!(renamed.digest(), old.digest());
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}
