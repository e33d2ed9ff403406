//! The gRPC connection to a REAPI server: where it is, how to authenticate, timeouts, and the
//! circuit breaker that turns the first failure into one warning and a local-only run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::client::Grpc;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::RemoteConfig;
use super::progress::Progress;
use super::proto::{bytestream as bs, re};
use crate::error::{Error, Result};
use crate::report::{Redactor, say};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl RemoteConfig {
    /// Checks the URL and makes the endpoint (nothing connects yet).
    fn endpoint(&self) -> Result<Endpoint> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "--remote-cache `{}`: {why}; write grpc://HOST:PORT, or grpcs://HOST:PORT for TLS",
                self.url
            ))
        };
        let (tls, rest) = if let Some(rest) = self.url.strip_prefix("grpcs://") {
            (true, rest)
        } else if let Some(rest) = self.url.strip_prefix("grpc://") {
            (false, rest)
        } else {
            return Err(bad("unknown scheme"));
        };
        if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
            return Err(bad("expected only a host and a port after the scheme"));
        }
        // An IPv6 host is in brackets: `[::1]:8980`.
        let Some((host, port)) = rest.rsplit_once(':').filter(|_| !rest.ends_with(']')) else {
            return Err(bad("no port after the host"));
        };
        if host.is_empty() {
            return Err(bad("no host before the port"));
        }
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(bad(&format!("`{port}` is not a port (1 to 65535)")));
        }
        let scheme = if tls { "https" } else { "http" };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{rest}"))
            .map_err(|e| bad(&e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(Duration::from_secs(30));
        if !tls {
            return Ok(endpoint);
        }
        let mut config = ClientTlsConfig::new().with_native_roots();
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                Error::io(
                    format!("read the CA file {} (TANTO_REMOTE_CA)", path.display()),
                    e,
                )
            })?;
            config = config.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint
            .tls_config(config)
            .map_err(|e| bad(&format!("TLS: {e}")))
    }
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub(super) struct Auth(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut request: tonic::Request<()>) -> tonic::Result<tonic::Request<()>> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

type Svc = InterceptedService<Channel, Auth>;

/// The calls tanto makes to one server, sharing one connection: REAPI's `Capabilities`,
/// `ActionCache` and `ContentAddressableStorage`, and ByteStream for large blobs.
#[derive(Clone)]
pub(super) struct Clients {
    /// For small answers (capabilities, action results): tonic's default 4 MiB limit.
    small: Grpc<Svc>,
    /// For blobs: batches and streamed chunks of up to 64 MiB.
    large: Grpc<Svc>,
}

/// What a server-streaming call answers.
pub(super) type Streaming<T> = tonic::codec::Streaming<T>;

/// One unary call: the message `request` to the method at `path`.
async fn unary<Q, A>(
    mut grpc: Grpc<Svc>,
    path: &'static str,
    request: Q,
) -> tonic::Result<tonic::Response<A>>
where
    Q: prost::Message + Send + Sync + 'static,
    A: prost::Message + Default + Send + Sync + 'static,
{
    ready(&mut grpc).await?;
    let codec = tonic_prost::ProstCodec::default();
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
}

async fn ready(grpc: &mut Grpc<Svc>) -> tonic::Result<()> {
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(format!("the connection is not ready: {e}")))
}

