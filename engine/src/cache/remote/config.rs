//! What configures the shared cache and what it reports, whether or not tanto is built with
//! it (the `remote-cache` feature): its settings from the flags and the environment, a run's
//! figures, and the logs a step shares.

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::store::ActionResult;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// How long one small call (a lookup, a batch) may take before the server counts as slow,
/// unless `TANTO_REMOTE_TIMEOUT` says otherwise.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the remote cache is and how to talk to it: `--remote-cache`, `TANTO_REMOTE_CACHE`
/// and the variables beside it.
#[derive(Clone)]
pub struct RemoteConfig {
    /// `grpc://host:port` or `grpcs://host:port` (TLS), as given.
    pub url: String,
    /// Whether a flag asked for the shared cache (`--remote-cache`, `--remote-upload`, `--remote-token`), not the environment alone.
    pub by_flag: bool,
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
    /// The key of the pipeline's index on the server (the results of its last run that
    /// wrote there, read in one call), chosen by the run; none to neither read nor write one.
    pub index: Option<Digest>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("by_flag", &self.by_flag)
            .field("instance", &self.instance)
            .field("upload", &self.upload)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("index", &self.index)
            .finish()
    }
}

impl RemoteConfig {
    /// The shared cache's variables set in the environment besides `TANTO_REMOTE_CACHE`
    /// (`TANTO_REMOTE_UPLOAD`, …), for the warning that they do nothing without it.
    pub fn settings_without_url() -> Vec<&'static str> {
        [
            "TANTO_REMOTE_UPLOAD",
            "TANTO_REMOTE_TOKEN",
            "TANTO_REMOTE_CA",
            "TANTO_REMOTE_INSTANCE",
            "TANTO_REMOTE_TIMEOUT",
        ]
        .into_iter()
        .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        .collect()
    }

    /// The configuration of a run: `url` from `--remote-cache` or else `TANTO_REMOTE_CACHE`
    /// (none: no remote cache), `upload` from `--remote-upload` or `TANTO_REMOTE_UPLOAD`.
    pub fn from_env(url: Option<String>, upload: bool) -> Result<Option<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let by_flag = url.is_some();
        let Some(url) = url.or_else(|| var("TANTO_REMOTE_CACHE")) else {
            return Ok(None);
        };
        let timeout = match var("TANTO_REMOTE_TIMEOUT") {
            None => CALL_TIMEOUT,
            Some(text) => parse_timeout(&text).ok_or_else(|| {
                Error::Usage(format!(
                    "TANTO_REMOTE_TIMEOUT `{text}` is not a number of seconds above 0 and below a day; write e.g. 10, 10s, 0.5 or 500ms"
                ))
            })?,
        };
        let upload = match var("TANTO_REMOTE_UPLOAD") {
            _ if upload => true,
            None => false,
            Some(text) => parse_switch(&text).ok_or_else(|| {
                Error::Usage(format!(
                    "TANTO_REMOTE_UPLOAD `{text}` is neither on (1, true, yes, on) nor off (0, false, no, off); set it to 1 for a run that writes to the shared cache, or unset it"
                ))
            })?,
        };
        Ok(Some(Self {
            url,
            by_flag,
            instance: var("TANTO_REMOTE_INSTANCE").unwrap_or_default(),
            upload,
            token: var("TANTO_REMOTE_TOKEN"),
            ca_file: var("TANTO_REMOTE_CA").map(PathBuf::from),
            timeout,
            index: None,
        }))
    }
}

/// What the run did with the remote cache, for the summary line and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemoteStats {
    /// Steps answered by the server.
    pub hits: u64,
    /// Blobs fetched from the server (output files, and the trees of output folders).
    pub blobs_fetched: u64,
    /// Their bytes.
    pub bytes_fetched: u64,
    /// Blobs sent to the server.
    pub blobs_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Results written to the server's action cache.
    pub results_sent: u64,
    /// Of the hits, those read from the pipeline's index rather than asked for one by one.
    pub from_index: u64,
    /// The results in the pipeline's index this run wrote; none when it wrote none.
    pub indexed: u64,
    /// Results this run was to share and did not: the server failed or went away.
    pub not_shared: u64,
}

/// What a step wrote on its stdout and stderr, redacted: the action result's
/// `stdout_digest` and `stderr_digest`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepLogs {
    /// Its standard output, line by line.
    pub stdout: Vec<u8>,
    /// Its standard error, line by line.
    pub stderr: Vec<u8>,
}

/// A timeout in seconds, `10` or `0.5`, or with a unit, `10s` or `500ms`: above 0 and below a
/// day.
fn parse_timeout(text: &str) -> Option<Duration> {
    let (number, scale) = match (text.strip_suffix("ms"), text.strip_suffix('s')) {
        (Some(ms), _) => (ms, 0.001),
        (None, Some(secs)) => (secs, 1.0),
        (None, None) => (text, 1.0),
    };
    let secs = number.trim().parse::<f64>().ok()? * scale;
    (secs > 0.0 && secs < 86_400.0).then(|| Duration::from_secs_f64(secs))
}

/// A switch's value in the environment: on or off, in any case; anything else is none.
fn parse_switch(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    #[test]
    fn a_switch_is_on_or_off_and_nothing_else() {
        for on in ["1", "true", "TRUE", "yes", "On"] {
            assert_eq!(parse_switch(on), Some(true), "{on}");
        }
        for off in ["0", "false", "False", "no", "OFF"] {
            assert_eq!(parse_switch(off), Some(false), "{off}");
        }
        for bad in ["2", "garbage", "n", "y", "enable"] {
            assert_eq!(parse_switch(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_timeout_is_seconds_with_or_without_a_unit() {
        assert_eq!(parse_timeout("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_timeout("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("250ms"), Some(Duration::from_millis(250)));
        for bad in ["0", "0s", "-1", "ten", "3m", "86400", "", "NaN"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }
}

/// What the shared cache holds for a step key.
#[derive(Debug)]
pub enum RemoteFound {
    /// A sound result whose outputs are all in the server's CAS.
    Hit(Box<ActionResult>),
    /// A result the server cannot serve, and why, in words a miss's reason ends with.
    Unusable(String),
    /// Nothing usable: no result, or a server that failed (which has said so once).
    Nothing,
}
