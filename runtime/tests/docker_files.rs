//! Folders and files in and out of a step's container: read-only mounts, private copies,
//! captured outputs.

mod docker_support;

use docker_support::{Harness, SETTINGS, docker, host_dir};
use tanto::__internal::cache::hash_dir;
use tanto::Error;

#[tokio::test]
async fn mounted_dir_is_visible_and_read_only() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = host_dir(&tmp.path().join("src"), &[("a.txt", "hello\n", false)]);
    let ctx = h.ctx("mounted", SETTINGS);
    let c = ctx.container().with_mounted_dir("/in", &src);

    let out = c.sh("cat /in/a.txt").await.expect("read the mount");
    assert_eq!(out.stdout, "hello\n");

    let write = c
        .sh("echo changed > /in/a.txt")
        .await
        .expect_err("a read-only mount refuses writes");
    let Error::CommandFailed { tail, .. } = &write else {
        panic!("expected CommandFailed, got {write:?}");
    };
    assert!(tail.contains("Read-only file system"), "{tail}");
    assert_eq!(hash_dir(src.path()).expect("hash"), src.digest());

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn writable_copy_changes_leave_source_and_store_alone() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let host = host_dir(
        &tmp.path().join("host"),
        &[("a.txt", "host\n", false), ("bin/run", "#!/bin/sh\n", true)],
    );
    // The same tree, held in the store.
    let staged = host_dir(
        &tmp.path().join("staged"),
        &[("a.txt", "host\n", false), ("bin/run", "#!/bin/sh\n", true)],
    );
    let stored = h.store().ingest_dir(staged.path()).expect("ingest");
    assert_eq!(stored.digest(), host.digest());

    let ctx = h.ctx("copies", SETTINGS);
    // And a folder another container made, as a step's output is.
    let made = ctx.container();
    made.sh("mkdir -p /o/bin && echo made > /o/a.txt && echo x > /o/bin/run && chmod 555 /o /o/bin && chmod 444 /o/a.txt")
        .await
        .expect("make a folder");
    let captured = made.dir("/o").await.expect("capture");
    let c = ctx
        .container()
        .with_dir("/host", &host)
        .with_dir("/stored", &stored)
        .with_dir("/captured", &captured)
        .with_user("1000");
    let out = c
        .sh("set -e; for d in /host /stored /captured; do echo changed > $d/a.txt; rm $d/bin/run; touch $d/new; done; cat /host/a.txt; test -x /stored/bin || echo bad")
        .await
        .expect("a non-root user may change its copies");
    assert_eq!(out.stdout, "changed\n");

    assert_eq!(hash_dir(host.path()).expect("hash"), host.digest());
    assert_eq!(hash_dir(stored.path()).expect("hash"), stored.digest());
    assert_eq!(
        std::fs::read_to_string(host.path().join("a.txt")).expect("read"),
        "host\n"
    );

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn files_and_new_files_arrive_with_their_modes() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let script_path = tmp.path().join("hello.sh");
    std::fs::write(&script_path, "#!/bin/sh\necho hello from a file\n").expect("write");
    let file = h.store().ingest_file(&script_path, true).expect("ingest");

    let ctx = h.ctx("files", SETTINGS);
    let c = ctx
        .container()
        .with_file("/usr/local/bin/hello", &file)
        .with_new_file("/etc/app/deep/config.toml", "key = 1\n");
    let out = c
        .sh("hello && cat /etc/app/deep/config.toml && stat -c %a /etc/app/deep/config.toml")
        .await
        .expect("run the copied script");
    assert_eq!(out.stdout, "hello from a file\nkey = 1\n644\n");

    // A copy declared after the container started still arrives, once.
    let later = c.with_new_file("/tmp/later", "late\n");
    let out = later.sh("cat /tmp/later").await.expect("a later copy");
    assert_eq!(out.stdout, "late\n");
    later.sh("echo again > /tmp/later").await.expect("write");
    let out = later.sh("cat /tmp/later").await.expect("not copied twice");
    assert_eq!(out.stdout, "again\n");

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn output_dir_has_the_same_digest_as_in_the_container() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = host_dir(
        &tmp.path().join("src"),
        &[
            ("a.txt", "a\n", false),
            ("sub/tool", "#!/bin/sh\n", true),
            ("sub/deeper/b.txt", "b\n", false),
        ],
    );
    let ctx = h.ctx("outputs", SETTINGS);
    let c = ctx.container().with_dir("/work", &src);

    // What went in comes out unchanged.
    let round_trip = c.dir("/work").await.expect("capture the copy");
    assert_eq!(round_trip.digest(), src.digest());
    assert!(round_trip.path().starts_with(h.store().root()));

    // A tree made in the container: the same tree made on the host has the same digest.
    c.sh("mkdir -p /out/sub/empty && echo a > /out/a && printf b > /out/sub/b && chmod 755 /out/sub/b && ln -s a /out/link")
        .await
        .expect("make a tree");
    let out = c.dir("/out").await.expect("capture /out");
    let expected_root = tmp.path().join("expected");
    let expected = host_dir(&expected_root, &[("a", "a\n", false), ("sub/b", "b", true)]);
    std::fs::create_dir(expected_root.join("sub/empty")).expect("mkdir");
    std::os::unix::fs::symlink("a", expected_root.join("link")).expect("symlink");
    let expected_digest = hash_dir(expected.path()).expect("hash");
    assert_eq!(out.digest(), expected_digest);
    assert_eq!(hash_dir(out.path()).expect("hash"), out.digest());

    let file = c.file("/out/sub/b").await.expect("capture a file");
    assert!(file.is_executable());
    assert_eq!(file.read_to_string().expect("read"), "b");

    let missing = c.dir("/nope").await.expect_err("no such path");
    assert!(
        matches!(&missing, Error::MissingPath { step, path } if step == "outputs" && path == "/nope"),
        "{missing:?}"
    );
    let not_a_file = c.file("/out").await.expect_err("a folder is not a file");
    assert!(matches!(not_a_file, Error::Usage(_)), "{not_a_file:?}");

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn host_ca_bundle_can_be_copied_in() {
    let host_bundle = "/etc/ssl/certs/ca-certificates.crt";
    let size = std::fs::metadata(host_bundle)
        .expect("this machine has a CA bundle")
        .len();
    let h = Harness::new().await;
    let ctx = h.ctx("ca", SETTINGS);
    let out = ctx
        .container()
        .with_host_ca_bundle()
        .sh("echo $SSL_CERT_FILE $CARGO_HTTP_CAINFO; wc -c < $SSL_CERT_FILE")
        .await
        .expect("read the bundle");
    assert_eq!(out.stdout, format!("{host_bundle} {host_bundle}\n{size}\n"));
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn remote_daemons_get_mounted_dirs_by_upload() {
    let h = Harness::with_backend(docker().await.with_local(false)).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = host_dir(&tmp.path().join("src"), &[("a.txt", "uploaded\n", false)]);
    let ctx = h.ctx("remote", SETTINGS);
    let c = ctx.container().with_mounted_dir("/in", &src);
    let out = c
        .sh("cat /in/a.txt; grep -c ' /in ' /proc/mounts || true")
        .await
        .expect("read the upload");
    assert_eq!(out.stdout, "uploaded\n0\n", "not a bind mount");

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn copy_throughput() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("big");
    let chunk = "x".repeat(32 * 1024);
    let names: Vec<String> = (0..1000).map(|i| format!("d{}/f{i}.txt", i % 20)).collect();
    let files: Vec<(&str, &str, bool)> = names
        .iter()
        .map(|n| (n.as_str(), chunk.as_str(), false))
        .collect();
    let src = host_dir(&root, &files);
    let ctx = h.ctx("throughput", SETTINGS);
    let c = ctx.container().with_dir("/big", &src);
    let started = std::time::Instant::now();
    c.sh("true").await.expect("start with the copy");
    let upload = started.elapsed();
    let started = std::time::Instant::now();
    let out = c.dir("/big").await.expect("capture");
    let capture = started.elapsed();
    assert_eq!(out.digest(), src.digest());
    eprintln!(
        "throughput: 1000 files, 32 MiB: start + upload {upload:?}, capture + ingest {capture:?}"
    );
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

/// A source folder with what a `Dir` input leaves out by default: `.git`, an ignored build
/// folder and an ignored file.
fn project(root: &std::path::Path) {
    let files = [
        (".gitignore", "target/\n*.env\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        ("src/secret.env", "TOKEN=1\n"),
        ("docs/guide.md", "# Guide\n"),
        ("target/debug/app", "binary\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
    ];
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

/// Every path under `/in`, sorted, as the container lists them.
const LIST: &str = "cd /in && find . | sort";

/// The files under `/in` that have content, sorted.
const WITH_CONTENT: &str = "cd /in && find . -type f ! -empty | sort";

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The paths a step may see of `project()` with the default filter, and with `docs` excluded.
const COVERED: &str = ". ./.gitignore ./docs ./docs/guide.md ./src ./src/lib.rs";
const NARROWED: &str = ". ./.gitignore ./src ./src/lib.rs";

fn filters() -> [(tanto::DirSelect, &'static str); 2] {
    use tanto::DirSelect;
    [
        (DirSelect::DEFAULT, COVERED),
        (
            DirSelect {
                exclude: &["docs"],
                ..DirSelect::DEFAULT
            },
            NARROWED,
        ),
    ]
}

#[tokio::test]
async fn containers_see_exactly_what_the_digest_covers() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("project");
    project(&root);
    let before = walk(&root);
    for (filter, covered) in filters() {
        let src = h.input_dir(&root, filter).await;
        let ctx = h.ctx("view", SETTINGS);

        // The folder and the store share a file system: a linked view, exact.
        let mounted = ctx.container().with_mounted_dir("/in", &src);
        let out = mounted.sh(LIST).await.expect("list the mount");
        assert_eq!(words(&out.stdout), covered);
        let out = mounted
            .sh("cat /in/src/lib.rs; touch /in/src/x 2>/dev/null || echo refused")
            .await
            .expect("read the view");
        assert_eq!(out.stdout, "pub fn f() {}\nrefused\n");

        // The copy holds exactly the covered entries.
        let copied = ctx.container().with_dir("/copy", &src);
        let out = copied
            .sh("cd /copy && find . | sort")
            .await
            .expect("list the copy");
        assert_eq!(words(&out.stdout), covered);
        ctx.close().await.expect("close");
    }
    // One linked view per selection, kept for the run and removed with it; the host folder is
    // untouched.
    assert_eq!(
        h.run.store.staged().len(),
        2,
        "a linked view for each selection, for the run"
    );
    h.run.remove_run().await.expect("end the run");
    let staging = h.run.store.staged();
    assert!(staging.is_empty(), "{staging:?}");
    assert_eq!(walk(&root), before);
    h.assert_clean().await;
}

/// Every path under `root`, relative, sorted.
fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("list") {
            let path = entry.expect("entry").path();
            out.push(
                path.strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn with_masks_left_out_entries_are_empty_and_read_only() {
    // Masks are also what a run falls back to where hard links cannot reach the store.
    let h = Harness::masking().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("project");
    project(&root);
    for (filter, covered) in filters() {
        let src = h.input_dir(&root, filter).await;
        let ctx = h.ctx("masked", SETTINGS);
        let mounted = ctx.container().with_mounted_dir("/in", &src);
        // What is left out is masked, an empty folder or an empty file.
        let out = mounted.sh(WITH_CONTENT).await.expect("list the mount");
        let files: Vec<&str> = covered
            .split(' ')
            .filter(|p| root.join(p).is_file())
            .collect();
        assert_eq!(words(&out.stdout), files.join(" "));
        let out = mounted
            .sh("cat /in/src/secret.env; ls -A /in/target /in/.git; touch /in/target/x 2>/dev/null || echo refused")
            .await
            .expect("read the masks");
        assert_eq!(words(&out.stdout), "/in/.git: /in/target: refused");
        ctx.close().await.expect("close");
    }
    h.assert_clean().await;
}

#[tokio::test]
async fn a_folder_with_many_left_out_entries_or_a_left_out_link_is_uploaded_without_them() {
    use tanto::DirSelect;

    let h = Harness::masking().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let many = tmp.path().join("many");
    project(&many);
    for i in 0..150 {
        std::fs::write(many.join(format!("src/key{i}.env")), "SECRET\n").expect("write");
    }
    let link = tmp.path().join("link");
    project(&link);
    std::os::unix::fs::symlink("/etc", link.join("result")).expect("symlink");
    // 150 ignored files in `src`: more than masks are used for; a symlink cannot be masked.
    for (root, exclude) in [(many, &[][..]), (link, &["result"][..])] {
        let filter = DirSelect {
            exclude,
            ..DirSelect::DEFAULT
        };
        let src = h.input_dir(&root, filter).await;
        let ctx = h.ctx("upload", SETTINGS);
        let out = ctx
            .container()
            .with_mounted_dir("/in", &src)
            .sh(format!("{LIST}; grep -c ' /in ' /proc/mounts || true"))
            .await
            .expect("list");
        assert_eq!(
            words(&out.stdout),
            ". ./.gitignore ./docs ./docs/guide.md ./src ./src/lib.rs 0",
            "uploaded without what is left out, not bind mounted"
        );
        ctx.close().await.expect("close");
    }
    h.assert_clean().await;
}
