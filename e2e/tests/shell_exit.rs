//! How `shell STEP` and `-i` end, read off a real terminal (tmux): the shell's own exit code,
//! a shell the image lacks, an image that is gone, a step that started no container, a
//! signal, an upstream run that fails,
//! the reasons the steps that `-i` cancels give, and the plain progress `-i` shows.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::tmux::Tmux;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `BIN ARGS` as a command line for the pane, with the store at `cache`.
fn fixture_line(cache: &Path, args: &str) -> String {
    format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} {} {args}",
        cache.display(),
        env!("CARGO_BIN_EXE_fixture")
    )
}

/// `BIN grid ARGS` as a command line for the pane, with the store at `cache`.
fn grid(cache: &Path, args: &str) -> String {
    fixture_line(cache, &format!("grid {args}"))
}

/// A source folder with these marker files (`fail-1-serde`, `slow-2-serde`).
fn source(markers: &[&str]) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for marker in markers {
        std::fs::write(src.path().join(marker), "").unwrap();
    }
    src
}

/// Runs `grid` to the end without a terminal, so `shell` has recipes to set up again.
fn run_grid(cache: &Path, src: &Path) {
    let out = support::output(
        support::fixture(cache)
            .args(["grid", "--ns", "1,2", "--progress", "plain", "--src"])
            .arg(src),
    );
    assert!(out.status.success(), "{out:?}");
}

/// How many containers carry `label`, waiting up to 30 s for them to go.
fn left(label: &str) -> usize {
    let count = || {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={label}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    count()
}

#[test]
fn shell_exits_with_the_shells_own_code_and_130_on_sigterm() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    run_grid(cache.path(), src.path());
    let args = format!(
        "shell 'cell[1,serde]' --ns 1,2 --src {}",
        src.path().display()
    );

    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    tmux.wait_in_history("exit the shell to remove it");
    let pid = tmux.pane_pid();
    tmux.type_line("exit 3");
    let screen = tmux.wait_in_history("exit=");
    assert!(screen.contains("exit=3"), "the shell's code:\n{screen}");
    assert_eq!(left(&format!("tanto.run=shell-{pid}")), 0, "nothing left");
    drop(tmux);

    // SIGTERM ends it as it ends a run: 130, its container removed.
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    tmux.wait_in_history("exit the shell to remove it");
    let pid = tmux.pane_pid();
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let screen = tmux.wait_in_history("exit=");
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(
        screen.contains("tanto: interrupted; the shell's container is removed"),
        "{screen}"
    );
    assert!(!screen.contains("Terminated"), "{screen}");
    assert_eq!(left(&format!("tanto.run=shell-{pid}")), 0, "nothing left");
}

#[test]
fn a_shell_the_image_lacks_is_an_error_that_names_the_flag() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    run_grid(cache.path(), src.path());
    let args = format!(
        "shell 'cell[2,default]' --ns 1,2 --shell bash --src {}",
        src.path().display()
    );
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    let pid = tmux.pane_pid();
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(
            "error: `bash` cannot start in the container: its image has no `bash`; pass --shell with a shell it has, such as `--shell sh`"
        ),
        "{screen}"
    );
    assert!(
        !screen.contains("OCI runtime"),
        "the daemon's own message is not shown:\n{screen}"
    );
    assert!(screen.contains("exit=2"), "{screen}");
    assert_eq!(left(&format!("tanto.run=shell-{pid}")), 0, "nothing left");
}

#[test]
fn a_shell_whose_image_is_gone_says_so_and_exits_2_as_a_run_does() {
    let cache = tempfile::tempdir().unwrap();
    let image = format!("tanto-test/shell-gone-{}:latest", std::process::id());
    let docker = |args: &[&str]| {
        let status = Command::new("docker").args(args).status().unwrap();
        assert!(status.success(), "docker {args:?}");
    };
    docker(&["tag", "tanto-test/busybox:latest", &image]);
    let out = support::output(
        support::fixture(cache.path())
            .args(["pull", "--progress", "plain"])
            .env("TANTO_FIXTURE_PULL", &image),
    );
    docker(&["rmi", &image]);
    assert!(out.status.success(), "{out:?}");

    let line = format!(
        "env -u CI -u GITHUB_ACTIONS TERM=xterm-256color TANTO_CACHE_DIR={} TANTO_FIXTURE_PULL={image} {} pull shell from_registry",
        cache.path().display(),
        env!("CARGO_BIN_EXE_fixture")
    );
    let tmux = Tmux::reporting("shell", &line);
    let pid = tmux.pane_pid();
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(&format!(
            "error: image `{image}` is not present and could not be pulled"
        )),
        "the error names the image:\n{screen}"
    );
    assert!(screen.contains("exit=2"), "{screen}");
    assert_eq!(left(&format!("tanto.run=shell-{pid}")), 0, "nothing left");
}

