//! The clap command tree, and dispatch of what was asked.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::cli::{Cli, Entry, flag, list};
use crate::graph::{InputValues, NodeKind, ParamInfo};
use crate::input::value_of;
use crate::report::print;
use crate::report::{say, shown_lines};
use crate::report::{to_dot, to_mermaid};
use crate::run::{
    EXIT_OK, EXIT_USAGE, Progress, RunOptions, ShellRequest, default_jobs, shell_command,
};

const RESERVED: &[&str] = &["cache", "help"];

fn command(cli: &Cli) -> Command {
    let mut cmd = Command::new(cli.program_name())
        .about("Runs this project's tanto pipelines")
        .arg(
            Arg::new("list")
                .long("list")
                .action(ArgAction::SetTrue)
                .help("List the pipelines with their docs and steps"),
        )
        .subcommand(
            Command::new("cache")
                .about("Inspect or prune the local cache")
                .subcommand_required(true)
                .subcommand(Command::new("stats").about("Show what the cache holds"))
                .subcommand(
                    Command::new("verify").about("Re-hash every entry and remove the damaged ones"),
                )
                .subcommand(
                    Command::new("prune")
                        .about("Remove least recently used entries")
                        .arg(
                            Arg::new("max-size")
                                .long("max-size")
                                .value_name("SIZE")
                                .value_parser(parse_size)
                                .help("Keep at most this much, e.g. `10G` or `500M`"),
                        )
                        .arg(
                            Arg::new("max-age")
                                .long("max-age")
                                .value_name("AGE")
                                .value_parser(parse_age)
                                .help("Remove entries unused for longer, e.g. `30d` or `12h`"),
                        )
                        .arg(
                            Arg::new("grace")
                                .long("grace")
                                .value_name("AGE")
                                .value_parser(parse_age)
                                .default_value("15m")
                                .help("Keep unused objects changed this recently: a run may be about to record a result that uses them; `0` removes them too"),
                        ),
                ),
        );
    for entry in cli.entries() {
        cmd = cmd.subcommand(pipeline_command(entry));
    }
    cmd
}

// Long, but declarative: one clap `Arg` per run flag, in the order `--help` shows them.
fn pipeline_command(entry: &Entry) -> Command {
    let doc = entry.info.doc.trim();
    let about = list::first_paragraph(doc);
    let mut cmd = Command::new(entry.info.name)
        .about(about)
        .long_about(list::unlinked(doc));
    for param in entry.info.params {
        // Global, so `PIPELINE shell STEP --src DIR` binds the inputs as a run does. Clap
        // refuses a global argument that is required; binding reports a missing one.
        cmd = cmd.arg(flag::input_arg(param).global(true));
    }
    cmd = cmd.subcommand_negates_reqs(true).subcommand(
        Command::new("shell")
            .about("Open a shell in a fresh container set up like the one STEP last ran in, with its inputs from the cache")
            .arg(Arg::new("step").value_name("STEP").required(true).help("The step's label, as `--list` shows it"))
            .arg(
                Arg::new("run-upstream")
                    .long("run-upstream")
                    .action(ArgAction::SetTrue)
                    .help("Run the pipeline first, with STEP run again, so the shell has today's inputs"),
            ),
    );
    cmd.arg(
        Arg::new("plan")
            .long("plan")
            .value_name("STEP")
            .num_args(0..)
            .help("Show which steps are cached or will run, and why; run nothing. With steps named, show only those, with every part of their keys"),
    )
    .arg(
        Arg::new("require-cache")
            .long("require-cache")
            .action(ArgAction::SetTrue)
            .conflicts_with_all(["plan", "no-cache"])
            .help("Fail with exit code 2, saying why, unless every step is cached (side effects still run): for release jobs"),
    )
    .arg(
        Arg::new("graph")
            .long("graph")
            .value_name("FORMAT")
            .value_parser(["mermaid", "dot"])
            .conflicts_with("plan")
            .help("Print the pipeline's graph and run nothing"),
    )
    .arg(
        Arg::new("no-cache")
            .long("no-cache")
            .value_name("STEP")
            .num_args(0..)
            .help("Run these steps (all, when none is named) even if cached"),
    )
    .arg(
        Arg::new("remote-cache")
            .long("remote-cache")
            .value_name("URL")
            .help("Share results through a REAPI v2 server, grpc://HOST:PORT or grpcs://HOST:PORT [env: TANTO_REMOTE_CACHE]"),
    )
    .arg(
        Arg::new("remote-upload")
            .long("remote-upload")
            .action(ArgAction::SetTrue)
            .help("Write this run's results to the remote cache (it is only read otherwise) [env: TANTO_REMOTE_UPLOAD=1]"),
    )
    .arg(
        Arg::new("remote-token")
            .long("remote-token")
            .value_name("SOURCE")
            .value_parser(clap::value_parser!(std::ffi::OsString))
            .help("The remote cache's bearer token, from `env:NAME`, `file:PATH` or `cmd:COMMAND` [env: TANTO_REMOTE_TOKEN, the token itself]"),
    )
    .arg(
        Arg::new("jobs")
            .short('j')
            .long("jobs")
            .value_name("N")
            .value_parser(value_parser!(u16).range(1..))
            .help("Run at most N steps at once [default: the number of CPUs plus two]"),
    )
    .arg(
        Arg::new("keep-going")
            .long("keep-going")
            .action(ArgAction::SetTrue)
            .help("After a failure, finish the steps that do not depend on it"),
    )
    .arg(
        Arg::new("interactive")
            .short('i')
            .long("interactive")
            .action(ArgAction::SetTrue)
            .conflicts_with_all(["plan", "graph"])
            .help("When a step fails, open a shell in its container before it is removed"),
    )
    .arg(
        Arg::new("shell")
            .long("shell")
            .value_name("CMD")
            .default_value("sh")
            .global(true)
            .help("The shell that -i and `shell` open"),
    )
    .arg(
        Arg::new("progress")
            .long("progress")
            .value_name("MODE")
            .value_parser(["auto", "tty", "plain", "json"])
            .default_value("auto")
            .help("How to show progress"),
    )
    .arg(
        Arg::new("trace")
            .long("trace")
            .value_name("FILE")
            .value_parser(value_parser!(PathBuf))
            .help("Write a Chrome Trace Event timeline of the run (open it in Perfetto)"),
    )
    .arg(
        Arg::new("junit")
            .long("junit")
            .value_name("FILE")
            .value_parser(value_parser!(PathBuf))
            .help("Write a JUnit XML of the run: a test case per step, and every test of the steps' test reports"),
    )
    .arg(
        Arg::new("out")
            .long("out")
            .value_name("DIR")
            .value_parser(value_parser!(PathBuf))
            .help("Copy the pipeline's outputs into this folder"),
    )
}

