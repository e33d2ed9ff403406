//! Sound keys end to end: the crates in `e2e/fixtures/keys` are copied into a temporary
//! folder, built with their build scripts (sharing one target folder across runs of the suite,
//! so only they compile), run in real containers, edited, rebuilt and run again. Each edit
//! re-runs exactly the steps whose code reaches it, and `--require-cache` refuses a run that
//! would run anything, saying why.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use support::keys::{Project, events_named, plan_line, text};

const ALL: [&str; 7] = [
    "after_setup",
    "deep",
    "dep_step",
    "greets",
    "listing",
    "plain",
    "with_setup",
];

#[test]
fn each_edit_reruns_exactly_the_steps_whose_code_reaches_it() {
    let p = Project::new("each_edit");
    assert_eq!(p.started(&[]), ALL);
    assert!(p.started(&[]).is_empty(), "a second run is all cached");

    // Layout, comments and an item no step uses.
    p.edit(
        "app/src/main.rs",
        "// Every shell step starts with this.",
        "// Each shell step\n\n// starts with this.",
    );
    p.edit(
        "app/src/main.rs",
        "fn first() -> String {",
        "fn   first()   -> String\n{",
    );
    p.edit(
        "app/src/main.rs",
        "nothing reads this",
        "nothing reads this either",
    );
    p.build();
    assert!(
        p.started(&[]).is_empty(),
        "layout, comments and unused items re-run nothing"
    );

    // A const one step uses: that step, and the one its output feeds.
    p.edit("app/src/main.rs", "echo setup-one", "echo setup-two");
    p.build();
    let plan = p.plan(&[]);
    let at = p.line_of("app/src/main.rs", "const SETUP");
    assert!(
        plan_line(&plan, "with_setup")
            .ends_with(&format!("code changed: `SETUP` ({at}) used by this step")),
        "{plan}"
    );
    // Its own parts are unchanged: it runs if what `with_setup` makes changes, which it does.
    assert_eq!(
        plan_line(&plan, "after_setup"),
        "maybe   after_setup  upstream `with_setup` will run",
        "{plan}"
    );
    assert!(plan_line(&plan, "plain").starts_with("cached"), "{plan}");
    assert!(
        plan.ends_with(
            "\n1 of 7 steps would run, and 1 more may, if what they take from those changes\n"
        ),
        "{plan}"
    );
    assert_eq!(p.started(&[]), ["after_setup", "with_setup"]);

    // A helper two calls away.
    p.edit("app/src/util.rs", "deep-one", "deep-two");
    p.build();
    let plan = p.plan(&[]);
    let at = p.line_of("app/src/util.rs", "fn second");
    assert!(
        plan_line(&plan, "deep").ends_with(&format!(
            "code changed: `util::second` ({at}) used by this step"
        )),
        "{plan}"
    );
    assert_eq!(p.started(&[]), ["deep"]);

    // The step's own fn.
    p.edit(
        "app/src/main.rs",
        r#"["echo", "plain"]"#,
        r#"["echo", "plainer"]"#,
    );
    p.build();
    let plan = p.plan(&[]);
    let at = p.line_of("app/src/main.rs", "async fn plain");
    assert!(
        plan_line(&plan, "plain").ends_with(&format!("code changed: the step's fn `plain` ({at})")),
        "{plan}"
    );
    assert_eq!(p.started(&[]), ["plain"]);

    // Its attribute only: a setting no key names, so the miss says the attribute is what changed.
    p.edit(
        "app/src/main.rs",
        "#[step(image = IMAGE, network = false)]\nasync fn plain",
        "#[step(image = IMAGE, network = false, timeout = \"5m\")]\nasync fn plain",
    );
    p.build();
    let plan = p.plan(&[]);
    assert!(
        plan_line(&plan, "plain").ends_with(&format!(
            "code changed: the attributes of the step's fn `plain` ({at})"
        )),
        "{plan}"
    );
    assert_eq!(p.started(&[]), ["plain"]);
}

#[test]
fn a_path_dependency_reruns_the_steps_that_use_it() {
    let p = Project::new("path_dep");
    assert_eq!(p.started(&[]), ALL);
    p.edit("dep/src/lib.rs", "dep-one", "dep-two");
    p.build();
    let plan = p.plan(&[]);
    let at = p.line_of("dep/src/lib.rs", "fn helper");
    // The dependency's own step, keyed by the dependency's build script.
    assert!(
        plan_line(&plan, "dep_step")
            .ends_with(&format!("code changed: `helper` ({at}) used by this step")),
        "{plan}"
    );
    // A step of the user that calls into the dependency, keyed by its identity.
    assert!(
        plan_line(&plan, "greets")
            .ends_with("code changed: crate `keys-dep` (path ../dep) used by this step"),
        "{plan}"
    );
    assert_eq!(p.started(&[]), ["dep_step", "greets"]);
}

