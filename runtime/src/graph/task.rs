//! The traits that `#[step]` and `#[pipeline]` implement, and the metadata they carry.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::Ctx;
use crate::artifact::Artifact;
use crate::error::Result;
use crate::graph::{Arg, Builder, FromNode, Plan};

/// One parameter of a step or pipeline, as written in its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// The parameter's name.
    pub name: &'static str,
    /// Its type, as written.
    pub ty: &'static str,
    /// Whether it is a `Dir` (bound to a host folder at the top level).
    pub is_dir: bool,
    /// Whether it is a `File`.
    pub is_file: bool,
    /// For a pipeline's `Dir` input: which files of the host folder it takes, from
    /// `#[dir(..)]` on the parameter. [`DirSelect::DEFAULT`] everywhere else.
    pub select: DirSelect,
}

/// Which files of a host folder a pipeline's `Dir` input takes: `#[dir(..)]` on the parameter.
///
/// The folder's digest covers exactly these files, and a step's container sees exactly these
/// files: the others are hidden from a read-only mount and left out of a copy, so a step can
/// never read a file that its cache key does not cover.
///
/// ```
/// # use tanto::prelude::*;
/// # #[step(image = "tanto-test/busybox:latest")]
/// # async fn test(ctx: &Ctx, src: Dir) -> Result<()> { let _ = (ctx, src); Ok(()) }
/// /// Tests the crate: only its sources and manifests count, and `docs/` never does.
/// #[pipeline]
/// fn ci(#[dir(include = ["src/**", "Cargo.*"], exclude = "src/generated/**")] src: Dir) {
///     test(src);
/// }
/// let select = <ci as tanto::Pipeline>::INFO.params[0].select;
/// assert_eq!(select.include, ["src/**", "Cargo.*"]);
/// assert!(select.gitignore);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirSelect {
    /// `include = [..]`: when non-empty, only files and symlinks matching one of these globs.
    pub include: &'static [&'static str],
    /// `exclude = [..]`: files and folders matching one of these globs are left out.
    pub exclude: &'static [&'static str],
    /// `gitignore = false` turns off `.gitignore`, `.ignore` and `.git/info/exclude` rules and
    /// keeps `.git`; they are on by default.
    pub gitignore: bool,
}

impl DirSelect {
    /// The default: `.gitignore` rules honoured, `.git` left out, no globs.
    pub const DEFAULT: Self = Self {
        include: &[],
        exclude: &[],
        gitignore: true,
    };

    /// Whether this is the default selection.
    pub fn is_default(&self) -> bool {
        *self == Self::DEFAULT
    }

