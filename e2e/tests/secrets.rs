//! A secret never leaves tanto: a step that prints it whole, in two halves, base64-encoded
//! (alone and after a user name), URL-escaped, split by a colour code, across a long line's
//! cut (with and without colour codes in it), from its file and
//! inside a failing command's arguments leaves no trace of it in the terminal (plain and
//! GitHub Actions), the JSON events, the logs, the trace, the store, the `--out` folder or
//! the container's configuration.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

const VALUE: &str = "tanto-s3cr3t-7f9c1e";

/// The value and the encodings a careless step or tool might print.
fn forms() -> Vec<String> {
    vec![
        VALUE.to_owned(),
        "dGFudG8tczNjcjN0LTdmOWMxZQ".to_owned(), // base64, padding or not
        "tanto%2Ds3cr3t%2D7f9c1e".to_owned(),    // URL-encoded
        "%74%61%6e%74%6f%2d%73%33".to_owned(),   // URL-escaped byte by byte, in lower case
        "0YW50by1zM2NyM3QtN2Y5YzFl".to_owned(),  // base64 of `u:` and the value
    ]
}

/// Asserts that no form of the secret is in `bytes`, as they are or as a terminal shows them
/// (a colour code inside the secret does not hide it).
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let shown = without_colours(&text);
    for form in forms() {
        assert!(!text.contains(&form), "{what} holds `{form}`:\n{text}");
        assert!(!shown.contains(&form), "{what} shows `{form}`:\n{shown}");
    }
}

/// `text` without its colour codes: `ESC [`, up to a byte from `@` to `~`.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let code = &rest[at + 2..];
        let end = code
            .find(|c| ('@'..='~').contains(&c))
            .map_or(code.len(), |e| e + 1);
        rest = &code[end..];
    }
    out.push_str(rest);
    out
}

/// Every file under `root`, read whole and searched.
fn assert_tree_clean(root: &Path) {
    for entry in walk(root) {
        assert_clean(
            &entry.display().to_string(),
            &std::fs::read(&entry).unwrap(),
        );
    }
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                todo.push(e.path());
            } else if kind.is_file() {
                files.push(e.path());
            }
        }
    }
    files
}

