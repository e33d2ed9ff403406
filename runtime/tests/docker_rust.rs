//! A real build in `tanto-test/rust:1.95` (from `cargo xtask images`): a crate goes in as a
//! private copy, cargo builds it with a cache volume, and the binary comes out into the store.

mod docker_support;

use docker_support::{Harness, host_dir, unique};
use tanto::__internal::graph::StepSettings;

const RUST: &str = "tanto-test/rust:1.95";

#[tokio::test]
async fn cargo_builds_a_crate_and_the_binary_comes_out() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = host_dir(
        &tmp.path().join("hello"),
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
                false,
            ),
            (
                "src/main.rs",
                "fn main() { println!(\"hello from tanto\"); }\n",
                false,
            ),
        ],
    );
    let volume = unique("tanto-test-target");
    let settings = StepSettings {
        image: Some(RUST),
        network: false,
        ..StepSettings::DEFAULT
    };
    let ctx = h.ctx("cargo", settings);
    let c = ctx
        .container()
        .with_dir("/src", &src)
        .with_cache("/cache/target", &volume)
        .with_workdir("/src")
        .with_env("CARGO_TARGET_DIR", "/cache/target")
        .with_user("1000");
    let built = async {
        let version = c.exec(["cargo", "--version"]).await?;
        assert!(version.stdout.starts_with("cargo 1."), "{}", version.stdout);
        // The cache volume starts root-owned; hand it to the build user first.
        ctx.container()
            .with_cache("/cache/target", &volume)
            .exec(["chown", "1000:1000", "/cache/target"])
            .await?;
        c.exec(["cargo", "build", "--offline", "--quiet"]).await?;
        c.exec(["cp", "/cache/target/debug/hello", "/src/hello-bin"])
            .await?;
        let run = c.exec(["/src/hello-bin"]).await?;
        let bin = c.file("/src/hello-bin").await?;
        Ok::<_, tanto::Error>((run, bin))
    }
    .await;
    ctx.close().await.expect("close");
    h.backend()
        .remove_volume(&volume)
        .await
        .expect("remove the volume");
    let (run, bin) = built.expect("cargo builds the crate");
    assert_eq!(run.stdout, "hello from tanto\n");
    assert!(bin.is_executable());
    assert!(bin.read().expect("read").starts_with(b"\x7fELF"));
    h.assert_clean().await;
}
