//! A step called directly with a standalone context, as a unit test calls it: an image that is
//! not on this machine runs as the image an alias maps it to, as in a run, and without the
//! alias the failure a test prints (its `Debug`) is the message that says what to do. A
//! published step (`cargo_steps::clippy`) says what its workspace lacks.

use tanto::prelude::*;

/// An image no test machine has, and no registry it reaches serves.
const ABSENT: &str = "tanto-e2e/absent:1";

/// Says hello from the step's image.
#[step(image = ABSENT, network = false)]
async fn greet(ctx: &Ctx) -> Result<String> {
    let out = ctx.container().sh("echo hello").await?;
    Ok(out.stdout.trim().to_owned())
}

#[tokio::test]
async fn an_alias_runs_a_step_whose_image_is_not_here() {
    let ctx = Ctx::standalone_with_aliases::<greet>([(ABSENT, "tanto-test/busybox:latest")])
        .await
        .expect("a standalone context");
    let said = greet(&ctx).await;
    ctx.close().await.expect("close");
    assert_eq!(said.expect("the step ran"), "hello");
}

#[tokio::test]
async fn without_it_the_failure_prints_its_message() {
    let ctx = Ctx::standalone::<greet>()
        .await
        .expect("a standalone context");
    let failed = greet(&ctx).await.expect_err("the image is not here");
    ctx.close().await.expect("close");
    let printed = format!("{failed:?}");
    assert_eq!(printed, failed.to_string());
    assert!(
        printed.starts_with(&format!(
            "image `{ABSENT}` is not present and could not be pulled: "
        )),
        "{printed}"
    );
}

#[tokio::test]
async fn a_workspace_without_its_lock_file_is_told_why_cargo_steps_fail() {
    let ctx = Ctx::standalone_with_aliases::<cargo_steps::clippy>([(
        cargo_steps::IMAGE,
        "tanto-test/rust:1.95",
    )])
    .await
    .expect("a standalone context");
    let folder = tempfile::tempdir().expect("a folder");
    std::fs::write(
        folder.path().join("Cargo.toml"),
        "[package]\nname = \"nolock\"\nversion = \"0.1.0\"\n",
    )
    .expect("a manifest");
    std::fs::write(folder.path().join(".gitignore"), "Cargo.lock\n").expect("an ignore file");
    std::fs::write(folder.path().join("Cargo.lock"), "version = 4\n").expect("a lock file");
    let src = ctx.host_dir(folder.path()).expect("the folder binds");
    let failed = cargo_steps::clippy(&ctx, src)
        .await
        .expect_err("no lock file");
    ctx.close().await.expect("close");
    assert!(
        failed.to_string().ends_with(
            "the last lines it printed:\ncargo-steps: the workspace has no Cargo.lock, and cargo runs with --locked: commit one (a .gitignore that lists it leaves it out of the Dir; #[dir(gitignore = false)] or removing it from .gitignore takes it in)"
        ),
        "{failed}"
    );
}

/// The `tanto-standalone-*` folders in `tmp`.
fn private_stores(tmp: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(tmp)
        .expect("the temporary folder lists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tanto-standalone-"))
        .collect();
    names.sort();
    names
}

/// Starts a process holding a standalone context, with `tmp` as its temporary folder, and
/// waits until it has made it.
fn hold(tmp: &std::path::Path) -> std::process::Child {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_standalone_hold"))
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the holder starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("its stdout is piped");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the holder says it is ready");
    assert_eq!(line, "ready\n");
    child
}

#[test]
fn the_store_a_killed_test_left_is_reaped_by_the_next_context() {
    let tmp = tempfile::tempdir().unwrap();
    let mut killed = hold(tmp.path());
    let left = private_stores(tmp.path());
    assert_eq!(left.len(), 1, "{left:?}");
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_eq!(
        private_stores(tmp.path()),
        left,
        "a killed process removes nothing"
    );

    let mut living = hold(tmp.path());
    let now = private_stores(tmp.path());
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(
        now, left,
        "the killed one's store is reaped, the new one's made"
    );
    // A living owner's store is never taken for a dead one's.
    let mut other = hold(tmp.path());
    assert_eq!(private_stores(tmp.path()).len(), 2);
    for child in [&mut living, &mut other] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
