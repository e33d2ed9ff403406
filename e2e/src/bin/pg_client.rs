//! A PostgreSQL client for the services tests, built on the host with `tokio-postgres` and
//! copied into a step's container: it connects to `$PGHOST` (port 5432) as `postgres`,
//! creates a table, inserts three rows with a prepared statement, reads them back and prints
//! `read back: 1=ada,2=grace,3=linus`.

use tokio_postgres::NoTls;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("PGHOST").unwrap_or_else(|_| "db".to_owned());
    let (client, connection) = tokio_postgres::Config::new()
        .host(&host)
        .port(5432)
        .user("postgres")
        .dbname("postgres")
        .connect(NoTls)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL at {host}:5432: {e}"))?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute("create table pets (id int primary key, name text not null)")
        .await?;
    let insert = client
        .prepare("insert into pets (id, name) values ($1, $2)")
        .await?;
    for (id, name) in [(1_i32, "ada"), (2, "grace"), (3, "linus")] {
        client.execute(&insert, &[&id, &name]).await?;
    }
    let rows = client
        .query("select id, name from pets order by id", &[])
        .await?;
    let read: Vec<String> = rows
        .iter()
        .map(|row| format!("{}={}", row.get::<_, i32>(0), row.get::<_, &str>(1)))
        .collect();
    println!("read back: {}", read.join(","));
    drop(client);
    connection.await??;
    Ok(())
}
