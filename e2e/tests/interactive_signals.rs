//! How a `-i` shell ends on a signal or a closed terminal, read off a real terminal (tmux):
//! the first SIGTERM closes the shell, restores the terminal, removes the step's container, its
//! service and the network, and exits 130; closing the terminal does the same cleanup. And
//! what `-i` says when a failed step has no container to open, and `shell STEP` about the
//! services it starts again.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::leftovers::{alive, assert_nothing_left, labelled, within_30s};

use support::tmux::Tmux;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A tmux server whose pane runs `command`, then says its exit code and whether the terminal
/// is back in canonical mode (`tty=icanon`, `tty=-icanon` when left raw), and waits.
fn start(command: &str) -> Tmux {
    let tmux = Tmux::new("isig", "t");
    // `exec` keeps the pid that `sh` prints: the fixture's, on its containers' pid label.
    let command = format!(
        "sh -c 'echo \"pid=$$\"; exec \"$@\"' sh {command}; echo \"exit=$?\"; \
         echo \"tty=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon)\"; sleep 60"
    );
    tmux.start(250, 60, &command);
    tmux
}

/// `BIN svc_consumer_fails -i` (a failing step that binds a service) for the pane, with the
/// store at `cache`.
fn failing_interactive(cache: &Path) -> String {
    format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} {} svc_consumer_fails -i",
        cache.display(),
        env!("CARGO_BIN_EXE_fixture")
    )
}

/// The pid of the fixture the pane runs, once the shell is open.
fn open_shell(tmux: &Tmux) -> String {
    let screen = tmux.wait_for(Tmux::history, "exit the shell to go on");
    let line = screen.lines().find(|l| l.starts_with("pid=")).unwrap();
    // Let the shell's prompt come up.
    std::thread::sleep(Duration::from_millis(800));
    line.trim_end()["pid=".len()..].to_owned()
}

#[test]
fn the_first_sigterm_closes_the_shell_restores_the_terminal_and_cleans_up() {
    let cache = tempfile::tempdir().unwrap();
    let tmux = start(&failing_interactive(cache.path()));
    let pid = open_shell(&tmux);
    assert_eq!(labelled("container", &format!("tanto.pid={pid}")), 2);
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let screen = tmux.wait_for(Tmux::history, "tty=");
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(
        screen.contains("tty=icanon"),
        "the terminal left raw:\n{screen}"
    );
    assert!(
        screen.contains("tanto: interrupted; closing the shell"),
        "{screen}"
    );
    assert!(!screen.contains("interrupted again"), "{screen}");
    assert_nothing_left(&pid);
}

#[test]
fn closing_the_terminal_ends_the_run_and_cleans_up() {
    let cache = tempfile::tempdir().unwrap();
    let tmux = start(&failing_interactive(cache.path()));
    let pid = open_shell(&tmux);
    assert!(alive(&pid));
    tmux.run(&["kill-session", "-t", "t"]);
    assert!(within_30s(|| !alive(&pid)), "tanto {pid} still runs");
    assert_nothing_left(&pid);
}

#[test]
fn a_service_that_never_became_ready_is_shown_after_a_colon_not_in_parentheses() {
    let cache = tempfile::tempdir().unwrap();
    let command = failing_interactive(cache.path()).replace("svc_consumer_fails", "svc_never");
    let tmux = start(&command);
    let screen = tmux.wait_for(Tmux::history, "tty=");
    assert!(
        screen.contains("has no container left to open a shell in; it failed:"),
        "{screen}"
    );
    assert!(screen.contains("  warming up forever"), "{screen}");
    assert!(!screen.lines().any(|l| l.trim() == ")"), "{screen}");
}

#[test]
fn shell_step_names_each_service_it_starts() {
    let cache = tempfile::tempdir().unwrap();
    let out = support::output(support::fixture(cache.path()).args([
        "svc_consumer_fails",
        "--progress",
        "plain",
    ]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let command = failing_interactive(cache.path()).replace(" -i", " shell bind_then_fail");
    let tmux = start(&command);
    tmux.wait_for(Tmux::history, "exit the shell to remove it");
    std::thread::sleep(Duration::from_millis(800));
    tmux.keys(&["exit 0", "Enter"]);
    let screen = tmux.wait_for(Tmux::history, "tty=");
    assert!(
        screen.contains(
            "tanto: service `greeter` (tanto-test/busybox:latest) is started here, a fresh one"
        ),
        "{screen}"
    );
    assert!(!screen.contains("not started here"), "{screen}");
    assert!(screen.contains("exit=0"), "{screen}");
}
