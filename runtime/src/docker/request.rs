//! The Engine API's side of the Docker backend: request bodies made from our specs, image
//! references split for a pull, and the daemon's errors turned into ours.

use bollard::errors::Error as BollardError;
use bollard::exec::CreateExecOptions;
use bollard::models::{ContainerCreateBody, HostConfig, MountType};

use crate::docker::lease::KEEP_ALIVE;
use crate::engine::backend::{ContainerSpec, ExecSpec, ImageId, MountSource};
use tanto_engine::{Error, Result};

pub(super) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mounts = spec
        .mounts
        .iter()
        .map(|m| match &m.source {
            MountSource::Bind { host, read_only } => bollard::models::Mount {
                target: Some(m.target.clone()),
                source: Some(host.to_string_lossy().into_owned()),
                typ: Some(MountType::BIND),
                read_only: Some(*read_only),
                ..Default::default()
            },
            MountSource::Volume { name } => bollard::models::Mount {
                target: Some(m.target.clone()),
                source: Some(name.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(false),
                ..Default::default()
            },
            MountSource::EmptyDir => bollard::models::Mount {
                target: Some(m.target.clone()),
                typ: Some(MountType::TMPFS),
                read_only: Some(true),
                ..Default::default()
            },
            MountSource::Memory => bollard::models::Mount {
                target: Some(m.target.clone()),
                typ: Some(MountType::TMPFS),
                read_only: Some(false),
                tmpfs_options: Some(bollard::models::MountTmpfsOptions {
                    mode: Some(0o755),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
        .collect();
    let host_config = HostConfig {
        mounts: Some(mounts),
        memory: spec.memory.and_then(|m| i64::try_from(m).ok()),
        nano_cpus: spec.millicpus.map(|m| i64::from(m) * 1_000_000),
        network_mode: (!spec.network).then(|| "none".to_owned()),
        // The keep-alive ends when its owner goes; the container goes with it.
        auto_remove: Some(true),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.as_str().to_owned()),
        entrypoint: Some(vec![KEEP_ALIVE.to_owned()]),
        cmd: Some(vec![]),
        // PID 1 reads a stdin that only the owner's attached connection holds open.
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        labels: Some(spec.labels.iter().cloned().collect()),
        network_disabled: (!spec.network).then_some(true),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// The request that creates `spec` as a container whose own process (PID 1) is `command`:
/// the command's env, working directory and user as an exec would have them, the image's
/// entrypoint cleared (an exec runs its argv as given), and no `AutoRemove`, so its exit code
/// and files can be read once it has exited. Never with secret variables: the container's
/// configuration is what `docker inspect` and a commit show.
pub(super) fn command_body(spec: &ContainerSpec, command: &ExecSpec) -> ContainerCreateBody {
    debug_assert!(command.secret_env.is_empty());
    let mut body = create_body(spec);
    let env: Vec<String> = (command.env.iter())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(host) = body.host_config.as_mut() {
        host.auto_remove = Some(false);
    }
    ContainerCreateBody {
        entrypoint: Some(vec![]),
        cmd: Some(command.argv.clone()),
        env: (!env.is_empty()).then_some(env),
        working_dir: command.workdir.clone(),
        user: command.user.clone(),
        open_stdin: None,
        stdin_once: None,
        attach_stdin: None,
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..body
    }
}

/// The request that creates `spec` as a command: its output attached, and with `terminal`
/// its input too, on a terminal of its own (a shell).
pub(super) fn exec_options(spec: &ExecSpec, terminal: bool) -> CreateExecOptions<String> {
    let env = spec.daemon_env();
    CreateExecOptions {
        attach_stdin: terminal.then_some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: terminal.then_some(true),
        cmd: Some(spec.argv.clone()),
        env: (!env.is_empty()).then_some(env),
        working_dir: spec.workdir.clone(),
        user: spec.user.clone(),
        ..Default::default()
    }
}

/// Splits `name[:tag]` or `name@digest` for a pull; a reference without either gets `latest`
/// (an empty tag would pull every tag).
pub(super) fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            Some(&reference[last_slash + i + 1..]),
        ),
        None => (reference, Some("latest")),
    }
}

/// The registry a repository is pushed to and pulled from, as Docker reads its name: the first
/// part when it names a host (it holds a `.` or a `:`, or is `localhost`), else Docker Hub.
pub(super) fn registry_of(repo: &str) -> &str {
    match repo.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host,
        _ => DOCKER_HUB,
    }
}

/// The registry of a repository whose name has no host: Docker Hub, as Docker reads it.
pub(super) const DOCKER_HUB: &str = "docker.io";

pub(super) fn image_id(reference: &str, id: Option<String>) -> Result<ImageId> {
    id.map(ImageId::new)
        .ok_or_else(|| Error::Docker(format!("image {reference} has no id")))
}

pub(super) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The daemon's own words when it sent some, bollard's description otherwise.
pub(super) fn server_message(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_owned(),
        BollardError::DockerStreamError { error } => error.trim().to_owned(),
        other => other.to_string(),
    }
}

/// The error of a request to the daemon at `endpoint` that failed while tanto was trying to
/// `doing`: [`Error::DaemonLost`] when the connection itself failed (the daemon stopped or
/// restarted), else what the daemon said.
pub(super) fn docker_error(endpoint: &str, doing: &str, e: &BollardError) -> Error {
    if matches!(e, BollardError::RequestTimeoutError) {
        return Error::Docker(format!(
            "{doing}: Docker at {endpoint} did not answer within {} s; check that it is \
             running and answers (`docker info`), then run again",
            super::REQUEST_TIMEOUT.as_secs()
        ));
    }
    match connection_failure(e) {
        Some(cause) => Error::DaemonLost {
            endpoint: endpoint.to_owned(),
            doing: doing.to_owned(),
            cause,
        },
        None => Error::Docker(format!("{doing}: {}", server_message(e))),
    }
}

/// What failed, when `e` is a failure to reach the daemon rather than its answer: the
/// innermost I/O error of the chain, such as `Connection refused (os error 111)`, or the
/// HTTP client's word that the connection closed before the answer came (a daemon killed
/// while a request was in flight).
pub(super) fn connection_failure(e: &BollardError) -> Option<String> {
    use std::io::ErrorKind::{
        BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, NotConnected, NotFound,
        UnexpectedEof,
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotFound
                    | BrokenPipe
                    | UnexpectedEof
                    | NotConnected
            )
        {
            return Some(io.to_string());
        }
        // Not a user error (our own request body failing): the connection itself ended.
        if let Some(http) = error.downcast_ref::<hyper::Error>()
            && (http.is_incomplete_message() || http.is_canceled() || http.is_closed())
        {
            return Some(http.to_string());
        }
        source = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_timed_out_names_the_daemon_and_what_to_do() {
        let e = docker_error(
            "unix:///var/run/docker.sock",
            "inspect image busybox",
            &BollardError::RequestTimeoutError,
        );
        assert_eq!(
            e.to_string(),
            "docker: inspect image busybox: Docker at unix:///var/run/docker.sock did not answer \
             within 600 s; check that it is running and answers (`docker info`), then run again"
        );
    }

    #[test]
    fn references_split_into_name_and_tag() {
        assert_eq!(split_reference("busybox"), ("busybox", Some("latest")));
        assert_eq!(
            split_reference("tanto-test/rust:1.95"),
            ("tanto-test/rust", Some("1.95"))
        );
        assert_eq!(
            split_reference("localhost:5000/x/y"),
            ("localhost:5000/x/y", Some("latest"))
        );
        assert_eq!(
            split_reference("localhost:5000/y:v2"),
            ("localhost:5000/y", Some("v2"))
        );
        assert_eq!(split_reference("a@sha256:00"), ("a@sha256:00", None));
    }

    #[test]
    fn a_registry_is_named_only_by_a_host_like_first_part() {
        for (repo, registry) in [
            ("busybox", "docker.io"),
            ("trial/app", "docker.io"),
            ("library/busybox", "docker.io"),
            ("localhost/app", "localhost"),
            ("localhost:5000/x/y", "localhost:5000"),
            ("127.0.0.1:5123/trial/app", "127.0.0.1:5123"),
            ("ghcr.io/org/app", "ghcr.io"),
        ] {
            assert_eq!(registry_of(repo), registry, "{repo}");
        }
    }

    /// A daemon that accepts a request, then goes away before it answers.
    fn vanishing_daemon() -> (tempfile::TempDir, String) {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
            }
        });
        (dir, path.display().to_string())
    }

    #[tokio::test]
    async fn a_connection_that_closes_before_the_answer_is_a_lost_daemon() {
        let (_dir, path) = vanishing_daemon();
        let docker =
            bollard::Docker::connect_with_unix(&path, 5, bollard::API_DEFAULT_VERSION).unwrap();
        let e = docker.ping().await.unwrap_err();
        let endpoint = format!("unix://{path}");
        let error = docker_error(&endpoint, "start a container", &e);
        assert!(
            matches!(&error, Error::DaemonLost { endpoint: at, .. } if *at == endpoint),
            "{error:?}, from {e:?}"
        );
    }

    #[test]
    fn network_off_means_no_network() {
        let spec = ContainerSpec {
            image: ImageId::new("sha256:0"),
            labels: vec![("tanto.run".into(), "r".into())],
            mounts: vec![],
            network: false,
            memory: Some(256 << 20),
            millicpus: Some(1500),
        };
        let body = create_body(&spec);
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.memory, Some(256 << 20));
    }
}
