//! The crates in `e2e/fixtures/keys`, copied into a folder of a test's own, built with their
//! build scripts (sharing one target folder across the suite's runs, so only they compile), run
//! in real containers, edited and rebuilt: what the tests of sound keys drive.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A copy of the fixture crates, its build, and a store of its own.
pub struct Project {
    dir: PathBuf,
    cache: tempfile::TempDir,
    target: PathBuf,
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Project {
    /// The fixture in a workspace of its own named `name`, with this workspace's lock file (so
    /// it builds offline), built. Each test has its folder under the suite's scratch folder,
    /// at the same path every time, so that its builds replace the last ones rather than pile
    /// up beside them in the shared target folder.
    pub fn new(name: &str) -> Self {
        let root = workspace();
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("keys");
        let dir = scratch.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        copy_dir(&root.join("e2e/fixtures/keys"), &dir);
        for krate in ["app", "dep"] {
            let manifest = dir.join(krate).join("Cargo.toml");
            let template = std::fs::read_to_string(manifest.with_extension("toml.in")).unwrap();
            let root = root.display().to_string();
            std::fs::write(manifest, template.replace("@ROOT@", &root)).unwrap();
        }
        // No debug info: the builds are for running, and they share one target folder.
        std::fs::write(
            dir.join("Cargo.toml"),
            "[workspace]\nmembers = [\"app\", \"dep\"]\nresolver = \"3\"\n\n\
             [profile.dev]\ndebug = false\n\n[profile.dev.package.\"*\"]\nopt-level = 1\n",
        )
        .unwrap();
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        std::fs::create_dir_all(dir.join("input")).unwrap();
        std::fs::write(dir.join("input/a.txt"), "one\n").unwrap();
        let project = Self {
            dir,
            cache: tempfile::tempdir().unwrap(),
            target: scratch.join("target"),
        };
        project.build();
        project
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `cargo build` of the app, offline, and a copy of the binary into the project's folder,
    /// which the test runs. The tests share one target folder and build the same package name,
    /// so the binary there is whichever test built last: the build and the copy are made under
    /// one lock.
    pub fn build(&self) {
        static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--offline",
                "--quiet",
                "-p",
                "keys-app",
                "--manifest-path",
            ])
            .arg(self.path("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_INCREMENTAL", "0")
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo build: {}", text(&out.stderr));
        // Copied by `cp`, not by this process: a file this process holds open for writing is
        // inherited by what the other tests' threads fork meanwhile, and executing it then
        // fails with "Text file busy".
        // Then renamed over the old one: a rename never needs the old file free, where
        // overwriting it in place fails with "Text file busy" while anything still runs it.
        let fresh = self.dir.join("keys-app.new");
        let copied = Command::new("cp")
            .arg(self.target.join("debug/keys-app"))
            .arg(&fresh)
            .status()
            .unwrap();
        assert!(copied.success(), "cp keys-app failed");
        std::fs::rename(&fresh, self.binary()).unwrap();
    }

    /// The app as this test last built it.
    pub fn binary(&self) -> PathBuf {
        self.dir.join("keys-app")
    }

    /// Replaces `from` (which must be there) by `to` in `rel`.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.path(rel);
        let before = std::fs::read_to_string(&path).unwrap();
        assert!(before.contains(from), "`{from}` is not in {rel}");
        std::fs::write(&path, before.replacen(from, to, 1)).unwrap();
    }

    /// The line of `rel` that holds `needle`, as `--plan` shows it: `src/main.rs:13 in keys_app`.
    pub fn line_of(&self, rel: &str, needle: &str) -> String {
        let text = std::fs::read_to_string(self.path(rel)).unwrap();
        let n = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let (krate, path) = rel.split_once('/').unwrap();
        format!("{path}:{n} in keys_{krate}")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.binary());
        cmd.args(args)
            .env("TANTO_CACHE_DIR", self.cache.path())
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .current_dir(&self.dir);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The pipeline `keys` over `input/`, which must succeed: the steps that ran, sorted.
    pub fn started(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["keys", "--src", "input", "--progress", "json"];
        args.extend(extra);
        let out = self.run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut started = events_named(&out.stdout, "step_started");
        started.sort();
        started
    }

    /// `keys --plan` (and `extra`): its output.
    pub fn plan(&self, extra: &[&str]) -> String {
        let mut args = vec!["keys", "--src", "input", "--plan"];
        args.extend(extra);
        let out = self.run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }
}

/// The `step` of every event of kind `kind` in a run's JSON lines.
pub fn events_named(stdout: &[u8], kind: &str) -> Vec<String> {
    text(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == kind)
        .map(|e| e["step"].as_str().unwrap().to_owned())
        .collect()
}

/// The line of `plan` about step `step`.
pub fn plan_line<'a>(plan: &'a str, step: &str) -> &'a str {
    plan.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(step))
        .unwrap_or_else(|| panic!("no line for `{step}` in\n{plan}"))
}
