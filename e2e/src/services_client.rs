//! Pipelines for the services tests with real client crates: a `tokio-postgres` program and
//! a `redis` one, built on the host, each copied into a step that reaches its server by the
//! name it is bound under.

use std::time::Duration;

use tanto::prelude::*;

use crate::services::postgres;

/// Runs the client program `client` (built for the image's libc: the PostgreSQL image is
/// Debian's) against the `db` service, and returns what it printed.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_rust(ctx: &Ctx, client: File) -> Result<String> {
    let out = ctx
        .container()
        .with_service("db", &postgres())
        .with_file("/usr/local/bin/pg-client", &client)
        .with_env("PGHOST", "db")
        .exec(["pg-client"])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// A round trip through a real PostgreSQL with the client program `--client`.
#[pipeline]
pub fn pg_client(client: File) -> String {
    pg_rust(client)
}

/// The Redis image that `cargo xtask images` builds offline.
const REDIS: &str = "tanto-test/redis:7";

/// Runs the client program `client` against a Redis service bound as `cache`, and returns
/// what it printed.
#[step(image = "tanto-test/redis:7")]
pub(crate) async fn redis_rust(ctx: &Ctx, client: File) -> Result<String> {
    let redis = Service::new(REDIS)
        .with_port(6379)
        .with_timeout(Duration::from_secs(30));
    let out = ctx
        .container()
        .with_service("cache", &redis)
        .with_file("/usr/local/bin/redis-client", &client)
        .with_env("REDIS_HOST", "cache")
        .exec(["redis-client"])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// A round trip through a real Redis with the client program `--client`.
#[pipeline]
pub fn redis_client(client: File) -> String {
    redis_rust(client)
}
