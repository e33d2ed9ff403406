//! Keep-alives that end with their step or their owner, and which containers a run may reap.
//!
//! A step's container must stay up between its commands, so its PID 1 does nothing until its
//! owner lets it go. Its PID 1 is `cat` reading a standard input that only the owner holds:
//! the container is created with `OpenStdin`, `StdinOnce` and `AutoRemove`, the owner
//! attaches to its stdin before starting it (what `docker run -i` does) and keeps that
//! connection open for the container's life. Closing the connection is how every container
//! ends: the daemon closes the container's stdin, `cat` reads end-of-file and exits, the
//! kernel stops whatever else runs in the container with its PID 1 (a command still running
//! when its step failed, timed out or was cancelled), and `AutoRemove` removes the container.
//!
//! - When a step ends, its owner closes the connection itself ([`Leases::release`]) and waits
//!   until the daemon has removed the container, a bounded time, then removes it by force
//!   (`Backend::end`). A container that ends this way exits normally and is removed once,
//!   which costs the daemon far less than killing and removing a running one.
//! - When the owner goes, however it goes (a `kill -9`, a crash), the kernel closes the
//!   connection, with the same ending. No later run is needed, no timer has to expire, and
//!   nothing polls.
//!
//! The alternatives were weaker: a lease renewed by an exec every N seconds costs a request
//! per container per period and leaves a dead owner's container up for up to N seconds (or
//! kills a live one whose renewal was late); `sleep N` bounds a container's life, not its
//! owner's. The price of the attach is one open connection per container, which a TCP proxy
//! with an idle timeout could cut: on such a daemon a step's container would end early, and
//! the step fails instead of leaking. A proxy that kept the daemon's side open after the
//! owner closed its own would leave a step's container to the forced removal that follows
//! the bounded wait, or to reaping.
//!
//! Reaping is the second net, for what the keep-alive cannot cover (a container created but
//! never started, an older tanto's containers, and a step's single command run as its
//! container's own process, which has no keep-alive: `Backend::create_command`): see
//! [`orphaned`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bollard::container::AttachContainerResults;

use crate::engine::backend::{LABEL_HOST, LABEL_OWNER, LABEL_PID, LABEL_RUN};
use crate::engine::backend::{Liveness, Owner, host_name, pid_alive};

/// PID 1 of every container: reads the owner's stdin until the owner goes.
pub(super) const KEEP_ALIVE: &str = "cat";

/// How old a stopped container of an owner that cannot be judged must be before it is
/// reaped: far longer than the moment between creating a container and starting it.
const GRACE: Duration = Duration::from_secs(60);

/// The open stdin connections of the containers this process started, by container id.
/// Cheap to clone; clones share the connections.
#[derive(Default, Clone)]
pub(super) struct Leases {
    held: Arc<Mutex<HashMap<String, AttachContainerResults>>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("held", &self.lock().len())
            .finish()
    }
}

impl Leases {
    /// Keeps container `id`'s stdin connection open until [`release`](Self::release).
    pub(super) fn hold(&self, id: &str, attached: AttachContainerResults) {
        self.lock().insert(id.to_owned(), attached);
    }

    /// Closes container `id`'s stdin connection: its keep-alive ends, and the daemon removes
    /// it. Whether this process held one.
    pub(super) fn release(&self, id: &str) -> bool {
        let attached = self.lock().remove(id);
        attached.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AttachContainerResults>> {
        // Every update is one call, so the map stays consistent even after a panic.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a tanto container with `labels`, `running` or not and `age` old, may be removed by a
/// run that does not own it; `None` when it must stay.
///
/// - An owner of this boot and pid namespace that is gone (no such process, or its pid now
///   belongs to a later process): reaped.
/// - An owner that cannot be judged from here (another machine, an earlier boot, another pid
///   namespace): a running container is left to its keep-alive; a stopped one older than a
///   minute is reaped, since its keep-alive ended or it never started.
/// - A container of an older tanto, without `tanto.owner`: reaped when it names this host and
///   a pid that no process has (the only rule those labels allow).
pub(super) fn orphaned(
    labels: &HashMap<String, String>,
    running: bool,
    age: Duration,
) -> Option<&'static str> {
    // A container of an image that a step snapshotted carries the `tanto.*` labels blank: it
    // is someone's service, not a step's container.
    if labels.get(LABEL_RUN).is_none_or(String::is_empty) {
        return None;
    }
    if let Some(owner) = labels.get(LABEL_OWNER) {
        return match Owner::parse(owner).map(|o| o.liveness()) {
            Some(Liveness::Dead) => Some("its owner process is gone"),
            Some(Liveness::Alive) => None,
            Some(Liveness::Unknown) | None if !running && age > GRACE => {
                Some("it stopped, and its owner cannot be judged from here")
            }
            Some(Liveness::Unknown) | None => None,
        };
    }
    let pid = labels.get(LABEL_PID).and_then(|p| p.parse::<i64>().ok())?;
    let here = labels.get(LABEL_HOST).is_some_and(|h| h == host_name());
    (here && !pid_alive(pid)).then_some("its owner process on this host is gone")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_by(owner: &Owner) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_RUN.to_owned(), "r1".to_owned()),
            (LABEL_OWNER.to_owned(), owner.label()),
        ])
    }

    #[test]
    fn blank_labels_from_a_snapshotted_image_are_never_reaped() {
        let blank: HashMap<String, String> = [LABEL_RUN, LABEL_OWNER, LABEL_PID, LABEL_HOST]
            .iter()
            .map(|k| ((*k).to_owned(), String::new()))
            .collect();
        assert_eq!(orphaned(&blank, false, GRACE * 10), None);
    }

    #[test]
    fn a_live_owners_containers_stay_whatever_their_state() {
        let me = owned_by(Owner::current());
        assert_eq!(orphaned(&me, true, GRACE * 10), None);
        assert_eq!(orphaned(&me, false, GRACE * 10), None);
    }

    #[test]
    fn an_owner_of_elsewhere_keeps_running_containers_and_loses_stopped_old_ones() {
        let elsewhere = owned_by(&Owner {
            boot: "another-machine".into(),
            ..Owner::current().clone()
        });
        assert_eq!(orphaned(&elsewhere, true, GRACE * 10), None);
        assert_eq!(orphaned(&elsewhere, false, Duration::from_secs(1)), None);
        assert!(orphaned(&elsewhere, false, GRACE * 2).is_some());
    }

    #[test]
    fn older_labels_are_judged_by_host_and_pid() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let labels = |host: &str, pid: u32| {
            HashMap::from([
                (LABEL_RUN.to_owned(), "r1".to_owned()),
                (LABEL_HOST.to_owned(), host.to_owned()),
                (LABEL_PID.to_owned(), pid.to_string()),
            ])
        };
        assert!(orphaned(&labels(host_name(), dead), true, GRACE).is_some());
        assert_eq!(
            orphaned(&labels(host_name(), std::process::id()), true, GRACE),
            None
        );
        assert_eq!(orphaned(&labels("elsewhere", dead), true, GRACE), None);
    }
}
