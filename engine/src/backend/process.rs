//! Facts about processes and this host that container labels and reaping rely on: who owns a
//! container, and whether that owner is still alive.
//!
//! A container's owner is the process that started it, recorded in the `tanto.owner` label as
//! `BOOT:PIDNS:PID:START`: the kernel's boot id (`/proc/sys/kernel/random/boot_id`), the inode
//! of the owner's pid namespace, its pid there, and its start time in clock ticks since boot
//! (field 22 of `/proc/PID/stat`). A pid alone is reused by later processes, a host name is
//! shared by machines and containers that may use one daemon, and a pid means nothing outside
//! its namespace; together the four name one process of one boot, once. An owner of this boot
//! and this pid namespace can be judged here: it is alive while `/proc/PID/stat` shows the
//! same start time and a state other than a zombie's (a process that exited and is not reaped
//! yet: its parent, or a container's init, may take a while). Any other owner (another machine, an earlier boot, a nested run inside a
//! container) cannot be judged from here, and is left to its container's keep-alive, which
//! ends by itself when its owner goes (see the Docker backend).

use std::sync::OnceLock;

/// Whether process `pid` of this host still exists.
///
/// Only a definite "no such process" counts as dead; a process of another user (`EPERM`) is
/// alive, and so is anything we cannot judge.
pub fn pid_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // 0 and negative pids name process groups, not a process.
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 performs only the existence and permission checks; nothing is sent.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// This host's name, as the `tanto.host` label records it; empty when it cannot be read.
pub fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that
        // many and we read only up to the first NUL within the buffer.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return String::new();
        }
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..len]).into_owned()
    })
}

/// The process that owns a container: one process of one boot, in one pid namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The kernel's boot id, or `host-NAME` where the kernel does not say.
    pub boot: String,
    /// The inode number of the pid namespace, `0` when unknown.
    pub namespace: u64,
    /// The pid, in that namespace.
    pub pid: u32,
    /// The start time in clock ticks since boot, `0` when unknown.
    pub start: u64,
}

/// What can be said of an owner from this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs.
    Alive,
    /// It is gone: no such process, or its pid now belongs to a later process.
    Dead,
    /// It belongs to another boot, machine or pid namespace.
    Unknown,
}

impl Owner {
    /// This process.
    pub fn current() -> &'static Owner {
        static ME: OnceLock<Owner> = OnceLock::new();
        ME.get_or_init(|| {
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|b| b.trim().to_owned())
                .ok()
                .filter(|b| !b.is_empty() && !b.contains(':'))
                .unwrap_or_else(|| format!("host-{}", host_name().replace(':', "_")));
            let pid = std::process::id();
            Owner {
                boot,
                namespace: namespace_of("self").unwrap_or(0),
                pid,
                start: stat("self").map_or(0, |s| s.start),
            }
        })
    }

    /// The `tanto.owner` label's value: `BOOT:PIDNS:PID:START`.
    pub fn label(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.boot, self.namespace, self.pid, self.start
        )
    }

    /// Reads a `tanto.owner` label back; `None` when it is not one.
    pub fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.rsplitn(4, ':');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let namespace = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_owned();
        (!boot.is_empty()).then_some(Owner {
            boot,
            namespace,
            pid,
            start,
        })
    }

    /// Whether this owner is alive, as far as this process can tell.
    pub fn liveness(&self) -> Liveness {
        let me = Owner::current();
        if self.boot != me.boot || self.namespace != me.namespace {
            return Liveness::Unknown;
        }
        if self == me {
            return Liveness::Alive;
        }
        if me.start == 0 || self.start == 0 {
            // No start times to compare (no /proc): the pid is all there is.
            return if pid_alive(i64::from(self.pid)) {
                Liveness::Alive
            } else {
                Liveness::Dead
            };
        }
        match stat(&self.pid.to_string()) {
            // `Z`: exited, not reaped yet; `X`: being reaped.
            Some(stat) if stat.start == self.start && !matches!(stat.state, 'Z' | 'X') => {
                Liveness::Alive
            }
            Some(_) => Liveness::Dead,
            None if pid_alive(i64::from(self.pid)) => Liveness::Alive,
            None => Liveness::Dead,
        }
    }
}

/// The variable that gives a process started inside a `docker_socket` step its parent:
/// `RUN:CONTAINER`, the step's run id and container id.
pub const PARENT_ENV: &str = "TANTO_PARENT";

