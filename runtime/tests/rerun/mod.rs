//! Running one test of the current test binary again in a child process, for a test that must
//! change the process environment: `set_var` in a multi-threaded test binary races with every
//! other thread reading the environment (`tempfile` reads `TMPDIR`, for one).
#![allow(dead_code, unreachable_pub)]

/// Set in the child, so the test knows it is the child and does the real work.
pub const CHILD: &str = "TANTO_TEST_RERUN_CHILD";

/// Whether this process is the child that [`in_child`] started.
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// A command that runs the test `name` of this test binary alone, as the child, with `env`.
pub fn command(name: &str, env: &[(&str, &str)]) -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .envs(env.iter().copied());
    cmd
}

/// Asserts that the child's run of test `name`, which ended with `out`, passed, and that it
/// was the one test that ran: a filter that matches nothing after a rename passes with
/// `0 passed`, which proves nothing.
pub fn assert_ran_alone(name: &str, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child test failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("test result: ok. 1 passed;"),
        "the child ran no test `{name}`, or more than it:\n{stdout}"
    );
}

/// Runs the test `name` of this test binary alone, in a child process with `env` added, and
/// asserts that it passed and was the one test that ran.
pub fn in_child(name: &str, env: &[(&str, &str)]) {
    let out = command(name, env).output().expect("run the child");
    assert_ran_alone(name, &out);
}