#[test]
fn interactive_under_fail_fast_shows_the_tail_and_blames_the_failure_not_an_interruption() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&["fail-1-serde", "slow-2-serde"]);
    let args = format!("--ns 1,2 -i -j 8 --src {}", src.path().display());
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    let screen = tmux.wait_in_history("exit the shell to go on");
    // The header's promise is kept: the lines come before the command.
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let header = lines
        .iter()
        .position(|l| {
            l.starts_with("tanto: step `cell[1,serde]` failed: command `sh -c")
                && l.ends_with("exited with code 7; the last lines it printed:")
        })
        .unwrap_or_else(|| panic!("no header:\n{screen}"));
    assert_eq!(lines[header + 1], "failing", "{screen}");
    assert!(
        lines[header + 2].starts_with("tanto: the command was: sh -c"),
        "{screen}"
    );
    // The shell's time is the person's: the step's failure does not count it.
    let held = std::time::Duration::from_secs(5);
    std::thread::sleep(held);
    tmux.type_line("exit");
    let screen = tmux.wait_in_history("exit=");
    let failed_after = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("[cell[1,serde]] FAILED after "))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no FAILED line:\n{screen}"));
    let seconds = match failed_after.strip_suffix("ms") {
        Some(ms) => ms.parse::<f64>().map(|ms| ms / 1000.0),
        None => failed_after.trim_end_matches('s').parse::<f64>(),
    };
    assert!(
        seconds.is_ok_and(|s| s < held.as_secs_f64()),
        "the step's time holds the shell's {held:?}: FAILED after {failed_after}\n{screen}"
    );
    for said in [
        "[cell[2,serde]] stopped while running: `cell[1,serde]` failed",
        "[join_cells] skipped: cancelled: `cell[1,serde]` failed",
    ] {
        assert!(screen.contains(said), "no `{said}`:\n{screen}");
    }
    assert!(
        !screen.contains("interrupted"),
        "nothing was interrupted:\n{screen}"
    );
    assert!(screen.contains("exit=1"), "{screen}");
    // The run's id names its folder of logs, and labels its containers.
    let logs = std::fs::read_dir(cache.path().join("logs")).unwrap();
    for run in logs {
        let run = run.unwrap().file_name();
        let label = format!("tanto.run={}", run.to_string_lossy());
        assert_eq!(left(&label), 0, "nothing left");
    }
}

#[test]
fn shell_run_upstream_says_which_upstream_step_failed_and_exits_1() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&["fail-1-serde"]);
    let args = format!(
        "shell publish_results --ns 1,2 --release --run-upstream --src {}",
        src.path().display()
    );
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains("tanto: running `grid` first, with `publish_results` run again, so its shell has today's inputs"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "error: the run of `grid` that --run-upstream made failed at `cell[1,serde]` (see above): `publish_results` did not run; fix `cell[1,serde]`, or open a shell like its container with `shell 'cell[1,serde]'`"
        ),
        "{screen}"
    );
    assert!(!screen.contains("pass --run-upstream"), "{screen}");
    assert!(screen.contains("exit=1"), "{screen}");
}

