//! A matrix step's label holds the items of a list flag, so whatever the flag holds (a newline
//! and a GitHub workflow command, an ANSI escape) is shown on every path that prints a label,
//! never obeyed: the run's lines under GitHub Actions, `--plan`, `--graph mermaid|dot`.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::*;

/// One toolchain of the `matrix` fixture whose label would inject a workflow command and turn
/// the terminal red if printed raw.
const HOSTILE: &str = r#"["a\n::error title=injected::pwned\u001b[31m"]"#;

/// The label of the first cell as every path shows it.
const SHOWN: &str = r"cell[a\u{a}::error title=injected::pwned,default]";

/// Asserts that `text` holds no escape, and that no line of it is the injected command.
fn obeys_nothing(text: &str) {
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("::error title=injected")),
        "{text}"
    );
}

/// `matrix` over an empty source with the hostile toolchain and `extra` flags; its stdout
/// and stderr.
fn matrix(cache: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (String, String) {
    matrix_of(cache, HOSTILE, extra, env)
}

/// [`matrix`] over the toolchains `toolchains`, a JSON list.
fn matrix_of(
    cache: &std::path::Path,
    toolchains: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (String, String) {
    let src = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache)
            .args(["matrix", "--toolchains", toolchains, "--src"])
            .arg(src.path())
            .args(extra)
            .envs(env.iter().copied()),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn a_label_from_a_flag_is_shown_never_obeyed_on_every_path() {
    let cache = tempfile::tempdir().unwrap();
    let github = [("GITHUB_ACTIONS", "true"), ("CI", "true")];
    let (stdout, stderr) = matrix(cache.path(), &["--progress", "plain"], &github);
    for text in [&stdout, &stderr] {
        obeys_nothing(text);
    }
    let done = format!("[{SHOWN}] done in ");
    assert!(stderr.lines().any(|l| l.starts_with(&done)), "{stderr}");
    // The summary's columns line up on the labels as printed.
    let table: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("STEP "))
        .take_while(|l| !l.is_empty())
        .collect();
    let status_at = table[0].find("STATUS").unwrap();
    let row = table.iter().find(|l| l.starts_with(SHOWN)).unwrap();
    assert_eq!(row.find("done"), Some(status_at), "{table:#?}");

    let (plan, _) = matrix(cache.path(), &["--plan"], &[]);
    obeys_nothing(&plan);
    assert!(
        plan.lines()
            .any(|l| l.starts_with("cached") && l.contains(SHOWN)),
        "{plan}"
    );

    let (mermaid, _) = matrix(cache.path(), &["--graph", "mermaid"], &[]);
    obeys_nothing(&mermaid);
    assert!(mermaid.contains(&format!("[\"{SHOWN}\"]")), "{mermaid}");
    assert!(
        mermaid.lines().skip(1).all(|l| l.starts_with("    n")),
        "every line is one node or one edge: {mermaid}"
    );

    let (dot, _) = matrix(cache.path(), &["--graph", "dot"], &[]);
    obeys_nothing(&dot);
    let escaped = SHOWN.replace('\\', "\\\\");
    assert!(
        dot.contains(&format!("[label=\"{escaped}\", shape=box];")),
        "{dot}"
    );
}

#[test]
fn an_error_listing_the_steps_shows_their_labels_never_obeyed() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["matrix", "--toolchains", HOSTILE, "--src"])
            .arg(src.path())
            .args(["--no-cache", "nope\u{1b}[2J"]),
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    obeys_nothing(&stderr);
    assert!(
        stderr.starts_with(
            "error: --no-cache: there is no step `nope` in `matrix`; its steps are `cell_input["
        ),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("`{SHOWN}`")), "{stderr}");
}

#[test]
fn labels_that_differ_only_by_what_is_not_shown_are_told_apart() {
    let cache = tempfile::tempdir().unwrap();
    // A colour code is dropped where a label is shown, so these two read alike.
    let toolchains = r#"["\u001b[31mred","red"]"#;
    let (stdout, _) = matrix_of(cache.path(), toolchains, &["--plan"], &[]);
    obeys_nothing(&stdout);
    let labels: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|l| l.starts_with("cell[red,default]"))
        .collect();
    assert_eq!(
        labels,
        ["cell[red,default]", "cell[red,default]-2"],
        "{stdout}"
    );
}
