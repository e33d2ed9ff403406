//! Pipelines for the services tests: a real PostgreSQL beside a step, two steps sharing one
//! (shared) instance, and services that never become ready, exit early, have no image or share a name.

use std::time::Duration;

use tanto::prelude::*;

/// The PostgreSQL image that `cargo xtask images` builds offline.
pub(crate) const POSTGRES: &str = "tanto-test/postgres:15";

/// A PostgreSQL server, ready when `pg_isready` says so.
pub(crate) fn postgres() -> Service {
    Service::new(POSTGRES)
        .with_port(5432)
        .ready_when_exec(["pg_isready", "-h", "127.0.0.1", "-U", "postgres"])
        .with_timeout(Duration::from_secs(60))
}

/// Creates a table in the `db` service, inserts `rows` rows and reads them back with `psql`.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_roundtrip(ctx: &Ctx, rows: u32) -> Result<String> {
    let c = ctx.container().with_service("db", &postgres());
    let sql = format!(
        "create table items (id int primary key, name text not null);\
         insert into items select i, 'item-' || i from generate_series(1, {rows}) as i;\
         select string_agg(name, ',' order by id) from items;"
    );
    let out = c
        .exec([
            "psql",
            "-h",
            "db",
            "-U",
            "postgres",
            "-qAt",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &sql,
        ])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// A round trip through a real PostgreSQL: three rows read back, comma-separated.
#[pipeline]
pub fn pg() -> String {
    pg_roundtrip(3)
}

/// Describes the database that later steps bind: a step can return a service.
#[step(side_effect)]
pub(crate) async fn choose_db(_ctx: &Ctx) -> Result<Service> {
    Ok(postgres())
}

/// Counts the rows of a table it makes in the service it is given.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_given(ctx: &Ctx, db: Service) -> Result<String> {
    let c = ctx.container().with_service("db", &db);
    let sql = "create table t (n int); insert into t values (1), (2); select count(*) from t;";
    let out = c
        .exec(["psql", "-h", "db", "-U", "postgres", "-qAt", "-c", sql])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// A service wired from one step's output into another's input, like any value.
#[pipeline]
pub fn pg_wired() -> String {
    let db = choose_db();
    pg_given(db)
}

/// The image the key test retags between runs.
const RETAGGED: &str = "tanto-test/service-key:1";

/// Describes a service whose image the test retags.
#[step(side_effect)]
pub(crate) async fn choose_retagged(_ctx: &Ctx) -> Result<Service> {
    Ok(Service::new(RETAGGED).with_command(["sh", "-c", "exec sleep 600"]))
}

/// Binds the service it is given and runs `true`.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_given(ctx: &Ctx, svc: Service) -> Result<()> {
    ctx.container()
        .with_service("svc", &svc)
        .exec(["true"])
        .await?;
    Ok(())
}

/// A service passed as an input: its image id is part of the consumer's key.
#[pipeline]
pub fn svc_keyed() {
    let svc = choose_retagged();
    bind_given(svc);
}

/// Asks the shared `db` service who it is, then holds it for `hold` seconds.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_user(ctx: &Ctx, n: u32, hold: u32) -> Result<String> {
    let c = ctx.container().with_service("db", &postgres().shared());
    let out = c
        .exec([
            "psql",
            "-h",
            "db",
            "-U",
            "postgres",
            "-At",
            "-c",
            &format!("select {n}"),
        ])
        .await?;
    c.exec(["sleep", &hold.to_string()]).await?;
    Ok(out.stdout.trim().to_owned())
}

/// Two steps with their own keys that bind the same shared PostgreSQL at the same time.
#[pipeline]
pub fn pg_shared() {
    pg_user(1, 3);
    pg_user(2, 3);
}

/// A busybox service whose command is `script`.
fn busybox(script: &str) -> Service {
    Service::new("tanto-test/busybox:latest").with_command(["sh", "-c", script])
}

/// Binds a service (`image` `busybox` runs `script` in busybox, any other image runs as it
/// is; `shared` when the image ends with `+shared`), ready when `port` accepts connections (at
/// once when `port` is 0) within `timeout` seconds, then runs `sleep hold`.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_one(
    ctx: &Ctx,
    image: String,
    script: String,
    port: u16,
    timeout: u32,
    hold: u32,
) -> Result<()> {
    let (image, shared) = match image.strip_suffix("+shared") {
        Some(image) => (image.to_owned(), true),
        None => (image, false),
    };
    let mut service = busybox(&script).with_timeout(Duration::from_secs(timeout.into()));
    if image != "busybox" {
        service = Service::new(image);
    }
    if port > 0 {
        service = service.ready_when_port(port);
    }
    if shared {
        service = service.shared();
    }
    let c = ctx.container().with_service("svc", &service);
    c.exec(["sleep", &hold.to_string()]).await?;
    Ok(())
}

/// A service that says it is warming up and never opens its port: fails after 3 s.
#[pipeline]
pub fn svc_never() {
    bind_one(
        "busybox",
        "echo warming up forever; exec sleep 600",
        5432,
        3,
        0,
    );
}

/// Binds a service that prints one line of 100 000 bytes and whose readiness probe never
/// ends: fails at its 3 s timeout, the line cut in the error.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_probe_hangs(ctx: &Ctx) -> Result<()> {
    let service = busybox("head -c 100000 /dev/zero | tr '\\0' x; echo; exec sleep 600")
        .ready_when_exec(["sleep", "600"])
        .with_timeout(Duration::from_secs(3));
    ctx.container()
        .with_service("svc", &service)
        .sh("true")
        .await?;
    Ok(())
}

/// A service whose readiness probe hangs.
#[pipeline]
pub fn svc_probe_hangs() {
    bind_probe_hangs();
}

