//! `shell STEP` for a step that binds a service, read off a real terminal (tmux): the shell
//! starts the service again on a network of its own, ready, so its name resolves in the shell
//! (`psql -h db` works), and removes the service and the network however the shell ends (its
//! `exit`, SIGTERM while the service starts or while the shell is open, a closed terminal);
//! and for a step whose service was never ready, that it has no container to set up again.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::leftovers::{alive, assert_nothing_left, labelled, within_30s};

use support::tmux::Tmux;

use std::path::Path;
use std::process::Command;

/// `BIN ARGS` for the pane, with the store at `cache`.
fn fixture_line(cache: &Path, args: &str) -> String {
    format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} {} {args}",
        cache.display(),
        env!("CARGO_BIN_EXE_fixture")
    )
}

/// `BIN pg_fails ARGS` for the pane, with the store at `cache`.
fn pg_fails(cache: &Path, args: &str) -> String {
    fixture_line(cache, &format!("pg_fails {args}"))
}

/// Runs `pg_fails` without a terminal: its step creates a table in its `db` and fails, and
/// leaves its recipe for `shell`.
fn run_failing(cache: &Path) {
    let out = support::output(support::fixture(cache).args(["pg_fails", "--progress", "plain"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("column \"name\" does not exist"), "{said}");
}

/// Waits for the open shell, checks what its header says of `db` and that the shell's own
/// container, the service and the network are up, and that `psql -h db` reaches the service
/// from the shell.
fn psql_reaches_db(tmux: &Tmux, pid: &str) {
    let screen = tmux.wait_in_history("exit the shell to remove it");
    assert!(
        screen.contains("tanto: starting its services (`db`) and waiting until they are ready"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "tanto: service `db` (tanto-test/postgres:15) is started here, a fresh one: what the step wrote to it is not in it"
        ),
        "{screen}"
    );
    assert!(!screen.contains("not started here"), "{screen}");
    let run = format!("tanto.run=shell-{pid}");
    assert_eq!(
        labelled("container", &run),
        2,
        "the shell's and the service's"
    );
    assert_eq!(labelled("network", &run), 1, "the shell's own network");
    tmux.type_line("psql -h db -U postgres -qAt -c \"select 'answer-' || 6 * 7\"");
    tmux.wait_in_history("answer-42");
}

#[test]
fn shell_starts_the_steps_service_so_its_name_resolves_and_exit_removes_it() {
    let cache = tempfile::tempdir().unwrap();
    run_failing(cache.path());
    let tmux = Tmux::reporting(
        "shellsvc",
        &pg_fails(cache.path(), "shell pg_create_then_fail"),
    );
    let pid = tmux.pane_pid();
    psql_reaches_db(&tmux, &pid);
    // The step's last command's variables (PGHOST, PGUSER) are set, so it runs again as it
    // ran; in a fresh service, where the step's table is not.
    tmux.type_line(
        "psql -qAt -c \"select 'rows-' || count(*) from pg_tables where tablename = 'items'\"",
    );
    tmux.wait_in_history("rows-0");
    tmux.type_line("exit 0");
    let screen = tmux.wait_in_history("exit=");
    assert!(screen.contains("exit=0"), "{screen}");
    // The shell says where the service's output is kept, and it is there.
    let logs = cache.path().join("logs").join(format!("shell-{pid}"));
    assert!(
        screen.contains(&format!(
            "tanto: the services' output is kept in {}",
            logs.display()
        )),
        "{screen}"
    );
    let log = std::fs::read_to_string(logs.join("service-db.log")).unwrap();
    assert!(log.contains("database system is ready"), "{log}");
    assert_nothing_left(&pid);
}

#[test]
fn shell_run_upstream_starts_the_service_and_sigterm_removes_it() {
    let cache = tempfile::tempdir().unwrap();
    let tmux = Tmux::reporting(
        "shellsvc",
        &pg_fails(cache.path(), "shell pg_create_then_fail --run-upstream"),
    );
    let pid = tmux.pane_pid();
    psql_reaches_db(&tmux, &pid);
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let screen = tmux.wait_in_history("exit=");
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(
        screen.contains("tanto: interrupted; the shell's container is removed"),
        "{screen}"
    );
    assert_nothing_left(&pid);
}

#[test]
fn sigterm_while_the_service_starts_removes_it_and_the_network() {
    let cache = tempfile::tempdir().unwrap();
    run_failing(cache.path());
    let tmux = Tmux::reporting(
        "shellsvc",
        &pg_fails(cache.path(), "shell pg_create_then_fail"),
    );
    let pid = tmux.pane_pid();
    tmux.wait_in_history("tanto: starting its services (`db`)");
    // The service's container is up, not ready yet: PostgreSQL takes a while to accept.
    let run = format!("tanto.run=shell-{pid}");
    assert!(
        within_30s(|| labelled("container", &run) == 1),
        "no service"
    );
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let screen = tmux.wait_in_history("exit=");
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(!screen.contains("exit the shell to remove it"), "{screen}");
    assert_nothing_left(&pid);
}

#[test]
fn closing_the_terminal_removes_the_shells_service_and_network() {
    let cache = tempfile::tempdir().unwrap();
    run_failing(cache.path());
    let tmux = Tmux::reporting(
        "shellsvc",
        &pg_fails(cache.path(), "shell pg_create_then_fail"),
    );
    let pid = tmux.pane_pid();
    psql_reaches_db(&tmux, &pid);
    tmux.run(&["kill-session", "-t", "t"]);
    assert!(within_30s(|| !alive(&pid)), "tanto {pid} still runs");
    assert_nothing_left(&pid);
}

#[test]
fn a_step_whose_service_was_never_ready_has_no_container_to_shell_into_and_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let out =
        support::output(support::fixture(cache.path()).args(["svc_never", "--progress", "plain"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let why = "`bind_one` failed before its container started when it last ran, so there is no record of one to set up again";

    let tmux = Tmux::reporting(
        "shellsvc",
        &fixture_line(cache.path(), "svc_never shell bind_one"),
    );
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(&format!(
            "error: {why}: pass --run-upstream to run `svc_never` with `bind_one` run again"
        )),
        "{screen}"
    );
    assert!(screen.contains("exit=2"), "{screen}");
    drop(tmux);

    // Run again, the step fails again, before its container: the shell it would offer is
    // the one that just failed.
    let tmux = Tmux::reporting(
        "shellsvc",
        &fixture_line(cache.path(), "svc_never shell bind_one --run-upstream"),
    );
    let pid = tmux.pane_pid();
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(
            "tanto: running `svc_never` first, with `bind_one` run again, so its shell has today's inputs"
        ),
        "{screen}"
    );
    assert!(screen.contains("was not ready after 3s"), "{screen}");
    assert!(
        screen.contains(&format!(
            "error: the run of `svc_never` that --run-upstream made failed at `bind_one` itself (see above): {why}; fix what its output says, then open the shell again"
        )),
        "{screen}"
    );
    assert!(!screen.contains("shell 'bind_one'"), "{screen}");
    assert!(screen.contains("exit=1"), "{screen}");
    assert_nothing_left(&pid);
}
