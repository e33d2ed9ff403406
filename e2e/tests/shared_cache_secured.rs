//! The shared cache over TLS with a bearer token, against a real BuildGrid that requires both:
//! refused without the token, unknown without the test authority, shared with both, and the
//! token never printed; and its settings given without a server.

mod support;

use std::path::Path;

use support::buildgrid::BuildGrid;
use support::remote_cache::{count, fixture, ok, sources, warnings};
use support::{of_kind, output};

#[test]
fn tls_and_a_bearer_token_from_a_secret_source() {
    let server = BuildGrid::start_secured("ci");
    let (url, ca, token) = (server.url(), server.ca(), server.token());
    let src = sources();
    let secured = |cache: &Path, extra: &[&str], ca: Option<&Path>| {
        let mut cmd = fixture(cache);
        cmd.env("TANTO_REMOTE_CACHE", &url)
            .env("TANTO_REMOTE_INSTANCE", "ci")
            .env("BG_TOKEN", &token)
            .env_remove("TANTO_REMOTE_TOKEN")
            .args(["shared_dir", "--progress", "json", "--src"])
            .arg(src.path())
            .args(extra);
        if let Some(ca) = ca {
            cmd.env("TANTO_REMOTE_CA", ca);
        }
        output(&mut cmd)
    };
    let store = || tempfile::tempdir().expect("a temporary folder");

    // No token: refused, one warning, nothing written.
    let (_, stderr) = ok(&secured(store().path(), &["--remote-upload"], Some(&ca)));
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("refused the credentials"), "{stderr}");
    assert_eq!(server.blob_count(), 0);

    // The system's authorities alone do not know the test one: one warning.
    let (_, stderr) = ok(&secured(
        store().path(),
        &["--remote-token", "env:BG_TOKEN"],
        None,
    ));
    assert!(warnings(&stderr)[0].contains("certificate"), "{stderr}");

    // Token and authority: run A writes, run B (token from a file) is fully cached.
    let out = secured(
        store().path(),
        &["--remote-token", "env:BG_TOKEN", "--remote-upload"],
        Some(&ca),
    );
    let (_, stderr) = ok(&out);
    assert_eq!(count(&stderr, "result"), 1, "{stderr}");
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), format!("{token}\n")).expect("write the token");
    let from_file = format!("file:{}", token_file.path().display());
    let out = secured(store().path(), &["--remote-token", &from_file], Some(&ca));
    let (ev, stderr) = ok(&out);
    assert_eq!(of_kind(&ev, "step_cached").len(), 1, "{stderr}");
    assert_eq!(count(&stderr, "hit"), 1, "{stderr}");
    for text in [&stderr, &String::from_utf8_lossy(&out.stdout).into_owned()] {
        assert!(!text.contains(&token), "the token was printed");
    }
}

