//! `tanto-test/redis:7`: Redis 7 from Debian's `redis-server` package in a `debootstrap
//! --variant=minbase` rootfs, listening on all addresses without protected mode, nothing
//! persisted. For tests only.
//!
//! The rootfs is kept as a tarball beside the other images', so a rebuild is one import.

use super::Result;
use super::debian::{Rootfs, ServerImage};

/// The Redis image the services tests run.
pub(crate) const REDIS: &str = "tanto-test/redis:7";

/// Builds the image unless it exists with its recipe; `true` when it built it.
pub(super) fn redis(force: bool) -> Result<bool> {
    let changes = [
        "USER redis".to_owned(),
        // Test servers only: any client on the network, nothing written to disk.
        r#"CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]"#
            .to_owned(),
        "EXPOSE 6379".to_owned(),
    ];
    let image = ServerImage {
        rootfs: Rootfs {
            image: REDIS,
            arg: "redis",
            packages: "redis-server",
            strip_docs: true,
        },
        slug: "redis",
        recipe: "1",
        changes: &changes,
        check: &["redis-server", "--version"],
    };
    image.ensure(force, |_| Ok(()))
}
