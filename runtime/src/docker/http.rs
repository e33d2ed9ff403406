//! One plain HTTP `GET` of the daemon's API over a connection of our own, beside bollard's:
//! the ping that reads the API version from a header ([`ping`](super::ping)) and the
//! inspection read as plain JSON ([`inspect`](super::inspect)) both go through it.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The most of an answer that is read: a ping's is a few hundred bytes, an inspection a few
/// kilobytes.
const MAX_ANSWER: usize = 16 << 20;

/// Where a daemon listens.
pub(super) enum Address<'a> {
    /// A Unix socket, by path.
    Unix(&'a str),
    /// `host:port` over TCP.
    Tcp(&'a str),
}

impl<'a> Address<'a> {
    /// The address of a daemon on the Unix socket `socket`, or else at the `tcp://` or
    /// `http://` `endpoint` (a path after the host is dropped); `None` for any other scheme.
    pub(super) fn of(socket: Option<&'a str>, endpoint: &'a str) -> Option<Self> {
        if let Some(path) = socket {
            return Some(Address::Unix(path));
        }
        let host =
            (endpoint.strip_prefix("tcp://")).or_else(|| endpoint.strip_prefix("http://"))?;
        Some(Address::Tcp(host.split('/').next().unwrap_or(host)))
    }
}

/// A daemon's answer.
#[derive(Debug, PartialEq)]
pub(super) struct Answer {
    /// Its status code.
    pub(super) status: u16,
    /// Its headers, by name and value, trimmed.
    headers: Vec<(String, String)>,
    /// Its body, a chunked one joined.
    pub(super) body: Vec<u8>,
}

impl Answer {
    /// The value of its header `name` (any case), when it has one.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `GET path` over HTTP/1.0 to the daemon at `address` and reads its answer as far as
/// its length (or its last chunk) says, or to the end of the connection when it says neither:
/// a proxy in front of the daemon may keep the connection open after the answer. An answer
/// that is not HTTP fails with [`std::io::ErrorKind::InvalidData`]; nothing at all, with
/// [`std::io::ErrorKind::UnexpectedEof`].
pub(super) async fn get(address: &Address<'_>, path: &str) -> std::io::Result<Answer> {
    match address {
        Address::Unix(socket) => ask(tokio::net::UnixStream::connect(socket).await?, path).await,
        Address::Tcp(host) => ask(tokio::net::TcpStream::connect(host).await?, path).await,
    }
}

/// [`get`] over an open connection.
async fn ask(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    path: &str,
) -> std::io::Result<Answer> {
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::with_capacity(4 << 10);
    let mut buf = vec![0; 16 << 10];
    loop {
        if answer.len() > MAX_ANSWER {
            return Err(std::io::Error::other(format!(
                "the daemon's answer to GET {path} is over {MAX_ANSWER} bytes"
            )));
        }
        if let Some((answer, true)) = parse(&answer) {
            return Ok(answer);
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    if answer.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let (answer, _) = parse(&answer).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the daemon's answer to GET {path} is not HTTP"),
        )
    })?;
    Ok(answer)
}

/// The HTTP answer in `answer`, and whether it says where it ends (a length or chunks), so
/// nothing more is to come; `None` while the head, or a body whose end it says, is not all
/// there, and for what is not HTTP/1.
fn parse(answer: &[u8]) -> Option<(Answer, bool)> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut body = &answer[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    if !status.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = status.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = answer
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if !chunked {
        let framed = match answer.header("content-length") {
            Some(length) => {
                body = body.get(..length.parse().ok()?)?;
                true
            }
            None => false,
        };
        answer.body = body.to_vec();
        return Some((answer, framed));
    }
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        body = &body[line + 2..];
        if size == 0 {
            return Some((answer, true));
        }
        answer.body.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The answer `text` parses to, whole.
    pub(in crate::docker) fn answer(text: &str) -> Option<Answer> {
        parse(text.as_bytes()).map(|(answer, _)| answer)
    }

    #[test]
    fn an_answer_is_read_whole_or_chunked() {
        let plain =
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let (got, framed) = parse(plain).unwrap();
        assert_eq!((got.status, &got.body[..], framed), (200, &b"{}"[..], true));
        assert_eq!(got.header("CONTENT-TYPE"), Some("application/json"));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5\r\n\":1}\n\r\n0\r\n\r\n";
        let (got, framed) = parse(chunked).unwrap();
        assert_eq!(
            (got.status, &got.body[..], framed),
            (404, &b"{\"a\":1}\n"[..], true)
        );
        assert_eq!(parse(b"HTTP/1.0 200 OK\r\n"), None);
        // Not all there yet: more is read.
        assert_eq!(parse(&plain[..plain.len() - 1]), None);
        assert_eq!(parse(&chunked[..chunked.len() - 5]), None);
        // No length: the body is what came before the connection closed.
        let (got, framed) = parse(b"HTTP/1.0 200 OK\r\n\r\n[1]").unwrap();
        assert_eq!(
            (got.status, &got.body[..], framed),
            (200, &b"[1]"[..], false)
        );
        // Not HTTP.
        assert_eq!(answer("SSH-2.0-OpenSSH\r\n\r\n"), None);
    }

    #[test]
    fn an_address_is_a_socket_or_a_tcp_host() {
        assert!(matches!(
            Address::of(Some("/run/d.sock"), "unix:///run/d.sock"),
            Some(Address::Unix("/run/d.sock"))
        ));
        assert!(matches!(
            Address::of(None, "tcp://10.0.0.1:2375/x"),
            Some(Address::Tcp("10.0.0.1:2375"))
        ));
        assert!(matches!(
            Address::of(None, "http://h:1"),
            Some(Address::Tcp("h:1"))
        ));
        assert!(Address::of(None, "ssh://h").is_none());
    }

    #[test]
    fn an_id_is_one_path_segment() {
        assert_eq!(escape("abc_1.x-2"), "abc_1.x-2");
        assert_eq!(escape("a/../b"), "a%2F..%2Fb");
    }
}
