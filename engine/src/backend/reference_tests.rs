use super::*;

fn run(reference: &str) -> Result<(), String> {
    check_reference(reference, ReferenceUse::Run)
}

fn push(reference: &str) -> Result<(), String> {
    check_reference(reference, ReferenceUse::Push)
}

#[test]
fn references_docker_takes_pass() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    for good in [
        "busybox",
        "tanto-test/busybox:latest",
        "tanto-test/rust:1.95",
        "127.0.0.1:5000/team/app:v1.2.3",
        "localhost/app",
        "localhost:5000/app_x__y.z---w:Tag_1",
        "registry.example.com/a/b/c",
        "[::1]:5000/app:1",
        &format!("busybox@{digest}"),
        &format!("host.io:443/app:v1@{digest}"),
    ] {
        assert_eq!(run(good), Ok(()), "{good}");
    }
    assert_eq!(push("127.0.0.1:5000/team/app:v1"), Ok(()));
    assert_eq!(push("127.0.0.1:5000/team/app"), Ok(()));
}

#[test]
fn each_fault_is_named() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "it is empty"),
        (
            "a b".into(),
            "it holds ' ': a reference has no blanks or control characters (`REGISTRY/NAME:TAG`)",
        ),
        (
            "127.0.0.1:5123/trialb/svc:".into(),
            "the tag after `:` is empty (leave out the `:` for `latest`)",
        ),
        (
            "tanto-test/BusyBox:latest".into(),
            "the repository name must be lowercase (`BusyBox`)",
        ),
        (
            "app:-x".into(),
            "the tag `-x` is not one: 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
        ),
        (format!("app:{}", "x".repeat(129)), "the tag `"),
        (
            "team//app".into(),
            "a part of the name between `/`s is empty",
        ),
        (
            "team/-app".into(),
            "`-app` is not a name: lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        ("team/a...b".into(), "`a...b` is not a name"),
        ("team/a___b".into(), "`a___b` is not a name"),
        (
            "host:abc/app".into(),
            "the port of the registry `host:abc` is not a number",
        ),
        (
            "https://127.0.0.1:5000/app:v1".into(),
            "a reference has no scheme: drop `https://` (`REGISTRY/NAME:TAG`)",
        ),
        (
            "bad_host.io/app".into(),
            "the registry `bad_host.io` is not a host name",
        ),
        (
            "[::1/app".into(),
            "the registry `[::1` opens a `[` it does not close",
        ),
        (
            "app@sha256:abc".into(),
            "the digest `sha256:abc` is not one",
        ),
        ("app@".into(), "the digest `` is not one"),
    ];
    for (reference, wanted) in &cases {
        let err = run(reference).expect_err(reference);
        assert!(err.starts_with(wanted), "{reference}: {err}");
    }
    assert_eq!(
        push(&format!("127.0.0.1:5000/app@{digest}")),
        Err("a push target takes a tag, not a digest (the push returns the digest)".to_owned())
    );
}
