//! A tmux server of a test's own: a real terminal to run the fixture in and read back.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own, killed when dropped; its one session is `session`.
pub struct Tmux {
    /// The server's socket, in `_dir`: nothing of it is left in `/tmp/tmux-UID`.
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
    session: String,
}

impl Tmux {
    /// A server named after `tag`, its socket in a folder of its own, whose session `session`
    /// is not started yet: [`Tmux::start`] starts it.
    pub fn new(tag: &str, session: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix("tanto-tmux-")
            .tempdir()
            .expect("a folder for the tmux server's socket");
        Self {
            socket: dir.path().join(format!("{tag}-{n}")),
            _dir: dir,
            session: session.to_owned(),
        }
    }

    /// A server named after `tag` whose session `t` runs `command` on a wide terminal (250 ×
    /// 60, so no line of tanto's wraps), after a line `pid=PID` (the pid `command` runs as,
    /// through `exec`: the fixture's, on its containers' labels) and before `exit=CODE`, then
    /// waits.
    pub fn reporting(tag: &str, command: &str) -> Self {
        let tmux = Self::new(tag, "t");
        let command = format!(
            "sh -c 'echo \"pid=$$\"; exec \"$@\"' sh {command}; echo \"exit=$?\"; sleep 60"
        );
        tmux.start(250, 60, &command);
        tmux
    }

    /// Waits until the screen or its history shows `what`, and returns them.
    pub fn wait_in_history(&self, what: &str) -> String {
        self.wait_for(Self::history, what)
    }

    /// Types `line` and Enter, once a shell's prompt is up to read it.
    pub fn type_line(&self, line: &str) {
        std::thread::sleep(Duration::from_millis(500));
        self.keys(&[line, "Enter"]);
    }

    /// The pid a [`Tmux::reporting`] pane printed first.
    pub fn pane_pid(&self) -> String {
        let screen = self.wait_in_history("pid=");
        let line = screen
            .lines()
            .find(|l| l.starts_with("pid="))
            .expect("a pid= line");
        line.trim_end()["pid=".len()..].to_owned()
    }

    /// Starts the session on a terminal of `width` × `height`, running `command`.
    pub fn start(&self, width: u16, height: u16, command: &str) {
        let (width, height) = (width.to_string(), height.to_string());
        self.run(&[
            "new-session",
            "-d",
            "-s",
            &self.session,
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
    }

    /// Runs `tmux ARGS` against this server; what it printed.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("tmux is needed for this test ({e}): `cargo xtask test` installs it")
            });
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The session's screen as it is now.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.session])
    }

    /// The session's screen and its history, wrapped lines joined.
    pub fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", &self.session])
    }

    /// Sends `keys` to the session (tmux key names: `C-c`, `Enter`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits up to 90 s until `read` (the screen, or its history) shows `what`; returns it.
    pub fn wait_for(&self, read: fn(&Self) -> String, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let screen = read(self);
            if screen.contains(what) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no `{what}` on the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Its socket goes with its folder.
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
