//! The command line that `tanto::cli()` builds from the pipelines a binary registers.

mod args;
mod flag;
mod list;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::backend::Connect;
use crate::error::Result;
use crate::graph::{InputValues, Pipeline, PipelineInfo, Plan};

/// A pipeline registered with the CLI.
#[derive(Clone, Copy)]
pub struct Entry {
    /// Its metadata.
    pub info: PipelineInfo,
    /// Builds its plan for the values of its value inputs (the inputs its body loops or
    /// branches on need theirs).
    pub plan: fn(&InputValues) -> Result<Plan>,
    /// Connects to the container engine its steps run on.
    pub connect: Connect,
}

/// The command-line front end of a pipeline binary.
///
/// ```no_run
/// use tanto::prelude::*;
///
/// #[step(image = "tanto-test/busybox:latest")]
/// async fn hello(ctx: &Ctx, name: String) -> Result<String> {
///     let out = ctx.container().exec(["echo", "hello", &name]).await?;
///     Ok(out.stdout)
/// }
///
/// /// Greets someone.
/// #[pipeline]
/// fn greet(name: String) -> String {
///     hello(name)
/// }
///
/// fn main() -> std::process::ExitCode {
///     tanto::cli().pipeline(greet).run()
/// }
/// ```
#[derive(Clone, Default)]
pub struct Cli {
    name: Option<String>,
    pipelines: Vec<Entry>,
    aliases: Vec<(String, String)>,
}

/// Starts the command line of a pipeline binary; add pipelines with [`Cli::pipeline`].
pub fn cli() -> Cli {
    Cli::default()
}

impl Cli {
    /// Registers pipeline `P`, passed as its value: `.pipeline(ci)`.
    pub fn pipeline<P: Pipeline>(mut self, _pipeline: P) -> Self {
        self.pipelines.push(Entry {
            info: P::INFO,
            plan: Plan::with::<P>,
            connect: P::BACKEND,
        });
        self
    }

    /// Sets the program name shown in help (by default, the binary's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs image `from` as image `to` wherever a step names it: for a mirror, or an image
    /// made offline. `.image_alias("rust:1.95-slim", "registry.local/rust:1.95")`.
    pub fn image_alias(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.aliases.push((from.into(), to.into()));
        self
    }

    /// The image aliases, `(from, to)`.
    pub fn aliases(&self) -> &[(String, String)] {
        &self.aliases
    }

    /// The registered pipelines.
    pub fn entries(&self) -> &[Entry] {
        &self.pipelines
    }

    /// Parses the process's arguments, runs what they ask, and returns the exit code.
    pub fn run(self) -> ExitCode {
        self.run_from(std::env::args_os())
    }

    /// Like [`Cli::run`], with explicit arguments (the first is the program name).
    pub fn run_from<I, T>(self, argv: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        ExitCode::from(args::dispatch(&self, argv))
    }

    pub(crate) fn program_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            std::env::args_os()
                .next()
                .and_then(|p| {
                    std::path::Path::new(&p)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "tanto".to_owned())
        })
    }
}