/// The step that started this process, when it runs inside a `docker_socket` step: its
/// containers carry the parent's run and container, and the parent removes them when that
/// step or run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// The parent's run id.
    pub run: String,
    /// The parent step's container id.
    pub step: String,
}

impl Parent {
    /// This process's parent, from [`PARENT_ENV`]; a value that is not two ids is ignored.
    pub fn current() -> Option<&'static Parent> {
        static PARENT: OnceLock<Option<Parent>> = OnceLock::new();
        PARENT
            .get_or_init(|| Parent::parse(&std::env::var(PARENT_ENV).ok()?))
            .as_ref()
    }

    /// Reads `RUN:CONTAINER`: two ids of letters, digits, `-`, `_` and `.`.
    pub fn parse(value: &str) -> Option<Parent> {
        let (run, step) = value.trim().split_once(':')?;
        let id = |s: &str| {
            (1..=128).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        (id(run) && id(step)).then(|| Parent {
            run: run.to_owned(),
            step: step.to_owned(),
        })
    }

    /// The value of [`PARENT_ENV`] for the processes that step `step` of run `run` starts.
    pub fn value(run: &str, step: &str) -> String {
        format!("{run}:{step}")
    }
}

/// What `/proc/PID/stat` says of a process.
struct Stat {
    /// Its state (field 3): `R`, `S`, `Z` for a zombie…
    state: char,
    /// Its start time in clock ticks since boot (field 22).
    start: u64,
}

/// What `/proc/PID/stat` says of process `pid` (`self` for this one).
fn stat(pid: &str) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces and `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // The fields after the name start at field 3.
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some(Stat { state, start })
}

/// The inode of the pid namespace of process `pid`: `/proc/PID/ns/pid` reads `pid:[INODE]`.
fn namespace_of(pid: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        assert!(pid_alive(i64::from(std::process::id())));
        assert_eq!(Owner::current().liveness(), Liveness::Alive);
    }

    #[test]
    fn a_reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(i64::from(pid)));
        let owner = Owner {
            pid,
            ..Owner::current().clone()
        };
        assert_eq!(owner.liveness(), Liveness::Dead);
    }

    #[test]
    fn an_exited_child_not_yet_reaped_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id().to_string();
        // Unreaped, it stays a zombie, with its pid and start time, until `wait`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let start = loop {
            let now = stat(&pid).unwrap();
            if now.state == 'Z' {
                break now.start;
            }
            assert!(std::time::Instant::now() < deadline, "`true` never exited");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let owner = Owner {
            pid: child.id(),
            start,
            ..Owner::current().clone()
        };
        assert_eq!(owner.liveness(), Liveness::Dead);
        child.wait().unwrap();
    }

    #[test]
    fn a_live_pid_with_another_start_time_is_another_process() {
        let me = Owner::current();
        assert_ne!(me.start, 0, "this process's start time is known");
        let earlier = Owner {
            start: me.start - 1,
            ..me.clone()
        };
        assert_eq!(earlier.liveness(), Liveness::Dead);
    }

    #[test]
    fn owners_of_other_boots_or_namespaces_are_not_judged() {
        let me = Owner::current();
        let other_boot = Owner {
            boot: "another-boot".into(),
            ..me.clone()
        };
        let other_ns = Owner {
            namespace: me.namespace + 1,
            ..me.clone()
        };
        assert_eq!(other_boot.liveness(), Liveness::Unknown);
        assert_eq!(other_ns.liveness(), Liveness::Unknown);
    }

    #[test]
    fn labels_read_back() {
        let me = Owner::current();
        assert_eq!(Owner::parse(&me.label()).as_ref(), Some(me));
        assert_eq!(Owner::parse("a:1:2"), None);
        assert_eq!(Owner::parse(":1:2:3"), None);
        assert_eq!(Owner::parse("b:x:2:3"), None);
    }

    #[test]
    fn parents_read_back_and_odd_values_are_ignored() {
        let parent = Parent::parse(&Parent::value("run1", "abc123")).unwrap();
        assert_eq!(
            (parent.run.as_str(), parent.step.as_str()),
            ("run1", "abc123")
        );
        for bad in ["", "x", ":a", "a:", "a:b c", "a:b\nc", "a:$(x)"] {
            assert_eq!(Parent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn group_pids_are_never_judged_dead() {
        assert!(pid_alive(0));
        assert!(pid_alive(-1));
    }

    #[test]
    fn host_name_is_the_one_uname_reports() {
        let out = std::process::Command::new("uname")
            .arg("-n")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(host_name(), String::from_utf8_lossy(&out.stdout).trim_end());
    }
}
