//! A pipeline for the services test with a real client crate: a `tokio-postgres` program,
//! built on the host, copied into a step that reaches PostgreSQL as `db`.

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