#[test]
fn shell_without_a_flag_that_shapes_the_graph_says_why_it_needs_it() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    let out = support::output(
        support::fixture(cache.path())
            .args(["grid", "shell", "cell[1,serde]", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --ns is required: the steps of `grid` depend on `ns`, which has no value; `shell` needs it too, with the value the run had: it shapes the graph, so the step `cell[1,serde]` can only be found with it\n"
    );
}

#[test]
fn shell_names_an_unknown_or_ambiguous_step_before_it_asks_for_a_terminal() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    // No terminal here: the unknown step is still what is said.
    let out = support::output(
        support::fixture(cache.path())
            .args(["grid", "--ns", "1", "shell", "nope", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: there is no step `nope` in `grid`; its steps are `cell["),
        "{stderr}"
    );
    // A step fn's name stands for the steps it made, as for `--plan`: here two, so `shell`
    // asks for one.
    let out = support::output(
        support::fixture(cache.path())
            .args(["grid", "--ns", "1", "shell", "cell", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: `cell` stands for 2 steps of `grid`; name one by its label: `cell[1,default]`, `cell[1,serde]`\n"
    );
    // A step that only other values of the flags that change the graph add: they are named.
    let out = support::output(
        support::fixture(cache.path())
            .args(["grid", "--ns", "1", "shell", "publish_results", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: there is no step `publish_results` in `grid`; its steps are `cell[1,default]`, `cell[1,serde]`, `join_cells` (with the values given to --ns, --release, which change the graph; other values may add it)\n"
    );
}

#[test]
fn after_a_change_undone_run_upstream_runs_the_step_again_for_its_shell() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    run_grid(cache.path(), src.path());
    // The step runs with `edited`, then is a hit of its first run once it is gone: its
    // recorded container had `edited`, which no cache holds.
    let edited = src.path().join("edited");
    std::fs::write(&edited, "x").unwrap();
    run_grid(cache.path(), src.path());
    std::fs::remove_file(&edited).unwrap();
    run_grid(cache.path(), src.path());
    let args = format!(
        "shell 'cell[1,serde]' --ns 1,2 --src {}",
        src.path().display()
    );

    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains("pass --run-upstream to run `grid` with `cell[1,serde]` run again"),
        "{screen}"
    );
    assert!(screen.contains("exit=2"), "{screen}");
    drop(tmux);

    let upstream = format!("{args} --run-upstream");
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &upstream));
    tmux.wait_in_history("exit the shell to remove it");
    tmux.type_line("exit 4");
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains("running `grid` first, with `cell[1,serde]` run again"),
        "{screen}"
    );
    assert!(screen.contains("exit=4"), "{screen}");
}

#[test]
fn interactive_with_tty_progress_says_it_shows_plain_lines() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    let args = format!("--ns 1 -i --progress tty --src {}", src.path().display());
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(
            "tanto: `-i` shows plain progress: a live tree would draw over the shell it may open"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("tanto: running `grid` (3 steps, run "),
        "{screen}"
    );
    assert!(screen.contains("exit=0"), "{screen}");
}

#[test]
fn run_upstream_runs_first_even_after_a_run_so_the_shell_has_todays_inputs() {
    let cache = tempfile::tempdir().unwrap();
    let src = source(&[]);
    run_grid(cache.path(), src.path());
    // The step's record is there, and everything it had is in the cache: without a run, the
    // shell would have the folder as it was.
    std::fs::write(src.path().join("today.txt"), "new-today\n").unwrap();
    let args = format!(
        "shell 'cell[1,serde]' --ns 1,2 --run-upstream --src {}",
        src.path().display()
    );
    let tmux = Tmux::reporting("shell", &grid(cache.path(), &args));
    tmux.wait_in_history("exit the shell to remove it");
    tmux.type_line("cat /src/today.txt; exit 5");
    let screen = tmux.wait_in_history("exit=");
    assert!(
        screen.contains(
            "tanto: running `grid` first, with `cell[1,serde]` run again, so its shell has today's inputs"
        ),
        "{screen}"
    );
    assert!(screen.lines().any(|l| l.trim() == "new-today"), "{screen}");
    assert!(screen.contains("exit=5"), "{screen}");
}

#[test]
fn a_step_that_started_no_container_says_so_without_offering_to_run_it_again() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("no-container-{}", std::process::id());
    // `layer` copies a file onto busybox and snapshots it: no container.
    let out = support::output(support::fixture(cache.path()).args([
        "layered",
        "--msg",
        &msg,
        "--progress",
        "plain",
    ]));
    let line = fixture_line(cache.path(), &format!("layered --msg {msg} shell layer"));
    let screen = out
        .status
        .success()
        .then(|| Tmux::reporting("none", &line).wait_in_history("exit="));
    let images = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("label=org.example.msg={msg}"),
        ])
        .output()
        .unwrap();
    for id in String::from_utf8_lossy(&images.stdout).lines() {
        Command::new("docker")
            .args(["rmi", "-f", id])
            .output()
            .unwrap();
    }
    let screen = screen.unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        screen.contains(
            "error: `layer` started no container when it last ran: it did its work without one (through the daemon, as a push does, or in its own code), so there is no container to open a shell like\n"
        ),
        "{screen}"
    );
    assert!(!screen.contains("--run-upstream"), "{screen}");
    assert!(screen.contains("exit=2"), "{screen}");
}

#[test]
fn run_upstream_without_a_flag_its_run_needs_is_refused_before_anything() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("never-used");
    let line = fixture_line(&cache, "pushed shell publish --run-upstream");
    let screen = Tmux::reporting("flags", &line).wait_in_history("exit=");
    assert!(
        screen.contains(
            "error: --run-upstream runs `pushed` first, which needs --reference and --password too\n"
        ),
        "{screen}"
    );
    assert!(!screen.contains("running `pushed` first"), "{screen}");
    assert!(screen.contains("exit=2"), "{screen}");
    assert!(!cache.exists(), "a store was made");
}
