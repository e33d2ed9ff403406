//! Facts about processes and this host that container labels and reaping rely on.

use std::sync::OnceLock;

/// Whether process `pid` of this host still exists.
///
/// Only a definite "no such process" counts as dead; a process of another user (`EPERM`) is
/// alive, and so is anything we cannot judge.
pub(crate) fn pid_alive(pid: i64) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        assert!(pid_alive(i64::from(std::process::id())));
    }

    #[test]
    fn a_reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(i64::from(pid)));
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
