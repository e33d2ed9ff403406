//! The traits that `#[step]` and `#[pipeline]` implement, and the metadata they carry.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::artifact::{Artifact, DirSelect};
use crate::backend::Connect;
use crate::error::Result;
use crate::graph::{Arg, Builder, FromNode, Plan};
use crate::step::Ctx;

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

impl ParamInfo {
    /// The command-line flag that binds the parameter, without its dashes: `out_dir` is
    /// `out-dir`.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The type's name without its path or generic arguments: `Vec` for `std::vec::Vec<u8>`.
    fn type_name(&self) -> &'static str {
        let outer = self.ty.split('<').next().unwrap_or(self.ty);
        outer.rsplit("::").next().unwrap_or(outer).trim()
    }

    /// Whether it is a `bool`: on the command line, a switch (`--release`) that is `false`
    /// when left out.
    pub fn is_switch(&self) -> bool {
        self.type_name() == "bool"
    }

    /// Whether it is a `Vec<T>`: on the command line, items separated by commas
    /// (`--features a,b`), or the flag repeated.
    pub fn is_list(&self) -> bool {
        self.type_name() == "Vec"
    }

    /// Whether it is an `Option<T>`, which may be left out.
    pub fn is_optional(&self) -> bool {
        self.type_name() == "Option"
    }

    /// Whether it is a `Secret`.
    pub fn is_secret(&self) -> bool {
        self.type_name() == "Secret"
    }

    /// Whether it is a serde value bound from its flag's text: not a folder, file or secret.
    pub fn is_value(&self) -> bool {
        !(self.is_dir || self.is_file || self.is_secret())
    }

    /// Whether leaving its flag out is an error: a folder defaults to `.`, a switch to
    /// `false` and an `Option` to `None` (its [`absent_value`](Self::absent_value)); a file,
    /// a secret and any other value must be given.
    pub fn is_required(&self) -> bool {
        !self.is_dir && self.absent_value().is_none()
    }

    /// The value of a value input whose flag is left out, where leaving it out means one:
    /// `false` for a switch, `null` (`None`) for an `Option`.
    pub fn absent_value(&self) -> Option<serde_json::Value> {
        if !self.is_value() {
            None
        } else if self.is_switch() {
            Some(serde_json::Value::Bool(false))
        } else if self.is_optional() {
            Some(serde_json::Value::Null)
        } else {
            None
        }
    }

    /// The item type of a list, as written: `String` for `Vec<String>`.
    pub fn list_item(&self) -> Option<&'static str> {
        if !self.is_list() {
            return None;
        }
        let start = self.ty.find('<')? + 1;
        let end = self.ty.rfind('>')?;
        Some(self.ty.get(start..end)?.trim())
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
    /// `secret_in_key = false` keys the step's `Secret` inputs by their names only, for a step
    /// whose result does not depend on their values; by default a rotated secret re-runs it.
    pub secret_in_key: bool,
    /// The most a capture (`dir`, `file`) may take, in bytes: both the archive streamed from
    /// the container and the files it holds (each hard link counted in full). 2 GiB unless
    /// set; `Container::with_max_output` overrides it for one builder. Not part of the key:
    /// a capture past it fails the step, and failures are never cached.
    pub max_output: u64,
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
        secret_in_key: true,
        max_output: 2 << 30,
    };
}

impl Default for StepSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a step's code digest is made of, fixed when its crate compiles: what the crate's build
/// script found the step to use (when it calls `tanto_build::digests()`), read by the step's
/// expansion with `option_env!`, and what the expansion knows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The step's record from `tanto_build::digests()`: everything it reaches, with digests.
    pub record: Option<&'static str>,
    /// The crate's record: set whenever the build script ran, so a step it did not find (one
    /// made by a macro) is keyed by the whole crate.
    pub crate_record: Option<&'static str>,
    /// The values, as rustc compiled the step, of what its record marks as read when compiled:
    /// variables and `cfg` keys the build script could not see (set by that build script for
    /// rustc alone), each `(label, value)`.
    pub compiled: &'static [(&'static str, Option<&'static str>)],
    /// The package the step is compiled in, `CARGO_PKG_NAME`.
    pub package: Option<&'static str>,
    /// Its version, `CARGO_PKG_VERSION`.
    pub version: Option<&'static str>,
    /// Whether the step is compiled for a unit test (`cfg!(test)`), which the build script
    /// cannot tell.
    pub cfg_test: bool,
}