#[test]
fn settings_without_a_server_are_refused_as_flags_and_said_as_variables() {
    let cache = tempfile::tempdir().unwrap();
    let src = sources();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = fixture(cache.path());
        cmd.env_remove("TANTO_REMOTE_CACHE")
            .args(["shared", "--pause", "0", "--src"])
            .arg(src.path())
            .args(extra)
            .envs(env.iter().copied());
        output(&mut cmd)
    };
    let out = run(&["--remote-upload", "--remote-token", "env:HOME"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --remote-upload and --remote-token need a shared cache: give --remote-cache URL \
         or set TANTO_REMOTE_CACHE\n"
    );
    let out = run(
        &[],
        &[("TANTO_REMOTE_UPLOAD", "1"), ("TANTO_REMOTE_CA", "/none")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.starts_with(
            "warning: TANTO_REMOTE_UPLOAD, TANTO_REMOTE_CA set, but TANTO_REMOTE_CACHE is not (nor \
             --remote-cache): nothing is shared this run\n"
        ),
        "{stderr}"
    );
    let out = run(
        &["--remote-cache", "grpc://127.0.0.1:1"],
        &[("TANTO_REMOTE_UPLOAD", "maybe")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: TANTO_REMOTE_UPLOAD `maybe` is neither on (1, true, yes, on) nor off (0, false, \
         no, off); set it to 1 for a run that writes to the shared cache, or unset it\n"
    );
    let out = run(
        &["--remote-cache", "grpc://127.0.0.1:1"],
        &[("TANTO_REMOTE_TIMEOUT", "0")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: TANTO_REMOTE_TIMEOUT `0` is not a number of seconds above 0 and below a day; \
         write e.g. 10, 10s, 0.5 or 500ms\n"
    );
}

#[test]
fn a_grpcs_url_at_a_plain_server_says_to_use_grpc() {
    let server = BuildGrid::start("");
    let url = server.url().replace("grpc://", "grpcs://");
    let cache = tempfile::tempdir().unwrap();
    let src = sources();
    let out = output(
        fixture(cache.path())
            .env("TANTO_REMOTE_CACHE", &url)
            .args(["shared", "--pause", "0", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    let (_, stderr) = ok(&out);
    let warnings = warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("answered, but not in TLS (")
            && warnings[0].contains("): if it serves plain gRPC, use grpc://"),
        "{stderr}"
    );
}

#[test]
fn an_expired_token_is_said_to_be_refused_not_missing() {
    let server = BuildGrid::start_secured("ci");
    // Signed with the server's secret, expired an hour ago.
    let made = std::process::Command::new(support::buildgrid::python())
        .args([
            "-c",
            "import sys, time, jwt; \
             print(jwt.encode({'exp': int(time.time()) - 3600, 'sub': 'tanto-test'}, \
             open(sys.argv[1]).read(), algorithm='HS256'))",
        ])
        .arg(server.ca().with_file_name("jwt.secret"))
        .output()
        .expect("run PyJWT");
    assert!(made.status.success(), "{made:?}");
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), &made.stdout).expect("write the token");
    let store = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    let out = output(
        fixture(store.path())
            .env("TANTO_REMOTE_CACHE", server.url())
            .env("TANTO_REMOTE_INSTANCE", "ci")
            .env("TANTO_REMOTE_CA", server.ca())
            .env_remove("TANTO_REMOTE_TOKEN")
            .args(["shared_dir", "--progress", "json", "--src"])
            .arg(src.path())
            .arg("--remote-token")
            .arg(format!("file:{}", token_file.path().display())),
    );
    let (_, stderr) = ok(&out);
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].contains("refused the credentials")
            && warned[0].contains("expired or wrong: renew it")
            && !warned[0].contains("set TANTO_REMOTE_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn the_token_is_guarded_as_a_secret_before_anything_is_printed() {
    let cache = tempfile::tempdir().unwrap();
    let src = sources();
    let url = format!("grpc://127.0.0.1:{}", support::servers::free_port());
    let out = output(
        fixture(cache.path())
            .env("TANTO_REMOTE_CACHE", &url)
            .env("GITHUB_ACTIONS", "true")
            .env("TANTO_TEST_TOKEN", "tok5")
            .args([
                "shared",
                "--pause",
                "0",
                "--remote-token",
                "env:TANTO_TEST_TOKEN",
            ])
            .args(["--progress", "plain", "--src"])
            .arg(src.path()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The runner is told to mask it, a short one is said to be short, and no line shows it
    // (the line of the unreachable server may come first: it is masked by tanto itself).
    assert!(stderr.lines().any(|l| l == "::add-mask::tok5"), "{stderr}");
    assert!(
        (stderr.lines())
            .filter(|l| !l.starts_with("::add-mask::"))
            .all(|l| !l.contains("tok5")),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: the secret `remote-token` is shorter than 8 characters: every place its \
             text shows in what tanto prints and records is masked as `***`, ordinary text too; \
             a real secret is longer\n"
        ),
        "{stderr}"
    );
}

#[test]
fn an_instance_the_server_does_not_know_points_at_its_variable() {
    let server = BuildGrid::start("");
    let cache = tempfile::tempdir().unwrap();
    let src = sources();
    let (ev, stderr) = ok(&output(
        fixture(cache.path())
            .env("TANTO_REMOTE_CACHE", server.url())
            .env("TANTO_REMOTE_INSTANCE", "nope")
            .args(["shared", "--pause", "0", "--progress", "json", "--src"])
            .arg(src.path()),
    ));
    assert_eq!(of_kind(&ev, "step_started").len(), 3, "{stderr}");
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].contains("[nope]): check TANTO_REMOTE_INSTANCE"),
        "{stderr}"
    );
}
