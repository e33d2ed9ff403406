//! The API version a daemon speaks, from the `Api-Version` header of its `/_ping` answer.
//!
//! bollard negotiates with `GET /version`, which Podman answers only after asking its OCI
//! runtime and conmon for their own versions: 400 ms to a second per run, where `/_ping`
//! takes one. Docker and Podman both name their API version in the header of every answer,
//! so one `/_ping` over a connection of our own is enough; a daemon that leaves the header
//! out is asked `/version` as before.

use std::time::Duration;

use bollard::ClientVersion;

use super::http::{self, Address, Answer};

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
    match tokio::time::timeout(timeout, http::get(address, "/_ping")).await {
        Ok(Ok(answer)) => read(&answer).ok_or(PingError::NoVersion),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => Err(PingError::NoVersion),
        Ok(Err(e)) => Err(PingError::Unreachable(e.to_string())),
        Err(_) => Err(PingError::Unreachable(format!(
            "no answer within {}s",
            timeout.as_secs()
        ))),
    }
}

/// The version named by the `Api-Version` header of a successful `answer`, and whether a
/// `Libpod-Api-Version` header says Podman answered; `None` for another status, a missing
/// header or a value that is not `MAJOR.MINOR`.
fn read(answer: &Answer) -> Option<Pinged> {
    if answer.status != 200 {
        return None;
    }
    let (major, minor) = answer.header("api-version")?.split_once('.')?;
    Some(Pinged {
        version: ClientVersion {
            major_version: major.parse().ok()?,
            minor_version: minor.parse().ok()?,
        },
        podman: answer.header("libpod-api-version").is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinged(text: &str) -> Option<Pinged> {
        read(&http::tests::answer(text)?)
    }

    fn version(text: &str) -> Option<(usize, usize)> {
        pinged(text).map(|p| (p.version.major_version, p.version.minor_version))
    }

    #[test]
    fn the_version_is_read_from_the_header_of_an_ok_answer() {
        let docker = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10\r\n\r\nOK";
        assert_eq!(version(docker), Some((1, 41)));
        let podman = "HTTP/1.1 200 OK\r\napi-version:1.41 \r\nLibpod-Api-Version: 4.3.1\r\n\r\n";
        assert_eq!(version(podman), Some((1, 41)));
        assert_eq!(pinged(podman).map(|p| p.podman), Some(true));
        assert_eq!(pinged(docker).map(|p| p.podman), Some(false));
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
