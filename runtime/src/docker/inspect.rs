//! A container's inspection (`GET /containers/{id}/json`) read as plain JSON, not through
//! bollard's typed model, whose state enum knows Docker's states only: Podman reports a
//! container whose process has ended, before its cleanup, as `stopped`, which bollard cannot
//! read, so its typed inspect fails on Podman exactly when a container exits. bollard sends
//! no request of our choosing, so this one goes over a connection of its own, like the
//! ping's, and its failures are dressed as bollard's so they are told apart the same way (a
//! 404 is a gone container; a failed connection a lost daemon).

use std::collections::HashMap;

use bollard::errors::Error as BollardError;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::docker::DockerBackend;
use crate::docker::ping::Address;

/// The most of an answer that is read: an inspection is a few kilobytes.
const MAX_ANSWER: usize = 16 << 20;

/// A container as the daemon's inspection describes it.
#[derive(Debug, Clone)]
pub(super) struct Inspected(Value);

impl Inspected {
    /// The image it was created from, by id.
    pub(super) fn image(&self) -> &str {
        self.0["Image"].as_str().unwrap_or_default()
    }

    /// The labels it was created with.
    pub(super) fn labels(&self) -> HashMap<String, String> {
        (self.0["Config"]["Labels"].as_object().into_iter().flatten())
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    }

    /// Whether its process runs (paused and restarting count as running, as Docker says).
    pub(super) fn running(&self) -> bool {
        self.0["State"]["Running"].as_bool().unwrap_or(false)
    }

    /// Its process's exit code, when the daemon names one.
    pub(super) fn exit_code(&self) -> Option<i64> {
        self.0["State"]["ExitCode"].as_i64()
    }

    /// Its address on `network`, when it has one.
    pub(super) fn ip(&self, network: &str) -> Option<String> {
        let ip = self.0["NetworkSettings"]["Networks"][network]["IPAddress"].as_str()?;
        (!ip.is_empty()).then(|| ip.to_owned())
    }
}

impl DockerBackend {
    /// Inspects container `id`. Fails as bollard would: `DockerResponseServerError` with the
    /// daemon's status and message when it refuses (404: no such container), `IOError` when
    /// the connection fails, `RequestTimeoutError` past the request timeout.
    pub(super) async fn inspect(&self, id: &str) -> Result<Inspected, BollardError> {
        let value = self
            .get_json(&format!("/containers/{}/json", escape(id)))
            .await?;
        Ok(Inspected(value))
    }

    /// The JSON answer to `GET path` (with its query, escaped) of the daemon's API, at the
    /// API version agreed with it. Fails as [`inspect`](Self::inspect) does.
    pub(super) async fn get_json(&self, path: &str) -> Result<Value, BollardError> {
        let path = format!("/v{}{path}", self.docker.client_version());
        let asked = async {
            match self.address() {
                Address::Unix(socket) => {
                    get(tokio::net::UnixStream::connect(socket).await?, &path).await
                }
                Address::Tcp(host) => get(tokio::net::TcpStream::connect(host).await?, &path).await,
            }
        };
        let (status, body) = tokio::time::timeout(super::REQUEST_TIMEOUT, asked)
            .await
            .map_err(|_| BollardError::RequestTimeoutError)??;
        if !(200..300).contains(&status) {
            let said = serde_json::from_slice::<Value>(&body).ok();
            let message = match said.as_ref().and_then(|v| v["message"].as_str()) {
                Some(message) => message.to_owned(),
                None => String::from_utf8_lossy(&body).into_owned(),
            };
            return Err(BollardError::DockerResponseServerError {
                status_code: status,
                message,
            });
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// Where the daemon listens, as [`connect_to`](DockerBackend::connect_to) read it.
    fn address(&self) -> Address<'_> {
        match &self.socket {
            Some(path) => Address::Unix(path),
            None => {
                let host = (self.endpoint.strip_prefix("tcp://"))
                    .or_else(|| self.endpoint.strip_prefix("http://"))
                    .unwrap_or(&self.endpoint);
                Address::Tcp(host.split('/').next().unwrap_or(host))
            }
        }
    }
}

/// `text` as one segment of a path or the value of a query parameter: letters, digits and
/// `_.-` stay (all a container's id or name may hold), the rest is escaped.
pub(super) fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `GET path` over HTTP/1.0 and returns the answer's status and body, read as far as
/// its length (or its last chunk) says, or to the end of the connection when it says neither:
/// a proxy in front of the daemon may keep the connection open after the answer.
async fn get(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    path: &str,
) -> std::io::Result<(u16, Vec<u8>)> {
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::with_capacity(16 << 10);
    let mut buf = vec![0; 16 << 10];
    loop {
        if answer.len() > MAX_ANSWER {
            return Err(std::io::Error::other(format!(
                "the daemon's answer to GET {path} is over {MAX_ANSWER} bytes"
            )));
        }
        if let Some((status, body, true)) = parse(&answer) {
            return Ok((status, body));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let (status, body, _) = parse(&answer).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the daemon's answer to GET {path} is not HTTP"),
        )
    })?;
    Ok((status, body))
}

/// The status and body of the HTTP answer `answer` (a chunked body joined), and whether the
/// answer says where it ends (a length or chunks), so nothing more is to come; `None` while
/// the head, or a body whose end it says, is not all there.
fn parse(answer: &[u8]) -> Option<(u16, Vec<u8>, bool)> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut body = &answer[end + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let (mut chunked, mut framed) = (false, false);
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            body = body.get(..value.parse().ok()?)?;
            framed = true;
        }
    }
    if !chunked {
        return Some((status, body.to_vec(), framed));
    }
    let mut joined = Vec::with_capacity(body.len());
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        body = &body[line + 2..];
        if size == 0 {
            return Some((status, joined, true));
        }
        joined.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_whole_or_chunked() {
        let plain =
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(plain), Some((200, b"{}".to_vec(), true)));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5\r\n\":1}\n\r\n0\r\n\r\n";
        assert_eq!(parse(chunked), Some((404, b"{\"a\":1}\n".to_vec(), true)));
        assert_eq!(parse(b"HTTP/1.0 200 OK\r\n"), None);
        // Not all there yet: more is read.
        assert_eq!(parse(&plain[..plain.len() - 1]), None);
        assert_eq!(parse(&chunked[..chunked.len() - 5]), None);
        // No length: the body is what came before the connection closed.
        let unframed = b"HTTP/1.0 200 OK\r\n\r\n[1]";
        assert_eq!(parse(unframed), Some((200, b"[1]".to_vec(), false)));
    }

    #[test]
    fn podmans_stopped_state_is_read() {
        let inspected = Inspected(serde_json::json!({
            "Image": "sha256:ab",
            "Config": { "Labels": { "tanto.run": "r" } },
            "State": { "Status": "stopped", "Running": false, "ExitCode": 7 },
            "NetworkSettings": { "Networks": { "n": { "IPAddress": "10.0.0.2" } } },
        }));
        assert!(!inspected.running());
        assert_eq!(inspected.exit_code(), Some(7));
        assert_eq!(inspected.image(), "sha256:ab");
        assert_eq!(inspected.labels()["tanto.run"], "r");
        assert_eq!(inspected.ip("n").as_deref(), Some("10.0.0.2"));
        assert_eq!(inspected.ip("other"), None);
    }

    #[test]
    fn an_id_is_one_path_segment() {
        assert_eq!(escape("abc_1.x-2"), "abc_1.x-2");
        assert_eq!(escape("a/../b"), "a%2F..%2Fb");
    }
}