    /// A short account of a selection that is not the default, for `--list` and `--help`:
    /// ``only `src/**`; not `docs/**`; .gitignore not applied``.
    pub fn describe(&self) -> Option<String> {
        let globs = |globs: &[&str]| {
            globs
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.include.is_empty() {
            parts.push(format!("only {}", globs(self.include)));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("not {}", globs(self.exclude)));
        }
        if !self.gitignore {
            parts.push(".gitignore not applied, .git kept".to_owned());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The hashing filter that selects these files.
    pub fn filter(&self) -> crate::cache::DirFilter {
        crate::cache::DirFilter {
            include: self.include.iter().map(|g| (*g).to_owned()).collect(),
            exclude: self.exclude.iter().map(|g| (*g).to_owned()).collect(),
            gitignore: self.gitignore,
        }
    }
}

impl Default for DirSelect {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The container settings a step declares in its attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSettings {
    /// `image = ".."`: the image the step's container runs.
    pub image: Option<&'static str>,
    /// `cache("/path" = "volume")`: named volumes mounted at container paths, outside the key.
    pub caches: &'static [(&'static str, &'static str)],
    /// `env(KEY = "value")`: environment of every container of the step.
    pub env: &'static [(&'static str, &'static str)],
    /// `workdir = ".."`: the default working directory.
    pub workdir: Option<&'static str>,
    /// `user = ".."`: the default user.
    pub user: Option<&'static str>,
    /// `timeout = "10m"`: the step is killed after this long.
    pub timeout: Option<Duration>,
    /// `version = ".."`: a manual salt for the key.
    pub version: Option<&'static str>,
    /// `side_effect`: the step is never cached.
    pub side_effect: bool,
    /// `network = false` turns the container's network off.
    pub network: bool,
    /// `memory = "512m"`: a memory limit, in bytes.
    pub memory: Option<u64>,
    /// `cpus = "1.5"`: a CPU limit, in thousandths of a CPU.
    pub millicpus: Option<u32>,
    /// `docker_socket`: mount the daemon's socket into the container. Never on by default.
    pub docker_socket: bool,
}

impl StepSettings {
    /// The settings of a step with no attributes.
    pub const DEFAULT: StepSettings = StepSettings {
        image: None,
        caches: &[],
        env: &[],
        workdir: None,
        user: None,
        timeout: None,
        version: None,
        side_effect: false,
        network: true,
        memory: None,
        millicpus: None,
        docker_socket: false,
    };
}

impl Default for StepSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything the runtime knows about a step without running it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// The step's label: `name = ".."`, or the fn's name.
    pub name: &'static str,
    /// The fn's full path, `crate::module::fn`.
    pub path: &'static str,
    /// The first paragraph of the fn's rustdoc.
    pub doc: &'static str,
    /// A BLAKE3 hash of the fn's tokens and name, fixed at compile time.
    pub code_digest: &'static str,
    /// The inputs, without the context parameter.
    pub params: &'static [ParamInfo],
    /// The output type, as written.
    pub output: &'static str,
    /// Container settings from the attributes.
    pub settings: StepSettings,
}

/// The runtime entry of a step: converts inputs, calls the fn, converts outputs.
pub type RunFn = for<'a> fn(&'a Ctx, Vec<Artifact>) -> BoxFuture<'a, Result<Vec<Artifact>>>;

/// Something that can be called inside a `#[pipeline]` body: a step or a pipeline.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tanto step or pipeline",
    label = "not a step",
    note = "only functions marked `#[tanto::step]` or `#[tanto::pipeline]` can be called in a pipeline body"
)]
pub trait Task: 'static {
    /// What a call returns inside a pipeline: a [`Handle`](crate::Handle), or a tuple of them.
    type Handles: FromNode;

    /// Adds this task to the graph with its arguments and returns its handles.
    fn add(b: &mut Builder, args: Vec<Arg>) -> Self::Handles;
}

/// A step: one unit of execution and caching. Implemented by `#[step]`.
pub trait Step: Task {
    /// The step's metadata.
    const INFO: StepInfo;

    /// Runs the step's fn with realized inputs, in parameter order.
    fn run(ctx: &Ctx, inputs: Vec<Artifact>) -> BoxFuture<'_, Result<Vec<Artifact>>>;
}

/// Everything the runtime knows about a pipeline without running it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineInfo {
    /// The pipeline's name, used on the command line.
    pub name: &'static str,
    /// The fn's full path.
    pub path: &'static str,
    /// The fn's rustdoc.
    pub doc: &'static str,
    /// Its inputs.
    pub params: &'static [ParamInfo],
}

/// A pipeline: a graph of steps. Implemented by `#[pipeline]`.
pub trait Pipeline: Task {
    /// The pipeline's metadata.
    const INFO: PipelineInfo;

    /// Builds the pipeline's graph, with one argument for each parameter.
    fn build(b: &mut Builder, args: Vec<Arg>) -> Self::Handles;

    /// The pipeline's static shape, with its parameters as input nodes. Runs nothing.
    fn plan() -> Plan
    where
        Self: Sized,
    {
        Plan::of::<Self>()
    }
}

/// The type of parameter `I` of a task, for wiring checks.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no parameter at position {I}",
    label = "this argument has no matching parameter"
)]
pub trait Param<const I: usize>: Task {
    /// The parameter's type.
    type Type;
    /// A marker type named after the parameter, so wiring errors can name it.
    type Name;
}

/// Implemented by a task for exactly its number of parameters.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take {N} argument(s)",
    label = "wrong number of arguments"
)]
pub trait Arity<const N: usize>: Task {}
