//! Pipelines for the services isolation tests: two steps that bind one definition each get
//! their own instance, one step binding it under two names gets two, and a shared service
//! whose starting step dies before it is ready is started again for the step still waiting.

use std::time::Duration;

use tanto::prelude::*;

use crate::services::postgres;

/// Creates a table `items` in its own `db`, puts `n` in it, waits 3 s (while the other step
/// does the same) and fails unless the table then holds `n` alone.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_own_table(ctx: &Ctx, n: u32) -> Result<String> {
    let c = ctx.container().with_service("db", &postgres());
    let psql = |sql: &str| {
        let argv = [
            "psql",
            "-h",
            "db",
            "-U",
            "postgres",
            "-qAt",
            "-v",
            "ON_ERROR_STOP=1",
        ];
        let mut argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
        argv.extend(["-c".to_owned(), sql.to_owned()]);
        argv
    };
    c.exec(psql(&format!(
        "create table items (n int); insert into items values ({n});"
    )))
    .await?;
    c.exec(["sleep", "3"]).await?;
    let out = c
        .exec(psql("select string_agg(n::text, ',') from items;"))
        .await?;
    let seen = out.stdout.trim();
    if seen != n.to_string() {
        return Err(Error::other(format!(
            "`items` holds {seen}, not only this step's {n}"
        )));
    }
    Ok(seen.to_owned())
}

/// Two steps that bind the same PostgreSQL definition at once, not shared: each creates its
/// own `items` and sees only its own row.
#[pipeline]
pub fn pg_apart() {
    pg_own_table(1);
    pg_own_table(2);
}

/// A busybox service that does nothing for 600 s.
fn idle() -> Service {
    Service::new("tanto-test/busybox:latest").with_command(["sh", "-c", "exec sleep 600"])
}

/// Binds one definition under two names and reaches both.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_two_names(ctx: &Ctx) -> Result<()> {
    let svc = idle();
    let c = ctx
        .container()
        .with_service("one", &svc)
        .with_service("two", &svc);
    c.exec(["true"]).await?;
    Ok(())
}

/// One step, one definition, two names: two instances.
#[pipeline]
pub fn svc_two_names() {
    bind_two_names();
}

/// A shared service that takes 4 s to say it is ready.
fn slow() -> Service {
    Service::new("tanto-test/busybox:latest")
        .with_command([
            "sh",
            "-c",
            "echo booting; sleep 4; echo ready-now; exec sleep 600",
        ])
        .ready_when_log("ready-now")
        .shared()
}

/// Binds the slow shared service first, and times out (2 s) before it is ready.
#[step(image = "tanto-test/busybox:latest", timeout = "2s")]
pub(crate) async fn slow_impatient(ctx: &Ctx) -> Result<()> {
    ctx.container()
        .with_service("slow", &slow())
        .exec(["true"])
        .await?;
    Ok(())
}

/// Binds the slow shared service half a second after the impatient step, and waits for it.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn slow_patient(ctx: &Ctx) -> Result<String> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = ctx
        .container()
        .with_service("slow", &slow())
        .exec(["echo", "reached"])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// The step that started a shared service times out before it is ready; the other still
/// gets one.
#[pipeline]
pub fn svc_started_by_timed_out() {
    slow_impatient();
    slow_patient();
}
