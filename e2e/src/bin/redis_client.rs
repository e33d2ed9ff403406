//! A Redis client for the services tests, built on the host with the `redis` crate and copied
//! into a step's container: it connects to `$REDIS_HOST` (port 6379), sets a key, increments
//! a counter twice, reads both back and prints `read back: greeting=hello counter=42`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("REDIS_HOST").unwrap_or_else(|_| "cache".to_owned());
    let client = redis::Client::open(format!("redis://{host}:6379/"))?;
    let mut con = client
        .get_connection()
        .map_err(|e| format!("cannot connect to Redis at {host}:6379: {e}"))?;
    redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query::<()>(&mut con)?;
    redis::cmd("INCRBY")
        .arg("counter")
        .arg(41)
        .query::<i64>(&mut con)?;
    let counter: i64 = redis::cmd("INCR").arg("counter").query(&mut con)?;
    let greeting: String = redis::cmd("GET").arg("greeting").query(&mut con)?;
    println!("read back: greeting={greeting} counter={counter}");
    Ok(())
}
