//! Every step attribute at once, read back from the step's metadata.
use std::time::Duration;

use tanto::__private::Step as _;
use tanto::prelude::*;

/// Builds the workspace.
///
/// This paragraph is not part of the step's summary.
#[step(
    image = "rust:1.95-slim",
    cache("/usr/local/cargo/registry" = "cargo-registry"),
    cache("/src/target" = "target"),
    env(CARGO_TERM_COLOR = "never", "RUST_LOG" = "debug"),
    workdir = "/src",
    user = "1000",
    timeout = "1h30m",
    version = "2",
    side_effect,
    name = "build-release",
    network = false,
    memory = "2g",
    cpus = "1.5",
    docker_socket
)]
pub async fn build(ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let _ = (ctx, profile);
    Ok(src)
}

fn main() {
    let info = build::INFO;
    assert_eq!(info.name, "build-release");
    assert_eq!(info.path, concat!(module_path!(), "::build"));
    assert_eq!(info.doc, "Builds the workspace.");
    // The fn's own tokens, in canonical text, without its docs.
    assert!(info.tokens.starts_with("ipub iasync ifn ibuild ("));
    assert!(!info.tokens.contains("paragraph"));
    assert_eq!(info.output, "Dir");
    assert_eq!(info.params.len(), 2);
    assert!(info.params[0].is_dir && !info.params[0].is_file);
    assert_eq!((info.params[1].name, info.params[1].ty), ("profile", "String"));

    let s = info.settings;
    assert_eq!(s.image, Some("rust:1.95-slim"));
    assert_eq!(
        s.caches,
        &[("/usr/local/cargo/registry", "cargo-registry"), ("/src/target", "target")]
    );
    assert_eq!(s.env, &[("CARGO_TERM_COLOR", "never"), ("RUST_LOG", "debug")]);
    assert_eq!(s.workdir, Some("/src"));
    assert_eq!(s.user, Some("1000"));
    assert_eq!(s.timeout, Some(Duration::from_secs(90 * 60)));
    assert_eq!(s.version, Some("2"));
    assert!(s.side_effect);
    assert!(!s.network);
    assert_eq!(s.memory, Some(2 << 30));
    assert_eq!(s.millicpus, Some(1500));
    assert!(s.docker_socket);
}