/// Parses `argv` and runs the command; returns the process exit code.
pub(crate) fn dispatch<I, T>(cli: &Cli, argv: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    for entry in cli.entries() {
        if RESERVED.contains(&entry.info.name) {
            say!(
                "error: a pipeline cannot be named `{}`: the name is a built-in command; rename the pipeline fn",
                entry.info.name
            );
            return EXIT_USAGE;
        }
    }
    let matches = match command(cli).try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            if e.kind() == clap::error::ErrorKind::InvalidSubcommand {
                let names: Vec<String> = (cli.entries().iter())
                    .map(|e| format!("`{}`", e.info.name))
                    .collect();
                say!(
                    "pipelines: {} (and the `cache` command); `--list` shows each pipeline with its steps",
                    names.join(", ")
                );
            }
            return u8::try_from(code).unwrap_or(EXIT_USAGE);
        }
    };
    match matches.subcommand() {
        None => {
            print(&list::render(cli.entries()));
            EXIT_OK
        }
        // Every pipeline names the same backend: the first one's reaches the daemon.
        Some(("cache", sub)) => {
            crate::run::cache_command(sub, cli.entries().first().map(|e| e.connect))
        }
        Some((name, sub)) => match cli.entries().iter().find(|e| e.info.name == name) {
            Some(entry) => run_pipeline(cli, entry, sub),
            None => EXIT_USAGE,
        },
    }
}