impl CodeInfo {
    /// A step keyed by its tokens alone: no build script, no package.
    pub const NONE: CodeInfo = CodeInfo {
        record: None,
        crate_record: None,
        compiled: &[],
        package: None,
        version: None,
        cfg_test: false,
    };
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
    /// The fn's tokens (doc attributes left out) in `tanto-tokens`' canonical text, fixed at
    /// compile time, and hashed with the name into the step's code key.
    pub tokens: &'static str,
    /// What else the step's code digest covers: see [`CodeInfo`].
    pub code: CodeInfo,
    /// The inputs, without the context parameter.
    pub params: &'static [ParamInfo],
    /// The output type, as written.
    pub output: &'static str,
    /// Container settings from the attributes.
    pub settings: StepSettings,
}

#[cfg(test)]
impl StepInfo {
    /// A step named `name` with no parameters, no code and no output, for a plan's shape in
    /// tests.
    pub(crate) const fn shape(name: &'static str) -> Self {
        Self {
            name,
            path: name,
            doc: "",
            tokens: "",
            code: CodeInfo::NONE,
            params: &[],
            output: "()",
            settings: StepSettings::DEFAULT,
        }
    }
}

/// The runtime entry of a step: converts inputs, calls the fn, converts outputs.
pub type RunFn = for<'a> fn(&'a Ctx, Vec<Artifact>) -> BoxFuture<'a, Result<Vec<Artifact>>>;

/// Something that can be called inside a `#[pipeline]` body: a step or a pipeline. A type
/// that is neither is reported through [`Step`]'s message, since every step is a `Task` by
/// the blanket impl below.
pub trait Task: 'static {
    /// What a call returns inside a pipeline: a [`Handle`](crate::Handle), or a tuple of them.
    type Handles: FromNode;

    /// Adds this task to the graph with its arguments and returns its handles.
    fn add(b: &mut Builder, args: Vec<Arg>) -> Self::Handles;
}

/// A step: one unit of execution and caching. Implemented by `#[step]`; every step is a
/// [`Task`] through the one blanket impl below, so a step has a single impl of its own.
// The message for a type that is neither a step nor a pipeline: rustc reports such a type
// through this bound of the blanket impl.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tanto step or pipeline",
    label = "not a step",
    note = "only functions marked `#[tanto::step]` or `#[tanto::pipeline]` can be called in a pipeline body"
)]
pub trait Step: 'static {
    /// What a call returns inside a pipeline: a [`Handle`](crate::Handle), or a tuple of them.
    type Handles: FromNode;

    /// The step's metadata.
    const INFO: StepInfo;

    /// Connects to the container engine the step runs on outside a pipeline
    /// ([`Ctx::standalone`]): the `tanto` crate's Docker backend, which the macro names.
    const BACKEND: Connect;

    /// Runs the step's fn with realized inputs, in parameter order.
    fn run(ctx: &Ctx, inputs: Vec<Artifact>) -> BoxFuture<'_, Result<Vec<Artifact>>>;
}

impl<S: Step> Task for S {
    type Handles = S::Handles;

    // Codegened only in a crate that adds the step to a pipeline.
    #[inline]
    fn add(b: &mut Builder, args: Vec<Arg>) -> S::Handles {
        S::Handles::from_node(b.step(S::INFO, S::run, args))
    }
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

    /// Connects to the container engine the pipeline's steps run on: the `tanto` crate's
    /// Docker backend, which the macro names.
    const BACKEND: Connect;

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

/// Never implemented: the bound that reports an argument past the last parameter of task `S`.
///
/// A pipeline passes each argument through the callee's wiring check of that position; a
/// position the callee has no check for falls through to one that bounds the argument by this
/// trait, so the error is on the argument.
#[diagnostic::on_unimplemented(
    message = "`{S}` has no parameter at position {I}",
    label = "this argument has no matching parameter"
)]
pub trait Param<S, const I: usize> {}

/// Implemented by a task for exactly its number of parameters.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take {N} argument(s)",
    label = "wrong number of arguments"
)]
pub trait Arity<const N: usize>: Task {}