impl Clients {
    /// Clients for `config`'s server; connects on first use.
    pub(super) fn new(config: &RemoteConfig) -> Result<Self> {
        let channel = config.endpoint()?.connect_lazy();
        let token = match &config.token {
            Some(t) => {
                let mut value: MetadataValue<Ascii> =
                    format!("Bearer {t}").parse().map_err(|_| {
                        Error::Usage(
                            "TANTO_REMOTE_TOKEN holds characters an HTTP header cannot carry"
                                .into(),
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let small = Grpc::new(InterceptedService::new(channel, Auth(token)));
        let large = small.clone().max_decoding_message_size(64 * 1024 * 1024);
        Ok(Self { small, large })
    }

    pub(super) async fn get_capabilities(
        &self,
        request: re::GetCapabilitiesRequest,
    ) -> tonic::Result<tonic::Response<re::ServerCapabilities>> {
        let path = "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities";
        unary(self.small.clone(), path, request).await
    }

    pub(super) async fn get_action_result(
        &self,
        request: re::GetActionResultRequest,
    ) -> tonic::Result<tonic::Response<re::ActionResult>> {
        let path = "/build.bazel.remote.execution.v2.ActionCache/GetActionResult";
        unary(self.small.clone(), path, request).await
    }

    pub(super) async fn update_action_result(
        &self,
        request: re::UpdateActionResultRequest,
    ) -> tonic::Result<tonic::Response<re::ActionResult>> {
        let path = "/build.bazel.remote.execution.v2.ActionCache/UpdateActionResult";
        unary(self.small.clone(), path, request).await
    }

    pub(super) async fn find_missing_blobs(
        &self,
        request: re::FindMissingBlobsRequest,
    ) -> tonic::Result<tonic::Response<re::FindMissingBlobsResponse>> {
        let path = "/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs";
        unary(self.large.clone(), path, request).await
    }

    pub(super) async fn batch_update_blobs(
        &self,
        request: re::BatchUpdateBlobsRequest,
    ) -> tonic::Result<tonic::Response<re::BatchUpdateBlobsResponse>> {
        let path = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchUpdateBlobs";
        unary(self.large.clone(), path, request).await
    }

    pub(super) async fn batch_read_blobs(
        &self,
        request: re::BatchReadBlobsRequest,
    ) -> tonic::Result<tonic::Response<re::BatchReadBlobsResponse>> {
        let path = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs";
        unary(self.large.clone(), path, request).await
    }

    /// ByteStream's `Read`: a blob as a stream of chunks.
    pub(super) async fn read(
        &self,
        request: bs::ReadRequest,
    ) -> tonic::Result<tonic::Response<Streaming<bs::ReadResponse>>> {
        let mut grpc = self.large.clone();
        ready(&mut grpc).await?;
        let path = PathAndQuery::from_static("/google.bytestream.ByteStream/Read");
        let codec = tonic_prost::ProstCodec::default();
        grpc.server_streaming(tonic::Request::new(request), path, codec)
            .await
    }

    /// ByteStream's `Write`: a blob sent as a stream of chunks.
    pub(super) async fn write(
        &self,
        chunks: impl futures_util::Stream<Item = bs::WriteRequest> + Send + 'static,
    ) -> tonic::Result<tonic::Response<bs::WriteResponse>> {
        let mut grpc = self.large.clone();
        ready(&mut grpc).await?;
        let path = PathAndQuery::from_static("/google.bytestream.ByteStream/Write");
        let codec = tonic_prost::ProstCodec::default();
        grpc.client_streaming(tonic::Request::new(chunks), path, codec)
            .await
    }
}

/// Why a call did not give an answer.
#[derive(Debug)]
pub(super) enum Fault {
    /// The breaker is open: an earlier call failed, the remote cache is off for this run.
    Off,
    /// The server is down, slow or refusing: the breaker just opened.
    Down(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Off => f.write_str("the remote cache is off for this run after a failure"),
            Fault::Down(why) => write!(f, "the remote cache {why}"),
        }
    }
}

/// The circuit breaker of one run: closed until the first failure, then open for good.
pub(super) struct Breaker {
    open: AtomicBool,
    /// The token the calls bear, in each form a server's message may echo it in; empty when
    /// they bear none (what a refusal of the credentials then asks for).
    token: Redactor,
}

impl Breaker {
    /// A closed breaker for calls that bear `token`, or none.
    pub(super) fn new(token: Option<&str>) -> Self {
        let mut redactor = Redactor::default();
        if let Some(token) = token {
            redactor.add(token);
        }
        Self {
            open: AtomicBool::new(false),
            token: redactor,
        }
    }

    /// `status` in a few words (see [`describe`]), the token masked in what the server said.
    pub(super) fn describe(&self, status: &tonic::Status) -> String {
        describe(status, &self.token)
    }

    /// Whether calls are still made.
    pub(super) fn is_closed(&self) -> bool {
        !self.open.load(Ordering::Relaxed)
    }

    /// Opens the breaker; the first to open it prints the one warning line of the run.
    pub(super) fn trip(&self, url: &str, why: &str) {
        if !self.open.swap(true, Ordering::Relaxed) {
            say!(
                "warning: the remote cache at {url} {why}; this run goes on with the local store only"
            );
        }
    }
}

/// Runs one call under `timeout`. A `NOT_FOUND` status is an answer (`Ok(None)`); a timeout,
/// a broken connection or any other status opens the breaker.
pub(super) async fn call<T, F>(
    breaker: &Breaker,
    url: &str,
    timeout: Duration,
    fut: F,
) -> std::result::Result<Option<T>, Fault>
where
    F: std::future::Future<Output = tonic::Result<tonic::Response<T>>>,
{
    let why = format!("did not answer within {}", seconds(timeout));
    watched(breaker, url, timeout, &Progress::new(), &why, fut).await
}

/// Runs one call until `idle` passes without `progress` (which its request or its answer
/// marks as they move), then gives up saying `why`; otherwise as [`call`].
pub(super) async fn watched<T, F>(
    breaker: &Breaker,
    url: &str,
    idle: Duration,
    progress: &Progress,
    why: &str,
    fut: F,
) -> std::result::Result<Option<T>, Fault>
where
    F: std::future::Future<Output = tonic::Result<tonic::Response<T>>>,
{
    if !breaker.is_closed() {
        return Err(Fault::Off);
    }
    let why = match progress.within(idle, fut).await {
        Some(Ok(response)) => return Ok(Some(response.into_inner())),
        Some(Err(status)) if status.code() == tonic::Code::NotFound => return Ok(None),
        Some(Err(status)) => breaker.describe(&status),
        None => why.to_owned(),
    };
    breaker.trip(url, &why);
    Err(Fault::Down(why))
}

/// A timeout in words: `10 s`, `0.5 s`.
pub(super) fn seconds(timeout: Duration) -> String {
    format!("{} s", timeout.as_secs_f64())
}

/// A status in a few words, bounded: the server's message is hostile input too. A refusal of
/// the credentials asks for a token when the calls bear none (`token`), and for a new one
/// when they do.
fn describe(status: &tonic::Status, token: &Redactor) -> String {
    use tonic::Code;
    let what = match status.code() {
        Code::Unavailable => "is unreachable",
        Code::Unauthenticated if !token.is_empty() => {
            "refused the credentials (the token given is expired or wrong: renew it)"
        }
        Code::Unauthenticated => {
            "refused the credentials (none were given: set TANTO_REMOTE_TOKEN or give --remote-token)"
        }
        Code::PermissionDenied => "refused the request (permission denied)",
        Code::DeadlineExceeded => "was too slow",
        Code::Unimplemented => "does not serve this part of REAPI v2",
        _ => "failed",
    };
    // Masked before it is cut, and cut past the longest form, so no part of the token shows.
    let message: String = (status.message().chars())
        .filter(|c| !c.is_control())
        .take(160 + token.longest())
        .collect();
    let message: String = token.redact(&message).chars().take(160).collect();
    // What rustls says of an answer that is not TLS: a plain server at a `grpcs://` URL.
    if message.contains("InvalidContentType") {
        return format!(
            "answered, but not in TLS ({message}): if it serves plain gRPC, use grpc://"
        );
    }
    // A server that does not know the instance asked for (BuildGrid: "Invalid instance
    // name"), whatever code it gives; not one that merely names an instance of its own.
    if message.to_ascii_lowercase().contains("instance name") {
        return format!("{what} ({message}): check TANTO_REMOTE_INSTANCE");
    }
    if message.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({message})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_asks_for_a_new_one_and_no_token_for_one() {
        let refused = tonic::Status::unauthenticated("");
        let given = Breaker::new(Some("tok-1f2e3d4c")).describe(&refused);
        assert!(given.contains("expired or wrong: renew it"), "{given}");
        assert!(!given.contains("set TANTO_REMOTE_TOKEN"), "{given}");
        let none = Breaker::new(None).describe(&refused);
        assert!(none.contains("set TANTO_REMOTE_TOKEN"), "{none}");
    }

    #[test]
    fn an_unknown_instance_points_at_its_variable() {
        let status = tonic::Status::invalid_argument("Invalid instance name: [nope]");
        assert_eq!(
            Breaker::new(None).describe(&status),
            "failed (Invalid instance name: [nope]): check TANTO_REMOTE_INSTANCE"
        );
        // A server's own instance, named in another error, is not the variable's.
        let full = tonic::Status::internal("disk full on instance-3");
        assert_eq!(
            Breaker::new(None).describe(&full),
            "failed (disk full on instance-3)"
        );
    }

    #[test]
    fn a_server_that_echoes_the_token_never_gets_it_printed() {
        let token = "tok-1f2e3d4c5b6a";
        let breaker = Breaker::new(Some(token));
        for message in [
            format!("bad bearer {token}"),
            format!("{}bad bearer {token}", "x".repeat(150)),
            format!("{}{token}", "x".repeat(158)),
            format!(
                "bad {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, token)
            ),
        ] {
            let said = breaker.describe(&tonic::Status::unauthenticated(message.clone()));
            assert!(said.contains("renew it"), "{said}");
            assert!(!said.contains("tok-1f"), "{message} -> {said}");
            assert!(!said.contains("dG9rLTFm"), "{message} -> {said}");
        }
        let said = breaker.describe(&tonic::Status::unauthenticated(format!(
            "bad bearer {token}"
        )));
        assert!(said.ends_with("(bad bearer ***)"), "{said}");
    }

    fn endpoint(url: &str) -> std::result::Result<(), String> {
        let config = RemoteConfig {
            by_flag: true,
            url: url.into(),
            instance: String::new(),
            upload: false,
            token: None,
            ca_file: None,
            timeout: CONNECT_TIMEOUT,
            index: None,
        };
        config.endpoint().map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn a_url_is_a_scheme_a_host_and_a_port() {
        for url in [
            "grpc://127.0.0.1:8980",
            "grpcs://cache.example:443",
            "grpc://[::1]:1",
        ] {
            assert_eq!(endpoint(url), Ok(()), "{url}");
        }
        for (url, why) in [
            ("http://h:1", "unknown scheme"),
            (
                "grpc://",
                "expected only a host and a port after the scheme",
            ),
            (
                "grpc://h:1/x",
                "expected only a host and a port after the scheme",
            ),
            ("grpc://h", "no port after the host"),
            ("grpc://:80", "no host before the port"),
            ("grpc://h:", "`` is not a port (1 to 65535)"),
            ("grpc://h:0", "`0` is not a port (1 to 65535)"),
            ("grpc://h:65536", "`65536` is not a port (1 to 65535)"),
            ("grpc://[::1]", "no port after the host"),
        ] {
            assert_eq!(
                endpoint(url),
                Err(format!(
                    "--remote-cache `{url}`: {why}; write grpc://HOST:PORT, or grpcs://HOST:PORT for TLS"
                )),
            );
        }
    }
}