#[test]
fn require_cache_passes_a_warm_cache_and_refuses_an_edit_with_the_reason() {
    let p = Project::new("require_cache");
    assert_eq!(p.started(&[]), ALL);

    let warm = p.run(&[
        "keys",
        "--src",
        "input",
        "--progress",
        "json",
        "--require-cache",
    ]);
    assert_eq!(warm.status.code(), Some(0), "{}", text(&warm.stderr));
    assert_eq!(events_named(&warm.stdout, "step_cached").len(), ALL.len());

    // A hit explains itself: the record it found, when it was made, and its key's parts.
    let plan = p.plan(&["with_setup"]);
    let hit = plan_line(&plan, "with_setup");
    assert!(
        hit.starts_with("cached") && hit.contains("hit record ") && hit.contains(" UTC"),
        "{plan}"
    );
    let at = p.line_of("app/src/main.rs", "const SETUP");
    assert!(plan.contains(&format!("`SETUP` ({at})")), "{plan}");
    assert!(
        plan.lines()
            .any(|l| l.trim_start().starts_with("code ") && l.ends_with(" covers 3 items:")),
        "the step's fn, `IMAGE` and `SETUP`: {plan}"
    );
    assert!(!plan.contains("deep"), "only the step named: {plan}");
    assert!(
        plan.ends_with("\n0 of 7 steps would run (1 shown)\n"),
        "{plan}"
    );
    // Lines added above it move it, not its key: still a hit, shown where it is now.
    p.edit("app/src/main.rs", "const SETUP", "\n\n\nconst SETUP");
    p.build();
    let plan = p.plan(&["with_setup"]);
    assert!(
        plan_line(&plan, "with_setup").starts_with("cached"),
        "{plan}"
    );
    let moved = p.line_of("app/src/main.rs", "const SETUP");
    assert_ne!(moved, at);
    assert!(plan.contains(&format!("`SETUP` ({moved})")), "{plan}");

    std::fs::write(p.path("input/a.txt"), "two\n").unwrap();
    let refused = p.run(&[
        "keys",
        "--src",
        "input",
        "--progress",
        "json",
        "--require-cache",
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(
        said.contains("error: --require-cache: 1 of 7 steps would run:"),
        "{said}"
    );
    assert!(
        said.contains("listing  input `src` changed: modified a.txt"),
        "{said}"
    );
    assert!(
        events_named(&refused.stdout, "step_started").is_empty(),
        "nothing ran"
    );

    p.edit("app/src/main.rs", "echo setup-one", "echo setup-two");
    p.build();
    let refused = p.run(&["keys", "--src", "input", "--require-cache"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = text(&refused.stderr);
    assert!(
        said.contains(
            "error: --require-cache: 2 of 7 steps would run, and 1 more may, if what they take from those changes:"
        ),
        "{said}"
    );
    assert!(said.contains("code changed: `SETUP`"), "{said}");
    assert!(said.contains("upstream `with_setup` will run"), "{said}");
}

fn docker(args: &[&str]) -> Output {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        text(&out.stderr)
    );
    out
}

#[test]
fn a_result_from_an_image_chosen_at_run_time_stands_while_its_tag_does() {
    const TAG: &str = "tanto-test/keys-moving:latest";
    let p = Project::new("moving_image");
    docker(&["tag", "tanto-test/busybox:latest", TAG]);
    let run = |expect: &[&str]| {
        let out = p.run(&["moving", "--progress", "json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(events_named(&out.stdout, "step_started"), expect);
    };
    run(&["chosen"]);
    run(&[]);
    // Another image under the same tag: the recorded result no longer stands.
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", TAG, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        build.stdin.as_mut().unwrap(),
        b"FROM tanto-test/busybox:latest\nLABEL tanto.test=moved\n",
    )
    .unwrap();
    drop(build.stdin.take());
    assert!(build.wait().unwrap().success());
    let plan = text(&p.run(&["moving", "--plan"]).stdout);
    assert!(
        plan_line(&plan, "chosen")
            .contains(&format!("image `{TAG}`, chosen at run time, moved from ")),
        "{plan}"
    );
    run(&["chosen"]);
    run(&[]);
    docker(&["rmi", TAG]);
}

#[test]
fn a_host_file_edited_while_its_step_runs_leaves_no_result() {
    let p = Project::new("host_file");
    let notes = p.path("notes.txt");
    std::fs::write(&notes, "before\n").unwrap();
    let mut child = p
        .command(&["slow", "--notes", "notes.txt", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("\"step_started\"");
        seen.push(line);
        if started {
            // The step sleeps 2 s before it copies the file in: edit it meanwhile.
            std::thread::sleep(std::time::Duration::from_millis(500));
            std::fs::write(&notes, "after\n").unwrap();
            break;
        }
    }
    seen.extend(lines.map(Result::unwrap));
    assert!(child.wait().unwrap().success(), "{seen:?}");
    let noted = seen.iter().any(|l| {
        l.contains("\"step_note\"") && l.contains("input `notes` changed while `read_slowly` ran")
    });
    assert!(noted, "{seen:?}");
    // Not cached: the next run runs it again, from the file as it is now.
    let again = p.run(&["slow", "--notes", "notes.txt", "--progress", "json"]);
    assert!(again.status.success());
    assert_eq!(events_named(&again.stdout, "step_started"), ["read_slowly"]);
}

#[test]
fn without_the_build_script_the_plan_says_what_the_keys_leave_out() {
    // The e2e fixture has no build script: its steps are keyed by their own tokens.
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fixture"))
        .args(["spread", "--plan"])
        .env("TANTO_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    let notes: Vec<&str> = plan.lines().filter(|l| l.starts_with("note on ")).collect();
    assert_eq!(notes.len(), 1, "one note for all six steps: {plan}");
    assert!(
        notes[0].starts_with("note on `nap_as`, `nap_as-2`, `nap_as-3`")
            && notes[0].ends_with(
                "code keyed by the step's own tokens only: its crate's build script does not call `tanto_build::digests()`, so the items the step uses are not covered"
            ),
        "{plan}"
    );
}
