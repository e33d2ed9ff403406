//! The gRPC connection to a REAPI server: where it is, how to authenticate, timeouts, and the
//! circuit breaker that turns the first failure into one warning and a local-only run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream::byte_stream_client::ByteStreamClient;
use re::action_cache_client::ActionCacheClient;
use re::capabilities_client::CapabilitiesClient;
use re::content_addressable_storage_client::ContentAddressableStorageClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::error::{Error, Result};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one small call (a lookup, a batch) may take before the server counts as slow,
/// unless `TANTO_REMOTE_TIMEOUT` says otherwise.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the remote cache is and how to talk to it: `--remote-cache`, `TANTO_REMOTE_CACHE`
/// and the variables beside it.
#[derive(Clone)]
pub struct RemoteConfig {
    /// `grpc://host:port` or `grpcs://host:port` (TLS), as given.
    pub url: String,
    /// The REAPI `instance_name` (`TANTO_REMOTE_INSTANCE`; empty by default).
    pub instance: String,
    /// Whether this run may write (`--remote-upload`, `TANTO_REMOTE_UPLOAD=1`).
    pub upload: bool,
    /// A bearer token sent with every call (`TANTO_REMOTE_TOKEN`); never printed.
    pub token: Option<String>,
    /// A PEM file of certificate authorities to trust besides the system's
    /// (`TANTO_REMOTE_CA`), for `grpcs://`.
    pub ca_file: Option<PathBuf>,
    /// How long one call may take before the server counts as slow (`TANTO_REMOTE_TIMEOUT`,
    /// in seconds; 10 by default).
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("instance", &self.instance)
            .field("upload", &self.upload)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RemoteConfig {
    /// The configuration of a run: `url` from `--remote-cache` or else `TANTO_REMOTE_CACHE`
    /// (none: no remote cache), `upload` from `--remote-upload` or `TANTO_REMOTE_UPLOAD`.
    pub fn from_env(url: Option<String>, upload: bool) -> Result<Option<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(url) = url.or_else(|| var("TANTO_REMOTE_CACHE")) else {
            return Ok(None);
        };
        let timeout = match var("TANTO_REMOTE_TIMEOUT") {
            None => CALL_TIMEOUT,
            Some(secs) => match secs.parse::<f64>() {
                Ok(s) if s > 0.0 && s < 86_400.0 => Duration::from_secs_f64(s),
                _ => {
                    return Err(Error::Usage(format!(
                        "TANTO_REMOTE_TIMEOUT `{secs}` is not a number of seconds; write e.g. 10 or 0.5"
                    )));
                }
            },
        };
        let upload = upload
            || var("TANTO_REMOTE_UPLOAD").is_some_and(|v| !matches!(v.as_str(), "0" | "false"));
        Ok(Some(Self {
            url,
            instance: var("TANTO_REMOTE_INSTANCE").unwrap_or_default(),
            upload,
            token: var("TANTO_REMOTE_TOKEN"),
            ca_file: var("TANTO_REMOTE_CA").map(PathBuf::from),
            timeout,
        }))
    }

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

/// The clients of one server, sharing one connection.
#[derive(Clone)]
pub(super) struct Clients {
    pub caps: CapabilitiesClient<Svc>,
    pub ac: ActionCacheClient<Svc>,
    pub cas: ContentAddressableStorageClient<Svc>,
    pub bytes: ByteStreamClient<Svc>,
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
        let auth = Auth(token);
        let limit = 64 * 1024 * 1024;
        Ok(Self {
            caps: CapabilitiesClient::with_interceptor(channel.clone(), auth.clone()),
            ac: ActionCacheClient::with_interceptor(channel.clone(), auth.clone()),
            cas: ContentAddressableStorageClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(limit),
            bytes: ByteStreamClient::with_interceptor(channel, auth)
                .max_decoding_message_size(limit),
        })
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
#[derive(Default)]
pub(super) struct Breaker {
    open: AtomicBool,
}

impl Breaker {
    /// Whether calls are still made.
    pub(super) fn is_closed(&self) -> bool {
        !self.open.load(Ordering::Relaxed)
    }

    /// Opens the breaker; the first to open it prints the one warning line of the run.
    pub(super) fn trip(&self, url: &str, why: &str) {
        if !self.open.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tanto: warning: the remote cache at {url} {why}; this run goes on with the local store only"
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
    if !breaker.is_closed() {
        return Err(Fault::Off);
    }
    let why = match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(response)) => return Ok(Some(response.into_inner())),
        Ok(Err(status)) if status.code() == tonic::Code::NotFound => return Ok(None),
        Ok(Err(status)) => describe(&status),
        Err(_) => format!("did not answer within {} s", timeout.as_secs()),
    };
    breaker.trip(url, &why);
    Err(Fault::Down(why))
}

/// A status in a few words, bounded: the server's message is hostile input too.
pub(super) fn describe(status: &tonic::Status) -> String {
    use tonic::Code;
    let what = match status.code() {
        Code::Unavailable => "is unreachable",
        Code::Unauthenticated => "refused the credentials (set TANTO_REMOTE_TOKEN)",
        Code::PermissionDenied => "refused the request (permission denied)",
        Code::DeadlineExceeded => "was too slow",
        Code::Unimplemented => "does not serve this part of REAPI v2",
        _ => "failed",
    };
    let message: String = status
        .message()
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    if message.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({message})")
    }
}
