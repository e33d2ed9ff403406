//! Test steps that return a [`TestReport`]: every test's outcome, duration and, for a failure,
//! its panic message, `file:line` and output tail.
//!
//! They run `cargo nextest run` when the image has nextest, and `cargo test` otherwise. A
//! suite with a failing test fails the step (a failure is never cached), after recording its
//! report with [`Ctx::report_tests`], so the run's summary, GitHub annotations and `--junit`
//! still name each failing test.

use tanto::prelude::*;

use crate::{IMAGE, MOUNT, SETUP};

/// What a test step runs: the packages, the retries and the shard.
struct Suite<'a> {
    /// `-p PACKAGE`, or the whole workspace.
    package: Option<&'a str>,
    /// How many times a failing test runs again (nextest only): a test that passes on a retry
    /// is reported as flaky.
    retries: u32,
    /// `(i, n)`: the i-th of n shards (nextest's `--partition count:i/n`).
    shard: Option<(u32, u32)>,
    /// Whether the doctests run too, after the suite (nextest does not run them): a failing
    /// doctest fails the step with its command's output.
    doctests: bool,
}

/// The nextest profile the steps use, from a tool config file: a JUnit file in the container,
/// the whole suite run even after a failure. The project's own nextest config still applies.
/// Its store (run state) stays in the container, out of the workspace and of the target
/// volume, which shards running at once share.
const NEXTEST_CONFIG: &str = "[store]\ndir = \"/tmp/tanto-tests/store\"\n\
     [profile.tanto]\nfail-fast = false\n\
     [profile.tanto.junit]\npath = \"/tmp/tanto-tests/junit.xml\"\n\
     store-success-output = false\nstore-failure-output = true\n";

/// Runs `suite` in the step's container and reads its report; a failing test fails the step
/// after its report is recorded.
async fn run_suite(ctx: &Ctx, src: &Dir, suite: Suite<'_>) -> Result<TestReport> {
    let c = ctx
        .container()
        .with_mounted_dir(MOUNT, src)
        .with_new_file("/tmp/tanto-tests/nextest.toml", NEXTEST_CONFIG);
    // The package is an argument of the shell, never part of its script.
    let package = suite.package.unwrap_or_default();
    let select = if suite.package.is_some() {
        "-p \"$0\""
    } else {
        "--workspace"
    };
    let nextest = c
        .allow_exit_codes([0, 1])
        .sh(&format!(
            "{SETUP} && if cargo nextest --version >/dev/null 2>&1; then exit 0; else exit 1; fi"
        ))
        .await?
        .success();
    let report = if nextest {
        let partition = suite
            .shard
            .map(|(i, n)| format!(" --partition count:{i}/{n}"))
            .unwrap_or_default();
        let common = format!(
            "--locked {select} --profile tanto --tool-config-file tanto:/tmp/tanto-tests/nextest.toml{partition}"
        );
        c.exec([
            "sh",
            "-c",
            &format!("{SETUP} && cargo nextest run {common} --no-run"),
            package,
        ])
        .await?;
        // Listed before the run, so that the run is the last command, which `-i` shows.
        let ignored = c
            .exec([
                "sh",
                "-c",
                &format!(
                    "{SETUP} && cargo nextest list {common} --run-ignored only --message-format oneline"
                ),
                package,
            ])
            .await?
            .stdout;
        // 100: tests failed, which the report says.
        let run = c
            .allow_exit_codes([0, 100])
            .exec([
                "sh",
                "-c",
                &format!(
                    "{SETUP} && cargo nextest run {common} --no-fail-fast --retries {}",
                    suite.retries
                ),
                package,
            ])
            .await?;
        // Captured, not printed: the step's log shows nextest's own output.
        let junit = c
            .file("/tmp/tanto-tests/junit.xml")
            .await?
            .read_to_string()?;
        (
            run.exit_code,
            TestReport::from_junit(&junit)?.with_ignored(&ignored),
        )
    } else {
        c.exec([
            "sh",
            "-c",
            &format!("{SETUP} && cargo test --locked {select} --no-run"),
            package,
        ])
        .await?;
        // libtest's JSON is unstable: RUSTC_BOOTSTRAP lets the stable test harness print it.
        let script = format!(
            "{SETUP} && RUSTC_BOOTSTRAP=1 cargo test --locked {select} --no-fail-fast -- -Z unstable-options --format json --report-time 2>&1"
        );
        // 101: tests failed, which the report says.
        let run = c
            .allow_exit_codes([0, 101])
            .exec(["sh", "-c", &script, package])
            .await?;
        (run.exit_code, TestReport::from_libtest_json(&run.stdout))
    };
    let (code, report) = report;
    if code != 0 && report.success() {
        // A test binary that crashed, say: the report cannot tell, the log can.
        return Err(Error::Other(format!(
            "the tests exited with code {code} but no test is reported failed; see the step's log"
        )));
    }
    if !report.success() {
        ctx.report_tests(&report);
        return Err(report.failure_error());
    }
    if suite.doctests && nextest {
        let doc = c
            .exec([
                "sh",
                "-c",
                &format!("{SETUP} && cargo test --locked {select} --doc"),
                package,
            ])
            .await;
        if let Err(e) = doc {
            ctx.report_tests(&report);
            return Err(e);
        }
    }
    Ok(report)
}

