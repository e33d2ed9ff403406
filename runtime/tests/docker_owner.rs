//! Who owns a container, and when a later run may reap it: an owner is a process of one boot
//! of one kernel, in one pid namespace, started at one instant; a pid alone can be reused,
//! and a host name can be shared by other machines and containers.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod docker_support;

use docker_support::{BUSYBOX, Harness};
use tanto::__internal::backend::{
    Backend, ContainerSpec, ExecSpec, LABEL_HOST, LABEL_PID, LABEL_RUN, LABEL_STEP, host_name,
};

/// This process's identity, read here from `/proc` independently of the code under test:
/// (boot id, pid namespace, pid, start time in clock ticks since boot).
fn me() -> (String, String, u32, u64) {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns: String = ns
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 1..];
    // Field 22 of the whole line; the fields after the command name start at field 3.
    let start = after_comm.split_whitespace().nth(22 - 3).unwrap();
    (
        boot.trim().to_owned(),
        ns,
        std::process::id(),
        start.parse().unwrap(),
    )
}

/// A pid that no process of this namespace has right now.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

async fn exists(backend: &dyn Backend, id: &str) -> bool {
    let spec = ExecSpec {
        argv: vec!["true".into()],
        env: vec![],
        workdir: None,
        user: None,
        secret_env: vec![],
    };
    backend.exec(id, &spec).await.is_ok()
}

#[tokio::test]
async fn owners_are_told_apart_by_boot_namespace_pid_and_start_time() {
    let h = Harness::new().await;
    let image = h.run.resolve_image(BUSYBOX, &|_| {}).await.unwrap();
    let (boot, ns, pid, start) = me();
    let dead = dead_pid();
    // The labels an owner puts on its containers: a host name and pid for people, and the
    // identity that reaping trusts.
    let spec = |pid: u32, owner: String| ContainerSpec {
        image: image.clone(),
        labels: vec![
            (LABEL_HOST.to_owned(), host_name().to_owned()),
            (LABEL_PID.to_owned(), pid.to_string()),
            (LABEL_RUN.to_owned(), h.run.run_id.clone()),
            (LABEL_STEP.to_owned(), "owned".to_owned()),
            ("tanto.owner".to_owned(), owner),
        ],
        mounts: vec![],
        network: false,
        memory: None,
        millicpus: None,
    };
    let backend = h.backend();
    let mine = backend
        .start(&spec(pid, format!("{boot}:{ns}:{pid}:{start}")))
        .await
        .unwrap();
    // An earlier process that had this pid: same host, same pid, another start time.
    let reused = backend
        .start(&spec(pid, format!("{boot}:{ns}:{pid}:{}", start - 1)))
        .await
        .unwrap();
    // A live process of another pid namespace (a CI container sharing the host name and the
    // daemon), whose pid means nothing here.
    let other_ns = backend
        .start(&spec(dead, format!("{boot}:1:{dead}:{start}")))
        .await
        .unwrap();
    // A process of another machine, or of an earlier boot of this one.
    let other_boot = backend
        .start(&spec(dead, format!("not-{boot}:{ns}:{dead}:{start}")))
        .await
        .unwrap();

    let reaped = backend.reap_orphans().await.unwrap();
    assert!(reaped >= 1, "reaped {reaped}");
    assert!(
        !exists(backend, &reused).await,
        "a container of an earlier process with the same pid is reaped"
    );
    assert!(
        exists(backend, &mine).await,
        "a live owner's container stays"
    );
    assert!(
        exists(backend, &other_ns).await,
        "a container owned in another pid namespace is not judged by this one's pids"
    );
    assert!(
        exists(backend, &other_boot).await,
        "a running container of another boot or machine is left to its own keep-alive"
    );
    let left = backend.remove_run(&h.run.run_id).await.unwrap();
    assert_eq!(left, 3);
    h.assert_clean().await;
}
