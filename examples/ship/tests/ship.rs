//! The `ship` example end to end against the real daemon: `release --out` writes a tarball
//! that `docker load` accepts and whose image serves HTTP, and a second `release` is fully
//! cached without creating a container.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn ship(cache: &Path, args: &[&str]) -> Output {
    let service = Path::new(env!("CARGO_MANIFEST_DIR")).join("service");
    Command::new(env!("CARGO_BIN_EXE_ship"))
        .env("TANTO_CACHE_DIR", cache)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .args(["release", "--src"])
        .arg(service)
        .args(args)
        .output()
        .unwrap()
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The lines of `stdout` that are events of kind `kind`.
fn count(stdout: &[u8], kind: &str) -> usize {
    let needle = format!("\"event\":\"{kind}\"");
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// Asks the service at `port` for its page, retrying while it starts.
fn get(port: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = TcpStream::connect(format!("127.0.0.1:{port}")).and_then(|mut s| {
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            Ok(text)
        });
        match answer {
            Ok(text) if !text.is_empty() => return text,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("the service did not answer: {other:?}"),
        }
    }
}

#[test]
fn release_exports_an_image_that_serves_and_reruns_fully_cached() {
    let cache = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let first = ship(cache.path(), &["--progress", "plain", "--out", out]);
    assert!(first.status.success(), "{first:?}");
    let tar = out_dir.path().join("package.tar");
    assert!(tar.is_file(), "{first:?}");

    let second = ship(cache.path(), &["--progress", "json"]);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(count(&second.stdout, "step_cached"), 3, "{second:?}");
    assert_eq!(count(&second.stdout, "step_started"), 0, "{second:?}");

    let loaded = docker(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains("package:latest"), "{loaded}");
    let id = docker(&["image", "inspect", "package:latest", "--format", "{{.Id}}"]);
    // Removed by `rm -f` below, which waits for it: with `--rm` too, Docker 20.10 can still
    // be removing it when `rmi` asks.
    let container = docker(&["run", "-d", "-p", "127.0.0.1::8080", "package:latest"]);
    let port = docker(&["port", &container, "8080/tcp"]);
    let port = port.rsplit(':').next().unwrap().to_owned();
    let page = get(&port);
    docker(&["rm", "-f", &container]);
    let users = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("ancestor={id}"),
        "--format",
        "{{.ID}} {{.Status}} {{.Labels}}",
    ]);
    assert!(users.is_empty(), "containers still use the image: {users}");
    docker(&["rmi", "-f", "package:latest", &id]);
    assert!(
        page.contains("200 OK") && page.ends_with("hello from ship\n"),
        "{page}"
    );
}
