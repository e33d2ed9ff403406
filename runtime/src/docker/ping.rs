//! The API version a daemon speaks, from the `Api-Version` header of its `/_ping` answer.
//!
//! bollard negotiates with `GET /version`, which Podman answers only after asking its OCI
//! runtime and conmon for their own versions: 400 ms to a second per run, where `/_ping`
//! takes one. Docker and Podman both name their API version in the header of every answer,
//! so one `/_ping` over a connection of our own is enough; a daemon that leaves the header
//! out is asked `/version` as before.

use std::time::Duration;

use bollard::ClientVersion;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The most of an answer's head that is read: a ping's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;

/// Where a daemon listens, as [`DockerBackend::connect_to`](super::DockerBackend) reads it.
pub(super) enum Address<'a> {
    /// A Unix socket, by path.
    Unix(&'a str),
    /// `host:port` over TCP.
    Tcp(&'a str),
}

/// Why a ping gave no version.
#[derive(Debug)]
pub(super) enum PingError {
    /// Nothing answered: the connection failed or closed (the cause in words).
    Unreachable(String),
    /// Something answered without a version we can read.
    NoVersion,
}

/// What a ping says of the daemon.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pinged {
    /// The API version it names.
    pub(super) version: ClientVersion,
    /// Whether it is Podman's Docker-compatible socket (it names its own `Libpod-Api-Version`).
    pub(super) podman: bool,
}

/// Pings the daemon at `address` and returns the API version it names, within `timeout`.
pub(super) async fn api_version(
    address: &Address<'_>,
    timeout: Duration,
) -> Result<Pinged, PingError> {
    let asked = async {
        match address {
            Address::Unix(path) => ask(tokio::net::UnixStream::connect(path).await?).await,
            Address::Tcp(host) => ask(tokio::net::TcpStream::connect(host).await?).await,
        }
    };
    let head = match tokio::time::timeout(timeout, asked).await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => return Err(PingError::Unreachable(e.to_string())),
        Err(_) => {
            return Err(PingError::Unreachable(format!(
                "no answer within {}s",
                timeout.as_secs()
            )));
        }
    };
    parse(&head).ok_or(PingError::NoVersion)
}

/// Sends `GET /_ping` and returns the head of the answer (or as much of it as came).
async fn ask(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> std::io::Result<Vec<u8>> {
    // HTTP/1.0: the daemon closes the connection after its answer.
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    if head.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(head)
}

/// The version named by the `Api-Version` header of a successful answer's `head`, and
/// whether a `Libpod-Api-Version` header says Podman answered; `None` for another status, a
/// missing header or a value that is not `MAJOR.MINOR`.
fn parse(head: &[u8]) -> Option<Pinged> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    if !status.starts_with("HTTP/1.") || status.split(' ').nth(1) != Some("200") {
        return None;
    }
    let headers: Vec<(&str, &str)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let header = |wanted: &str| {
        (headers.iter())
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| *value)
    };
    let (major, minor) = header("api-version")?.split_once('.')?;
    Some(Pinged {
        version: ClientVersion {
            major_version: major.parse().ok()?,
            minor_version: minor.parse().ok()?,
        },
        podman: header("libpod-api-version").is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(head: &str) -> Option<(usize, usize)> {
        parse(head.as_bytes()).map(|p| (p.version.major_version, p.version.minor_version))
    }

    #[test]
    fn the_version_is_read_from_the_header_of_an_ok_answer() {
        let docker = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10\r\n\r\nOK";
        assert_eq!(version(docker), Some((1, 41)));
        let podman = "HTTP/1.1 200 OK\r\napi-version:1.41 \r\nLibpod-Api-Version: 4.3.1\r\n\r\n";
        assert_eq!(version(podman), Some((1, 41)));
        assert_eq!(parse(podman.as_bytes()).map(|p| p.podman), Some(true));
        assert_eq!(parse(docker.as_bytes()).map(|p| p.podman), Some(false));
    }

    #[test]
    fn anything_else_gives_no_version() {
        assert_eq!(
            version("HTTP/1.1 500 Oops\r\nApi-Version: 1.41\r\n\r\n"),
            None
        );
        assert_eq!(
            version("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nApi-Version: 1.41"),
            None
        );
        assert_eq!(
            version("HTTP/1.1 200 OK\r\nApi-Version: latest\r\n\r\n"),
            None
        );
        assert_eq!(version("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(version(""), None);
    }

    #[tokio::test]
    async fn a_socket_that_answers_nothing_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || drop(listener.accept()));
        let path = path.display().to_string();
        let got = api_version(&Address::Unix(&path), Duration::from_secs(2)).await;
        assert!(matches!(got, Err(PingError::Unreachable(_))), "{got:?}");
    }
}
