//! `cargo xtask lint`: the format, clippy and rustdoc checks, on the host; `test` runs them first.

/// One check: a cargo command that fails on a finding, and what to do about a failure.
struct Check {
    /// The cargo arguments.
    args: &'static [&'static str],
    /// Environment the command needs, shown in the message too.
    env: &'static [(&'static str, &'static str)],
    /// What a failure means.
    finding: &'static str,
    /// The command that fixes a failure, when one can; otherwise the message says how to
    /// reproduce it.
    fix: Option<&'static str>,
}

const CHECKS: &[Check] = &[
    Check {
        args: &["fmt", "--all", "--check"],
        env: &[],
        finding: "the code is not formatted as rustfmt would",
        fix: Some("cargo fmt --all"),
    },
    Check {
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
        finding: "clippy reports warnings or errors",
        fix: None,
    },
    Check {
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
        finding: "rustdoc reports warnings or errors",
        fix: None,
    },
];

impl Check {
    /// The command as a user types it: `RUSTDOCFLAGS='-D warnings' cargo doc ..`.
    fn shell(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(key, value)| format!("{key}='{value}' "));
        format!("{}cargo {}", env.collect::<String>(), self.args.join(" "))
    }

    /// What a failure means and the command that fixes or reproduces it.
    fn failure(&self) -> String {
        match self.fix {
            Some(fix) => format!("{}: run `{fix}` to fix it", self.finding),
            None => format!("{}: reproduce with `{}`", self.finding, self.shell()),
        }
    }
}

/// Runs every check, even after a failure, and reports all the failures together.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            println!("usage: cargo xtask lint");
            println!("runs, on the host and denying warnings:");
            for check in CHECKS {
                println!("  {}", check.shell());
            }
            return Ok(());
        }
        Some(other) => {
            return Err(format!(
                "unknown argument `{other}`: `cargo xtask lint` takes none"
            ));
        }
    }
    let mut failures = Vec::new();
    for check in CHECKS {
        eprintln!("xtask: running {}", check.shell());
        let status = crate::cargo()
            .args(check.args)
            .envs(check.env.iter().copied())
            .status()
            .map_err(|e| format!("cannot run `{}`: {e}", check.shell()))?;
        if !status.success() {
            failures.push(check.failure());
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        n => Err(format!(
            "{n} of {} checks failed:\n  {}",
            CHECKS.len(),
            failures.join("\n  ")
        )),
    }
}