/// The end of `text`, for a message about a long output.
fn tail(text: &str) -> &str {
    let mut at = text.len().saturating_sub(2000);
    while !text.is_char_boundary(at) {
        at += 1;
    }
    &text[at..]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_secret_shown_every_way_leaves_no_trace() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let trace = work.path().join("trace.json");

    // Watch the daemon for the step's container and inspect it while it runs.
    let inspected = std::thread::spawn(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ps = Command::new("docker")
                .args(["ps", "-q", "--filter", "label=tanto.step=leaky"])
                .output()
                .unwrap();
            if let Some(id) = text(&ps.stdout).lines().next() {
                let inspect = Command::new("docker")
                    .args(["inspect", id])
                    .output()
                    .unwrap();
                if inspect.status.success() {
                    return inspect.stdout;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the step's container never showed up");
    });
    let run = output(
        fixture(cache.path())
            .args([
                "secretive",
                "--token",
                "env:TANTO_TEST_TOKEN",
                "--progress",
                "plain",
            ])
            .arg("--out")
            .arg(&out_dir)
            .arg("--trace")
            .arg(&trace)
            .env("TANTO_TEST_TOKEN", VALUE),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let inspect = inspected.join().unwrap();
    assert!(
        text(&inspect).contains("tanto.step"),
        "inspected the right container"
    );
    assert_clean("docker inspect", &inspect);
    assert_clean("stdout", &run.stdout);
    assert_clean("stderr", &run.stderr);
    let stderr = text(&run.stderr);
    // Shown, masked: whole, split across two writes, base64, and from a file of mode 0400.
    for line in [
        "[leaky] whole: ***",
        "[leaky] halves: ***",
        "[leaky] base64: ***",
        "[leaky] basic: dTp***",
        "[leaky] escaped: ***",
        "[leaky] coloured: ***",
        "[leaky] file: *** 400",
    ] {
        assert!(stderr.contains(line), "`{line}` in:\n{stderr}");
    }
    // The line past 64 KiB is cut after it is redacted: none of the secret shows at the cut.
    assert!(
        stderr.contains("xxx*** [… cut at 64 KiB]"),
        "{}",
        tail(&stderr)
    );
    assert!(!stderr.contains("xtanto"), "{}", tail(&stderr));
    // So is one whose secret has a colour code after each character, which the line loses.
    assert!(
        stderr.contains("yyy*** [… cut at 64 KiB]"),
        "{}",
        tail(&stderr)
    );
    assert!(!stderr.contains("yt"), "{}", tail(&stderr));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("leaky.json")).unwrap(),
        r#""whole: ***\nhalves: ***\nbase64: ***\nbasic: dTp***\nescaped: ***\ncoloured: ***\nfile: *** 400\n""#,
        "the returned value is masked before anything records it"
    );
    assert_tree_clean(&out_dir);
    assert_clean("the trace", &std::fs::read(&trace).unwrap());

    // The same value again: cached. JSON events are clean too.
    let again = output(
        fixture(cache.path())
            .args([
                "secretive",
                "--token",
                "env:TANTO_TEST_TOKEN",
                "--progress",
                "json",
            ])
            .env("TANTO_TEST_TOKEN", VALUE),
    );
    let cached = events(&again.stdout);
    assert_eq!(of_kind(&cached, "step_cached").len(), 1, "{cached:?}");

    // GitHub Actions: masked by the runner first, and no other line holds it.
    let github = output(
        fixture(cache.path())
            .args([
                "secretive",
                "--no-cache",
                "--token",
                "env:TANTO_TEST_TOKEN",
                "--progress",
                "plain",
            ])
            .env("TANTO_TEST_TOKEN", VALUE)
            .env("GITHUB_ACTIONS", "true"),
    );
    assert!(github.status.success(), "{}", text(&github.stderr));
    let all = text(&github.stderr);
    let masks: Vec<&str> = all
        .lines()
        .take_while(|l| l.starts_with("::add-mask::"))
        .collect();
    assert!(
        masks.contains(&format!("::add-mask::{VALUE}").as_str()),
        "{all}"
    );
    assert!(
        all.lines()
            .skip(masks.len())
            .all(|l| !l.starts_with("::add-mask::")),
        "the masks come before anything else: {all}"
    );
    for line in all.lines().filter(|l| !l.starts_with("::add-mask::")) {
        assert_clean("a GitHub Actions line", line.as_bytes());
    }
    assert_clean("stdout under GitHub Actions", &github.stdout);

    // A failing command with the secret in its arguments, as JSON events.
    let failed = output(
        fixture(cache.path())
            .args([
                "secretive_fail",
                "--token",
                "env:TANTO_TEST_TOKEN",
                "--progress",
                "json",
            ])
            .env("TANTO_TEST_TOKEN", VALUE),
    );
    assert_eq!(failed.status.code(), Some(1));
    let events = events(&failed.stdout);
    let error = of_kind(&events, "step_failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("'echo \"no luck with $0\" >&2; exit 4' ***"),
        "{error}"
    );
    assert_clean("the failure's events", &failed.stdout);
    assert_clean("the failure's stderr", &failed.stderr);

    // The whole store: records, logs, last keys, the stat cache.
    assert_tree_clean(cache.path());
}