/// Runs the workspace's tests and returns a [`TestReport`]: with `cargo nextest run` when the
/// image has nextest (a failing test runs up to `retries` more times, and one that then
/// passes is reported as flaky), with `cargo test` otherwise. Doctests are not run (nextest
/// does not run them): keep [`test`](fn@crate::test) for those.
///
/// A failing test fails the step, and its report still reaches the run's summary, GitHub
/// annotations, `GITHUB_STEP_SUMMARY` and `--junit`.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    timeout = "45m"
)]
pub async fn test_report(ctx: &Ctx, src: Dir, retries: u32) -> Result<TestReport> {
    let suite = Suite {
        package: None,
        retries,
        shard: None,
        doctests: false,
    };
    run_suite(ctx, &src, suite).await
}

/// Runs shard `i` of `n` of the workspace's tests (nextest's `--partition count:i/n`, so the
/// image needs nextest) and returns its [`TestReport`]. Each shard is a step of its own,
/// cached on its own; a fan-in step merges their reports with [`TestReport::merge`].
///
/// For example, three shards merged:
///
/// ```no_run
/// use tanto::prelude::*;
///
/// #[step]
/// async fn merge(_ctx: &Ctx, shards: Vec<TestReport>) -> Result<TestReport> {
///     Ok(TestReport::merge(shards))
/// }
///
/// #[pipeline]
/// fn ci(src: Dir) -> TestReport {
///     let mut shards = Vec::new();
///     for i in 1..=3 {
///         shards.push(cargo_steps::test_shard(src, i, 3)); // test_shard[1], ..
///     }
///     merge(shards)
/// }
/// # fn main() {}
/// ```
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    timeout = "45m"
)]
pub async fn test_shard(ctx: &Ctx, src: Dir, i: u32, n: u32) -> Result<TestReport> {
    if n == 0 || i == 0 || i > n {
        return Err(Error::Usage(format!(
            "test_shard: shard {i} of {n} does not exist; shards count from 1 to n"
        )));
    }
    let suite = Suite {
        package: None,
        retries: 0,
        shard: Some((i, n)),
        doctests: false,
    };
    run_suite(ctx, &src, suite).await
}

/// Runs the tests of one package on its own, like [`test_package`](fn@crate::test_package),
/// and returns their [`TestReport`] as [`test_report`](fn@test_report) does; then its
/// doctests, which fail the step with their output when one fails.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    timeout = "45m"
)]
pub async fn test_report_package(ctx: &Ctx, src: Dir, package: String) -> Result<TestReport> {
    let suite = Suite {
        package: Some(&package),
        retries: 0,
        shard: None,
        doctests: true,
    };
    run_suite(ctx, &src, suite).await
}

/// Runs the tests of one package whose tests start containers, given the Docker daemon as
/// [`test_with_docker`](fn@crate::test_with_docker) describes, and returns their
/// [`TestReport`]; then its doctests, as [`test_report_package`](fn@test_report_package)
/// does.
#[step(
    image = IMAGE,
    cache("/cargo-home" = "cargo-home"),
    cache("/target" = "cargo-target"),
    env(CI = "true"),
    docker_socket,
    timeout = "60m"
)]
pub async fn test_report_package_with_docker(
    ctx: &Ctx,
    src: Dir,
    package: String,
) -> Result<TestReport> {
    let suite = Suite {
        package: Some(&package),
        retries: 0,
        shard: None,
        doctests: true,
    };
    run_suite(ctx, &src, suite).await
}
