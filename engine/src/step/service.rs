//! Services: a database or a server beside a step. A [`Service`] is a value describing a
//! container; the run starts one for each binding, on the run's own network, and removes it
//! when the step ends (a [`Service::shared`] one is shared between the steps that bind it, and
//! removed after the last).

mod pool;
mod ready;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use pool::{ServiceLease, ServicePool};

/// How long a service may take to become ready unless it says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A container that runs beside a step, such as a database for integration tests.
///
/// A `Service` is a plain value: creating one starts nothing. A step binds it with
/// [`Container::with_service`](crate::Container::with_service), and the step's container then
/// reaches it by that name. It is started, on a network of the run's own, before the step's
/// first command, and only once it is ready. Each binding gets a container of its own, removed
/// when the step ends, so what a step sees in it depends only on the step; a service marked
/// [`shared`](Self::shared) is one container for every step of the run that binds it while it
/// is up.
///
/// It is `Serialize` and `Deserialize`, so a step can return one and a pipeline can pass it to
/// other steps like any value; its part of their keys is its definition (image reference,
/// command, env, ports, readiness check), never its address.
///
/// ```no_run
/// # use tanto::prelude::*;
/// use std::time::Duration;
/// use tanto::Service;
///
/// #[step(image = "tanto-test/postgres:15")]
/// async fn query(ctx: &Ctx) -> Result<String> {
///     let db = Service::new("tanto-test/postgres:15")
///         .with_port(5432)
///         .ready_when_exec(["pg_isready", "-h", "127.0.0.1"])
///         .with_timeout(Duration::from_secs(30));
///     let c = ctx.container().with_service("db", &db);
///     Ok(c.exec(["psql", "-h", "db", "-U", "postgres", "-c", "select 1"]).await?.stdout)
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    image: String,
    command: Vec<String>,
    env: Vec<(String, String)>,
    ports: Vec<u16>,
    ready: Option<Ready>,
    timeout_ms: u64,
    /// Left out when false, so a service that is not shared keeps the serde form (and the
    /// keys) it had before sharing was a choice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
}

/// When a service counts as ready for the steps that bind it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ready {
    /// A TCP port of the service accepts connections.
    Port(u16),
    /// A command run inside the service's container exits with 0.
    Exec(Vec<String>),
    /// The service's output (stdout or stderr) holds a line containing this text.
    Log(String),
}

impl Service {
    /// A service running `image` with its own command and environment, ready as soon as it
    /// runs, given 60 s to become ready.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            command: Vec::new(),
            env: Vec::new(),
            ports: Vec::new(),
            ready: None,
            timeout_ms: DEFAULT_TIMEOUT.as_millis() as u64,
            shared: false,
        }
    }

    /// Shares one container of this service between the steps of a run that bind it (the
    /// same definition and image id) while it is up, instead of one per binding: it starts
    /// once, for the first of them, and is removed when the last ends.
    ///
    /// The trade-off: the steps see each other's writes (a table one creates is there for
    /// the other, two that create the same one collide), so a step's result can depend on
    /// what ran beside it, and with it on `-j` and timing, while its cache key cannot say
    /// so. Share a service only between steps that read it, or that each write where the
    /// others do not (a database or a key prefix of their own).
    ///
    /// ```
    /// use tanto::Service;
    ///
    /// let cache = Service::new("tanto-test/redis:7").with_port(6379).shared();
    /// assert!(cache.is_shared());
    /// assert!(!Service::new("tanto-test/redis:7").is_shared());
    /// ```
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Whether the steps that bind it share one container (see [`shared`](Self::shared)).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Runs `argv` instead of the image's command.
    pub fn with_command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a variable to the service's environment.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Declares a port the service listens on; with no other check, it is ready when the
    /// first declared port accepts connections.
    pub fn with_port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Ready when TCP `port` accepts connections.
    pub fn ready_when_port(mut self, port: u16) -> Self {
        self.ready = Some(Ready::Port(port));
        self
    }

    /// Ready when `argv`, run inside the service's container, exits with 0.
    pub fn ready_when_exec<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ready = Some(Ready::Exec(argv.into_iter().map(Into::into).collect()));
        self
    }

    /// Ready when the service writes a line containing `text`.
    pub fn ready_when_log(mut self, text: impl Into<String>) -> Self {
        self.ready = Some(Ready::Log(text.into()));
        self
    }

    /// How long the service may take to become ready before the step fails.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The image reference.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The readiness check: the one set, else the first declared port, else none.
    pub fn ready(&self) -> Option<Ready> {
        self.ready
            .clone()
            .or_else(|| self.ports.first().map(|&p| Ready::Port(p)))
    }

    /// How long the service may take to become ready.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The definition digest with the image resolved to `image_id`: what identifies an
    /// instance in a run, in hex.
    pub(crate) fn digest(&self, image_id: &str) -> String {
        let definition = serde_json::to_vec(&(self, image_id)).unwrap_or_default();
        blake3::hash(&definition).to_hex().to_string()
    }
}

/// The service a step input holds, when its parameter is written as a `Service`: the runner
/// keys it by its image's id as well as by its value. A value that is not one is `None`.
pub(crate) fn service_input(ty: &str, artifact: &crate::artifact::Artifact) -> Option<Service> {
    let ty: String = ty.split_whitespace().collect();
    let named = ty == "Service" || ty.ends_with("::Service");
    match artifact {
        crate::artifact::Artifact::Value(value) if named => {
            serde_json::from_value(value.clone()).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_port_is_the_default_check() {
        let s = Service::new("img").with_port(5432).with_port(80);
        assert_eq!(s.ready(), Some(Ready::Port(5432)));
        assert_eq!(
            s.clone().ready_when_log("up").ready(),
            Some(Ready::Log("up".into()))
        );
        assert_eq!(Service::new("img").ready(), None);
        assert_eq!(Service::new("img").timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn the_digest_covers_the_definition_and_the_image_id() {
        let s = Service::new("img").with_env("A", "1").with_port(1);
        assert_eq!(s.digest("sha256:a"), s.clone().digest("sha256:a"));
        assert_ne!(s.digest("sha256:a"), s.digest("sha256:b"));
        assert_ne!(
            s.digest("sha256:a"),
            s.clone().with_env("B", "2").digest("sha256:a")
        );
        assert_ne!(
            s.digest("sha256:a"),
            s.clone().with_command(["x"]).digest("sha256:a")
        );
        assert_ne!(
            s.digest("sha256:a"),
            s.clone().with_port(2).digest("sha256:a")
        );
    }

    #[test]
    fn sharing_is_in_the_digest_and_an_unshared_service_keeps_its_serde_form() {
        let s = Service::new("img").with_port(1);
        assert!(
            !serde_json::to_string(&s)
                .unwrap_or_default()
                .contains("shared")
        );
        assert_ne!(s.digest("sha256:a"), s.clone().shared().digest("sha256:a"));
        let json = serde_json::to_string(&s.clone().shared()).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Service>(&json).ok(),
            Some(s.shared())
        );
    }

    #[test]
    fn a_service_is_a_serde_value() {
        let s = Service::new("img").ready_when_exec(["true"]);
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Service>(&json).ok(), Some(s));
    }
}
