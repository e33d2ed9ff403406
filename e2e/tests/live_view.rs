//! The live terminal view, read off a real terminal: tmux runs the fixture binary in a pane of
//! a known size, and the test reads the screen with `capture-pane`.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::tmux::Tmux;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_live_view_shows_the_tree_with_running_steps_and_their_last_lines() {
    let cache = tempfile::tempdir().unwrap();
    let tmux = Tmux::new("live", "live");
    let command = format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} {} chatty; sleep 60",
        cache.path().display(),
        env!("CARGO_BIN_EXE_fixture")
    );
    tmux.start(100, 30, &command);
    // Wait for the moment both steps have printed a few lines; structure, not timing.
    let deadline = Instant::now() + Duration::from_secs(60);
    let screen = loop {
        let screen = tmux.screen();
        if screen.contains("left: tick 3") && screen.contains("right: tick 3") {
            break screen;
        }
        assert!(
            Instant::now() < deadline,
            "the steps never printed:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        lines[0]
            .starts_with("tanto chatty · 2 running · 1 waiting · 0 done · 0 cached · 0 failed · "),
        "the header counts the steps:\n{screen}"
    );
    let row = |name: &str| {
        lines
            .iter()
            .position(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for `{name}`:\n{screen}"))
    };
    for (name, said) in [("chatter", "left"), ("chatter-2", "right")] {
        let at = row(name);
        let mark = lines[at].split_whitespace().next().unwrap();
        assert!(
            "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".contains(mark),
            "`{name}` is running:\n{screen}"
        );
        let tail: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .map(|l| l.trim())
            .collect();
        assert!(
            !tail.is_empty()
                && tail.len() <= 3
                && tail
                    .iter()
                    .all(|l| l.starts_with(&format!("{said}: tick "))),
            "`{name}` shows its last lines:\n{screen}"
        );
    }
    let gather = lines[row("gather")];
    assert!(
        gather.starts_with("· gather  waiting on chatter, chatter-2"),
        "a waiting step says what it waits on:\n{screen}"
    );
    // Nothing else writes on the terminal: the header, the rows and their tails.
    assert_eq!(lines.len(), 1 + 3 + row_tails(&lines), "{screen}");

    // Ctrl-C ends the run as it would any other: interrupted, nothing left behind.
    tmux.run(&["send-keys", "-t", "live", "C-c"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tmux.screen().contains("interrupted") {
        assert!(
            Instant::now() < deadline,
            "no interruption:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = || {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=tanto.step=chatter"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while left() > 0 {
        assert!(Instant::now() < deadline, "the run left its containers");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The interruption's note is a whole line of its own, above the tree: never torn by a
    // frame drawn over it.
    let screen = tmux.screen();
    assert!(
        screen.lines().any(|l| l.trim_end()
            == "tanto: interrupted; stopping steps and removing their containers (again to exit at once)"),
        "{screen}"
    );
}

/// How many output lines are shown under rows.
fn row_tails(lines: &[&str]) -> usize {
    lines.iter().filter(|l| l.starts_with("    ")).count()
}

#[test]
fn interactive_opens_a_shell_in_the_failed_step_as_it_was() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(src.path().join("README.md"), "hi\n").unwrap();
    let tmux = Tmux::new("live", "live");
    let command = format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} {} probe_fail -i --src {}; echo \"exit=$?\"; sleep 60",
        cache.path().display(),
        env!("CARGO_BIN_EXE_fixture"),
        src.path().display()
    );
    tmux.start(120, 40, &command);
    let screen = tmux.wait_for(Tmux::screen, "exit the shell to go on");
    assert!(
        screen.contains("tanto: the command was: sh -c 'echo probing > /tmp/probe.log; exit 3'"),
        "the failed command is above the prompt:\n{screen}"
    );
    // The shell is in the container as the step left it: its mount, workdir, env and files.
    std::thread::sleep(Duration::from_millis(500));
    tmux.run(&[
        "send-keys",
        "-t",
        "live",
        "ls /src; echo marker-$((6*7)) $PROBE $(pwd) $(cat /tmp/probe.log); exit",
        "Enter",
    ]);
    let screen = tmux.wait_for(Tmux::screen, "exit=");
    assert!(
        screen.contains("Cargo.toml") && screen.contains("README.md"),
        "{screen}"
    );
    assert!(screen.contains("marker-42 on /src probing"), "{screen}");
    assert!(
        screen.contains("exit=1"),
        "the run ends as it would have:\n{screen}"
    );
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=tanto.step=probe"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "nothing left"
    );
}

#[test]
fn interactive_without_a_terminal_is_a_usage_error() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let out = support::output(
        support::fixture(cache.path())
            .args(["probe_fail", "-i", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: -i opens a shell on this terminal, and there is none: run it from a terminal, or without -i\n"
    );
}

#[test]
fn shell_opens_a_container_like_a_steps_last_with_its_upstream_input_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("notes.txt"), "n\n").unwrap();
    std::fs::write(src.path().join("data.csv"), "1,2\n").unwrap();
    let fixture = env!("CARGO_BIN_EXE_fixture");
    let env = format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={}",
        cache.path().display()
    );
    let tmux = Tmux::new("live", "live");
    // Nothing ran yet: it says which pipeline to run, or how to have it run. The shell asks
    // for no value or secret (`--note`, `--token`): it sets up folders and files only.
    let first = format!(
        "{env} {fixture} unpacked shell look --src {}; echo \"exit=$?\"; sleep 60",
        src.path().display()
    );
    tmux.start(220, 40, &first);
    let screen = tmux.wait_for(Tmux::screen, "exit=");
    assert!(
        screen.contains("error: `look` has not run yet, so there is no record of its container to set up again: pass --run-upstream, with --note and --token, to run `unpacked` with `look` run again"),
        "{screen}"
    );
    assert!(screen.contains("exit=2"), "{screen}");
    tmux.run(&["kill-server"]);

    // --run-upstream runs the pipeline first; then the shell has `pack`'s output at /in.
    let tmux = Tmux::new("live", "live");
    let second = format!(
        "{env} TANTO_T=tok-3f1 {fixture} unpacked shell look --run-upstream --note noted --token env:TANTO_T --src {}; echo \"exit=$?\"; sleep 60",
        src.path().display()
    );
    tmux.start(150, 40, &second);
    let screen = tmux.wait_for(Tmux::screen, "exit the shell to remove it");
    assert!(
        screen.contains("running `unpacked` first, with `look` run again"),
        "{screen}"
    );
    assert!(
        screen.contains("tanto: its last command was: sh -c ls"),
        "{screen}"
    );
    std::thread::sleep(Duration::from_millis(500));
    tmux.run(&[
        "send-keys",
        "-t",
        "live",
        "echo marker-$((6*7)) $LOOKING $(pwd) $(ls /in | tr '\\n' ' ') $(cat /note.txt) $(test -e /own.txt && echo own || echo no-own); exit",
        "Enter",
    ]);
    let screen = tmux.wait_for(Tmux::screen, "exit=");
    assert!(
        screen.contains(
            "tanto: /own.txt is not set up here: bytes the step wrote, which are not recorded"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("tanto: its secret variables (TOKEN) are not set here"),
        "{screen}"
    );
    assert!(
        screen.contains("marker-42 yes /in data.csv notes.txt NOTED no-own"),
        "the inputs came from the cache, mounted or copied where the step puts them:\n{screen}"
    );
    assert!(screen.contains("exit=0"), "{screen}");
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=tanto.step=look"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "nothing left"
    );
}