#[test]
fn a_rotated_secret_reruns_and_a_step_may_key_it_by_name_only() {
    let cache = tempfile::tempdir().unwrap();
    let run = |pipeline: &str, value: &str| {
        let out = output(
            fixture(cache.path())
                .args([
                    pipeline,
                    "--token",
                    "env:TANTO_TEST_TOKEN",
                    "--progress",
                    "json",
                ])
                .env("TANTO_TEST_TOKEN", value),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        events(&out.stdout)
    };
    assert_eq!(
        of_kind(&run("secretive", "first-token-1"), "step_started").len(),
        1
    );
    assert_eq!(
        of_kind(&run("secretive", "first-token-1"), "step_cached").len(),
        1
    );
    let rotated = run("secretive", "second-token-2");
    let started = of_kind(&rotated, "step_started");
    assert_eq!(started.len(), 1, "a rotated token re-runs the step");
    // Named, never shown as a value is.
    assert_eq!(
        started[0]["reason"].as_str().unwrap(),
        "input `token` changed",
        "{rotated:?}"
    );

    assert_eq!(
        of_kind(&run("secret_by_name", "first-token-1"), "step_started").len(),
        1
    );
    assert_eq!(
        of_kind(&run("secret_by_name", "second-token-2"), "step_cached").len(),
        1,
        "`secret_in_key = false` keys the secret by its name only"
    );
}

#[test]
fn sources_are_read_and_their_failures_never_show_the_value() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{VALUE}\n")).unwrap();
    for source in [
        format!("file:{}", file.display()),
        format!("cmd:echo {VALUE}"),
    ] {
        let out = output(fixture(cache.path()).args([
            "secret_by_name",
            "--progress",
            "json",
            "--token",
            &source,
        ]));
        assert!(out.status.success(), "{source}: {}", text(&out.stderr));
        assert_clean("stdout", &out.stdout);
    }
    let missing = dir.path().join("missing");
    let cases = [
        (
            "env:".to_owned(),
            "error: --token: `env:` names no variable: write `env:NAME`\n".to_owned(),
        ),
        (
            "env:TANTO_TEST_NO_SUCH_VARIABLE".to_owned(),
            "error: --token: the variable `TANTO_TEST_NO_SUCH_VARIABLE` is not set\n".to_owned(),
        ),
        (
            format!("file:{}", missing.display()),
            format!(
                "error: --token: cannot read `{}`: No such file or directory (os error 2)\n",
                missing.display()
            ),
        ),
        (
            // Prints the value, then fails: what it printed is not shown.
            r#"cmd:printf %s "$TANTO_TEST_TOKEN"; exit 3"#.to_owned(),
            "error: --token: `printf %s \"$TANTO_TEST_TOKEN\"; exit 3` failed (exit status: 3); its output is not shown\n".to_owned(),
        ),
        (
            VALUE.to_owned(),
            "error: --token: a secret comes from `env:NAME`, `file:PATH` or `cmd:COMMAND`, never from the command line itself\n".to_owned(),
        ),
    ];
    for (source, expected) in cases {
        let out = output(
            fixture(cache.path())
                .args(["secret_by_name", "--token", &source])
                .env("TANTO_TEST_TOKEN", VALUE),
        );
        assert_eq!(out.status.code(), Some(2), "{source}");
        assert_clean("a source's error", &out.stderr);
        assert_eq!(text(&out.stderr), expected, "{source}");
    }
    // The flag's help names the sources, not a value.
    let help = output(fixture(cache.path()).args(["secret_by_name", "--help"]));
    let help = text(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains(
            "--token <SOURCE> Where the secret `token` comes from: `env:NAME`, `file:PATH` or \
             `cmd:COMMAND` (never the value itself) [required]"
        ),
        "{help}"
    );
}

#[test]
fn only_steps_that_can_know_a_secret_have_their_values_masked() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |value: &str, out: &str| {
        let run = output(
            fixture(cache.path())
                .args(["lookalike", "--token", "env:TANTO_TEST_TOKEN", "--out"])
                .arg(work.path().join(out))
                .env("TANTO_TEST_TOKEN", value),
        );
        assert!(run.status.success(), "{}", text(&run.stderr));
        run
    };
    let read = |out: &str, name: &str| {
        std::fs::read_to_string(work.path().join(out).join(format!("{name}.json"))).unwrap()
    };
    // The secret is `postgres`, which `db_name` prints knowing nothing of it.
    let first = run("postgres", "first");
    assert_eq!(read("first", "db_name"), r#""engine=postgres""#);
    assert_eq!(
        read("first", "name_length"),
        r#""15""#,
        "passed on as it is"
    );
    assert_eq!(
        read("first", "file_text"),
        r#""engine=***""#,
        "read from the secret's file"
    );
    // Shown, it is masked wherever it is: the run's lines, and the output lines of a run
    // without `--out`.
    let stderr = text(&first.stderr);
    assert!(!stderr.contains("postgres"), "{stderr}");
    let shown = output(
        fixture(cache.path())
            .args(["lookalike", "--token", "env:TANTO_TEST_TOKEN"])
            .env("TANTO_TEST_TOKEN", "postgres"),
    );
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let stdout = text(&shown.stdout);
    assert!(
        stdout.contains("output db_name: \"engine=***\"\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("postgres"), "{stdout}");

    // Another secret: `db_name`'s recorded value is the one it returned.
    run("another-s3cr3t", "second");
    assert_eq!(read("second", "db_name"), r#""engine=postgres""#);
    assert_eq!(read("second", "name_length"), r#""15""#);
    assert_eq!(read("second", "file_text"), r#""engine=***""#);
}

#[test]
fn a_short_secret_is_warned_about_and_a_long_one_is_not() {
    let cache = tempfile::tempdir().unwrap();
    let run = |value: &str| {
        let run = output(
            fixture(cache.path())
                .args(["lookalike", "--token", "env:TANTO_TEST_TOKEN"])
                .env("TANTO_TEST_TOKEN", value),
        );
        assert!(run.status.success(), "{}", text(&run.stderr));
        text(&run.stderr)
    };
    let warning = "warning: the secret `token` is shorter than 8 characters: every place its \
                   text shows in what tanto prints and records is masked as `***`, ordinary text \
                   too; a real secret is longer";
    let short = run("pg");
    assert!(short.contains(warning), "{short}");
    let long = run("a-longer-s3cr3t");
    assert!(!long.contains("warning: the secret"), "{long}");
}