fn run_pipeline(cli: &Cli, entry: &Entry, m: &ArgMatches) -> u8 {
    // The inputs are global flags: under `shell`, the subcommand's matches hold them all.
    let shell = match m.subcommand() {
        Some(("shell", sub)) => Some(sub),
        _ => None,
    };
    let raw = raw_inputs(entry, shell.unwrap_or(m));
    // The plan is built for the flags given: a loop or a branch of the body over an input
    // takes that input's value, for `--graph` and `--plan` as for a run.
    let plan = match plan_values(&raw).and_then(|values| (entry.plan)(&values)) {
        Ok(plan) if plan.unknown.is_empty() => plan,
        Ok(plan) => {
            let node = plan.node(plan.unknown[0]);
            let flag = match &node.kind {
                NodeKind::Input { param } => format!("--{} is required: ", param.flag()),
                _ => String::new(),
            };
            // `shell` runs nothing, but finds its step by a label the flag may shape.
            let why = match shell.and_then(|sub| sub.get_one::<String>("step")) {
                Some(step) => format!(
                    "; `shell` needs it too, with the value the run had: it shapes the graph, so the step `{}` can only be found with it",
                    crate::report::shown(step)
                ),
                None => String::new(),
            };
            say!(
                "error: {flag}the steps of `{}` depend on `{}`, which has no value{why}",
                entry.info.name,
                node.label
            );
            return EXIT_USAGE;
        }
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    if let Some(format) = m.get_one::<String>("graph") {
        let text = if format == "dot" {
            to_dot(&plan)
        } else {
            to_mermaid(&plan)
        };
        print(&text);
        return EXIT_OK;
    }
    let progress = match m.get_one::<String>("progress").map(String::as_str) {
        Some("tty") => Progress::Tty,
        Some("plain") => Progress::Plain,
        Some("json") => Progress::Json,
        _ => Progress::Auto,
    };
    let given = |id: &str| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let options = RunOptions {
        connect: entry.connect,
        plan: given("plan"),
        plan_steps: m
            .get_many::<String>("plan")
            .map(|s| s.cloned().collect())
            .unwrap_or_default(),
        require_cache: m.get_flag("require-cache"),
        no_cache: given("no-cache").then(|| {
            m.get_many::<String>("no-cache")
                .map(|s| s.cloned().collect())
                .unwrap_or_default()
        }),
        jobs: m
            .get_one::<u16>("jobs")
            .map(|j| usize::from(*j))
            .unwrap_or_else(default_jobs),
        keep_going: m.get_flag("keep-going"),
        progress,
        trace: m.get_one::<PathBuf>("trace").cloned(),
        junit: m.get_one::<PathBuf>("junit").cloned(),
        out: m.get_one::<PathBuf>("out").cloned(),
        remote_cache: m.get_one::<String>("remote-cache").cloned(),
        remote_upload: m.get_flag("remote-upload"),
        remote_token: m.get_one::<std::ffi::OsString>("remote-token").cloned(),
        interactive: m
            .get_flag("interactive")
            .then(|| m.get_one::<String>("shell").cloned().unwrap_or_default()),
    };
    if let Some(sub) = shell {
        let request = ShellRequest {
            step: sub.get_one::<String>("step").cloned().unwrap_or_default(),
            run_upstream: sub.get_flag("run-upstream"),
            shell: sub
                .get_one::<String>("shell")
                .cloned()
                .unwrap_or_else(|| "sh".into()),
        };
        return shell_command(&plan, raw, request, options, cli.aliases());
    }
    crate::run::execute(&plan, raw, options, cli.aliases())
}

/// Each parameter with the text its flag gave: a path for a folder or a file, `true` or
/// `false` for a switch, a list's occurrences joined by commas.
fn raw_inputs(entry: &Entry, m: &ArgMatches) -> Vec<(ParamInfo, Option<OsString>)> {
    let mut raw = Vec::new();
    for param in entry.info.params {
        let value = if param.is_dir || param.is_file {
            m.get_one::<PathBuf>(param.name)
                .map(|p| p.as_os_str().to_owned())
        } else if param.is_switch() {
            Some(OsString::from(m.get_flag(param.name).to_string()))
        } else if param.is_list() {
            m.get_many::<String>(param.name)
                .map(|items| OsString::from(items.cloned().collect::<Vec<_>>().join(",")))
        } else {
            m.get_one::<String>(param.name).map(OsString::from)
        };
        raw.push((*param, value));
    }
    raw
}

/// The values of the value inputs the command line gave, as the plan reads them.
fn plan_values(raw: &[(ParamInfo, Option<OsString>)]) -> crate::Result<InputValues> {
    let mut values = InputValues::new();
    for (param, text) in raw {
        if let (true, Some(text)) = (param.is_value(), text) {
            values.insert(param.name.to_owned(), value_of(param, text)?);
        }
    }
    Ok(values)
}

/// Parses a size like `10G`, `500M`, `64k` or a byte count.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let number: f64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like `10G` or `500M`"))?;
    let scale = match unit.to_ascii_lowercase().trim_end_matches(['b', 'i']) {
        "" => 1u64,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("`{text}` has an unknown unit: use K, M, G or T")),
    };
    Ok((number * scale as f64) as u64)
}

/// Parses an age like `30d`, `12h`, `90m` or `45s`, or `0`. Any other number needs its unit:
/// `30` could mean 30 days as well as 30 hours, and a prune that guesses removes results.
pub(crate) fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not an age like `30d` or `12h`"))?;
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "" if n == 0 => 0,
        "" => {
            return Err(format!(
                "`{text}` needs a unit: `{n}d` (days), `{n}h`, `{n}m` or `{n}s`"
            ));
        }
        _ => return Err(format!("`{text}` has an unknown unit: use s, m, h, d or w")),
    };
    let secs = n
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too long an age"))?;
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_parse() {
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("ten").is_err());
        assert_eq!(parse_age("2d").map(|d| d.as_secs()), Ok(172_800));
        assert!(parse_age("2y").is_err());
        assert_eq!(parse_age("0").map(|d| d.as_secs()), Ok(0));
        assert_eq!(
            parse_age("30"),
            Err("`30` needs a unit: `30d` (days), `30h`, `30m` or `30s`".to_owned())
        );
        assert!(parse_age("99999999999999999w").is_err());
    }
}