/// A service that exits before it is ready.
#[pipeline]
pub fn svc_exits() {
    bind_one("busybox", "echo giving up; exit 7", 5432, 30, 0);
}

/// A service whose image does not exist.
#[pipeline]
pub fn svc_missing() {
    bind_one("tanto-test/no-such-image:1", "", 0, 30, 0);
}

/// A service up for as long as its consumer sleeps: 600 s, for interrupting.
#[pipeline]
pub fn svc_hold() {
    bind_one("busybox", "exec sleep 600", 0, 30, 600);
}

/// Binds a service that greets, then fails.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_then_fail(ctx: &Ctx) -> Result<()> {
    let service = busybox("echo service says hello; exec sleep 600");
    let c = ctx.container().with_service("greeter", &service);
    c.sh("exit 4").await?;
    Ok(())
}

/// A consumer that fails once its service is up: its log shows the service's.
#[pipeline]
pub fn svc_consumer_fails() {
    bind_then_fail();
}

/// Creates a table `items` in its `db`, then fails on a column it lacks: a database test to
/// debug in `shell`.
#[step(image = "tanto-test/postgres:15")]
pub(crate) async fn pg_create_then_fail(ctx: &Ctx) -> Result<()> {
    let c = ctx
        .container()
        .with_service("db", &postgres())
        .with_env("PGHOST", "db")
        .with_env("PGUSER", "postgres");
    let psql = |sql: &str| ["psql", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql].map(str::to_owned);
    c.exec(psql("create table items (id int)")).await?;
    c.exec(psql("select name from items")).await?;
    Ok(())
}

/// A step that binds PostgreSQL and fails.
#[pipeline]
pub fn pg_fails() {
    pg_create_then_fail();
}

/// Binds a service that exits with 5 a second after it starts, and fails once it is gone.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_then_lose(ctx: &Ctx) -> Result<()> {
    let service = busybox("echo up; sleep 1; echo going; exit 5");
    let c = ctx.container().with_service("fleeting", &service);
    c.sh("sleep 4; exit 4").await?;
    Ok(())
}

/// A consumer whose service dies while it runs: its failure says the service exited.
#[pipeline]
pub fn svc_dies() {
    bind_then_lose();
}

/// Whether this process has a service container that has exited and is not removed yet.
fn own_service_exited() -> Result<bool> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=tanto.service", "--filter"])
        .arg(format!("label=tanto.pid={}", std::process::id()))
        .args(["--filter", "status=exited"])
        .output()?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "docker ps failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(!out.stdout.is_empty())
}

/// Waits until a service of this run has exited while still held, then binds a busybox
/// service that runs `script` and runs `true`.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_late(ctx: &Ctx, script: String) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !own_service_exited()? {
        if tokio::time::Instant::now() > deadline {
            return Err(Error::other("no service of this run exited within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The same shared definition as `bind_one`'s, so the two would share one instance.
    let service = busybox(&script)
        .with_timeout(Duration::from_secs(30))
        .shared();
    let c = ctx.container().with_service("svc", &service);
    c.exec(["true"]).await?;
    Ok(())
}

/// A shared service that stops after 2 s while one consumer still holds it for 20 s, and a
/// second consumer that binds it once its container has exited (and is still held, so not
/// removed): it gets a new instance.
#[pipeline]
pub fn svc_restarted() {
    bind_one("busybox+shared", "exec sleep 2", 0, 30, 20);
    bind_late("exec sleep 2");
}

/// Binds two services under one name.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_twice(ctx: &Ctx) -> Result<()> {
    let c = ctx
        .container()
        .with_service("db", &busybox("sleep 60"))
        .with_service("db", &busybox("sleep 61"));
    c.exec(["true"]).await?;
    Ok(())
}

/// Two services bound under one name: an error naming it.
#[pipeline]
pub fn svc_twice() {
    bind_twice();
}

/// A service whose image is not given.
#[pipeline]
pub fn svc_no_image() {
    bind_one("", "", 0, 30, 0);
}

/// Binds an idle busybox service under `name`.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_as(ctx: &Ctx, name: String) -> Result<()> {
    let c = ctx
        .container()
        .with_service(name, &busybox("exec sleep 600"));
    c.exec(["true"]).await?;
    Ok(())
}

/// A service bound as `localhost`, which names the step's own container.
#[pipeline]
pub fn svc_localhost() {
    bind_as("localhost");
}

/// Binds a service whose readiness probe is not in its image.
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_probe_missing(ctx: &Ctx) -> Result<()> {
    let service = busybox("exec sleep 600")
        .ready_when_exec(["pg_isready", "-h", "127.0.0.1"])
        .with_timeout(Duration::from_secs(30));
    ctx.container()
        .with_service("svc", &service)
        .exec(["true"])
        .await?;
    Ok(())
}

/// A readiness probe the image lacks: fails at once, with the probe's exit code.
#[pipeline]
pub fn svc_probe_missing() {
    bind_probe_missing();
}

/// Binds a service whose probe exits with 3 after saying why, never ready (2 s).
#[step(image = "tanto-test/busybox:latest")]
pub(crate) async fn bind_probe_fails(ctx: &Ctx) -> Result<()> {
    let service = busybox("exec sleep 600")
        .ready_when_exec(["sh", "-c", "echo no socket yet; exit 3"])
        .with_timeout(Duration::from_secs(2));
    ctx.container()
        .with_service("svc", &service)
        .exec(["true"])
        .await?;
    Ok(())
}

/// A readiness probe that keeps failing: the timeout's error shows its last exit code and
/// output.
#[pipeline]
pub fn svc_probe_fails() {
    bind_probe_fails();
}
