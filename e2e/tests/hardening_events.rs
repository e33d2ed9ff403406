//! A display that falls behind costs dropped lines, said in a note, never memory or a stuck
//! step; the step's log file keeps every line, written as the step prints them, its colours
//! kept and nothing else a terminal would obey.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{events, fixture, of_kind};

/// The log file of step `step` under the store at `cache`, once a run made one.
fn log_file(cache: &std::path::Path, step: &str) -> Option<std::path::PathBuf> {
    let runs = std::fs::read_dir(cache.join("logs")).ok()?;
    runs.filter_map(Result::ok)
        .map(|run| run.path().join(format!("{step}.log")))
        .find(|p| p.exists())
}

#[test]
fn a_reader_that_falls_behind_loses_lines_but_the_log_keeps_them() {
    let cache = tempfile::tempdir().unwrap();
    let mut child = fixture(cache.path())
        .args(["shaped", "--progress", "json", "--script", "seq 1 200000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Nothing reads the events yet: the JSON view blocks on a full pipe while the step prints.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut logged = String::new();
    while !logged.contains("\n200000\n") {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the step's log never got its 200000 lines while the display was stuck");
        }
        std::thread::sleep(Duration::from_millis(200));
        logged = log_file(cache.path(), "shape_dir")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let events = events(stdout.as_bytes());
    let shown = of_kind(&events, "step_log").len();
    assert!(shown < 200_000, "{shown} lines shown");
    // Dropped lines are counted in notes, at most one a second while the step prints and
    // one before its end.
    let notes = of_kind(&events, "step_note");
    let said: usize = notes
        .iter()
        .filter_map(|n| {
            let message = n["message"].as_str()?;
            let count = message.strip_suffix(
                " lines of output were not shown here because the display could not keep up; the step's log has every line",
            )?;
            count.parse::<usize>().ok()
        })
        .sum();
    assert_eq!(said, 200_000 - shown, "{notes:?}");
    assert!(notes.len() <= 60, "{} notes", notes.len());
    assert_eq!(
        logged.lines().filter(|l| l.parse::<u32>().is_ok()).count(),
        200_000
    );
}

#[test]
fn the_log_file_keeps_colours_and_nothing_else_a_terminal_would_obey() {
    let cache = tempfile::tempdir().unwrap();
    // Clears the screen, prints in red, retitles the terminal and hides text behind a `\r`.
    let script = r"printf '\033[2J\033[31mred\033[0m \033]0;pwned\007 seen\rhidden\n'";
    let out = fixture(cache.path())
        .args(["shaped", "--progress", "plain", "--script", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = std::fs::read_to_string(log_file(cache.path(), "shape_dir").unwrap()).unwrap();
    assert_eq!(
        log, "\u{1b}[31mred\u{1b}[0m \\u{1b}]0;pwned\\u{7} seen\\u{d}hidden\n",
        "{log:?}"
    );
}
