//! The `#[step]` and `#[pipeline]` attribute macros of [tanto](https://docs.rs/tanto).
//!
//! Use them through the `tanto` crate, which re-exports both: `use tanto::prelude::*;`.
//! Generated code names the runtime only through `::tanto::__private`, so the `tanto` crate must
//! be a dependency under that name.

mod ast;
mod attr;
mod body;
mod ctxt;
mod expand;
mod fallback;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Marks an `async fn` as a step: one unit of execution and caching, run in a container.
///
/// ```no_run
/// use tanto::prelude::*;
///
/// /// Builds the workspace and returns the profile's target folder.
/// #[step(image = "rust:1.95-slim", cache("/usr/local/cargo/registry" = "cargo-registry"))]
/// pub async fn build(ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
///     let _ = (ctx, profile);
///     Ok(src)
/// }
/// # fn main() {}
/// ```
///
/// # Signature
///
/// - The first parameter is the step's context, `ctx: &Ctx`; it starts containers.
/// - Every other parameter is an input, one edge of the graph: a [`Dir`], a [`File`], or an owned
///   value that implements `serde::Serialize` and `serde::de::DeserializeOwned` (`String`, a
///   number, your own `#[derive(Serialize, Deserialize)]` type). Parameters are plain names.
/// - It returns `Result<T>`, where `T` is `()`, a `Dir`, a `File`, a serde value, or a tuple of
///   those; each element of a tuple is a separate output that later steps can take.
///
/// The fn stays callable as itself, so a step can be unit tested like any async fn. Beside it the
/// macro adds a hidden item of the same name in the type namespace that implements the runtime's
/// `Step` trait, which is what a `#[pipeline]` body uses.
///
/// # Attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `image = "rust:1.95-slim"` | the image of the step's containers; also the path of a `&str` const, `image = IMAGE` |
/// | `cache("/container/path" = "volume", ..)` | named volumes mounted into the container, outside the cache key; repeatable |
/// | `env(KEY = "value", ..)` | environment of the step's containers; repeatable |
/// | `workdir = "/src"` | the default working directory, an absolute path |
/// | `user = "1000"` | the default user |
/// | `timeout = "10m"` | kill the step after this long: `500ms`, `90s`, `10m`, `1h30m` |
/// | `version = "2"` | a manual salt for the cache key, for changes the code cannot show |
/// | `side_effect` | never cache this step (deploys, publishing) |
/// | `name = "build-release"` | the step's label in the graph and the output; the fn's name by default |
/// | `network = false` | turn the container's network off |
/// | `secret_in_key = false` | key the step's `Secret` inputs by name only, for a step whose result does not depend on their values |
/// | `memory = "2g"` | a memory limit: bytes, or a number with `k`, `m` or `g` |
/// | `cpus = "1.5"` | a CPU limit |
/// | `docker_socket` | mount the Docker daemon's socket into the container; never on by default |
///
/// ```no_run
/// use tanto::prelude::*;
///
/// /// Publishes the crate.
/// #[step(
///     image = "rust:1.95-slim",
///     env(CARGO_TERM_COLOR = "never"),
///     workdir = "/src",
///     timeout = "10m",
///     side_effect,
///     memory = "2g",
///     cpus = "1.5",
/// )]
/// pub async fn publish(ctx: &Ctx, src: Dir) -> Result<()> {
///     let _ = (ctx, src);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # The code digest
///
/// The step's tokens are written at compile time, in a canonical text without whitespace,
/// comments or docs, into a constant that the runtime hashes into its cache key: editing a step's code re-runs it and what depends on it, while whitespace, comments and docs
/// change nothing. When the crate's build script calls `tanto_build::digests()`, the key also
/// covers what the step uses: the consts, fns, types and macros it reaches in its crate, and
/// the dependencies it calls. The expansion reads that record with `option_env!`, so a crate
/// without the build script compiles as before.
///
/// [`Dir`]: https://docs.rs/tanto/latest/tanto/struct.Dir.html
/// [`File`]: https://docs.rs/tanto/latest/tanto/struct.File.html
#[proc_macro_attribute]
pub fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::step(args.into(), item.into()).into()
}

/// Marks a fn as a pipeline: a graph of steps, checked by rustc and known before anything runs.
///
/// ```
/// use tanto::prelude::*;
///
/// #[step(image = "rust:1.95-slim")]
/// async fn fmt(ctx: &Ctx, src: Dir) -> Result<()> {
///     let _ = (ctx, src);
///     Ok(())
/// }
///
/// #[step(image = "rust:1.95-slim")]
/// async fn build(ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
///     let _ = (ctx, profile);
///     Ok(src)
/// }
///
/// #[step(image = "debian:bookworm-slim")]
/// async fn smoke(ctx: &Ctx, bin: Dir) -> Result<()> {
///     let _ = (ctx, bin);
///     Ok(())
/// }
///
/// /// Checks, builds and smoke-tests the workspace.
/// #[pipeline]
/// pub fn ci(src: Dir) -> Dir {
///     fmt(src);
///     let bin = build(src, "release");
///     smoke(bin);
///     bin
/// }
///
/// # let plan = tanto::__internal::graph::Plan::of::<ci>();
/// # let labels: Vec<&str> = plan.steps().map(|(node, _)| &*node.label).collect();
/// # assert_eq!(labels, ["fmt", "build", "smoke"]);
/// ```
///
/// # Body
///
/// Inside a pipeline, calling a step does not run it: it adds the step to the graph and returns
/// a typed `Handle` to its output. Passing a handle to another step is an edge, so the graph is
/// acyclic by construction and a wrong wiring is a type error at the argument. A body may only
///
/// - call a step or pipeline by name or path, `fmt(src);`,
/// - bind its output, `let bin = build(src, "release");` or `let (a, b) = split(bin);`,
/// - loop with `for` over a value known before the run (a literal, a const, a range, a value
///   input of the pipeline, or a loop variable): the plan has one step per item, labelled by
///   it, `test[stable]`,
/// - collect outputs in a list, `let mut all = Vec::new();` and `all.push(test(src, v));`,
///   which a step taking a `Vec<T>` receives whole (fan-in),
/// - branch with `if`, `if let` or `match` on such values: the branch taken adds its steps,
/// - end with the pipeline's output: a binding, a tuple of bindings, or a step call.
///
/// Arguments are the pipeline's parameters, earlier bindings, loop variables, collected lists,
/// literals, or consts, each as it is or by `&` (`count(&versions);`, then a loop over
/// `&versions`).
/// Closures, macro calls, `.await`, `while`, `loop`, other calls and method calls are rejected,
/// as is a loop or a branch over a step's output, a `Dir`, a `File` or a `Secret`: the graph
/// is known before anything runs. A value input the body loops or branches on is read from the
/// command line when the plan is built, so `--graph` and `--plan` show the graph for the flags
/// given.
///
/// ```
/// use tanto::prelude::*;
///
/// #[step(image = "rust:1.95-slim")]
/// async fn test(ctx: &Ctx, src: Dir, toolchain: String) -> Result<String> {
///     let _ = (ctx, src);
///     Ok(toolchain)
/// }
///
/// #[step(image = "rust:1.95-slim")]
/// async fn report(ctx: &Ctx, results: Vec<String>) -> Result<String> {
///     let _ = ctx;
///     Ok(results.join("\n"))
/// }
///
/// #[step(image = "rust:1.95-slim", side_effect)]
/// async fn publish(ctx: &Ctx, report: String) -> Result<()> {
///     let _ = (ctx, report);
///     Ok(())
/// }
///
/// /// Tests with each toolchain, reports, and publishes the report under `--release`.
/// #[pipeline]
/// pub fn ci(src: Dir, release: bool) -> String {
///     let mut results = Vec::new();
///     for toolchain in ["1.80", "stable"] {
///         results.push(test(src, toolchain));
///     }
///     let all = report(results);
///     if release {
///         publish(all);
///     }
///     all
/// }
///
/// # use tanto::__internal::graph::{InputValues, Plan};
/// # let labels = |plan: &Plan| plan.steps().map(|(n, _)| n.label.to_string()).collect::<Vec<_>>();
/// # assert_eq!(labels(&Plan::of::<ci>()), ["test[1.80]", "test[stable]", "report"]);
/// # let release = InputValues::from([("release".to_owned(), true.into())]);
/// # let plan = Plan::with::<ci>(&release).unwrap();
/// # assert_eq!(labels(&plan), ["test[1.80]", "test[stable]", "report", "publish"]);
/// ```
///
/// # Signature
///
/// The parameters are the pipeline's inputs: a `Dir` is bound to a host folder, whose files
/// `#[dir(..)]` can choose (below), and a value becomes a command-line flag. The return type is nothing, one output type, or a tuple of them.
///
/// The fn becomes a unit struct of the same name, so it can be passed as a value, for example
/// `tanto::cli().pipeline(ci)`, and called inside another pipeline exactly like a step.
/// `#[pipeline(name = "..")]` sets the name the command line uses.
///
/// # Choosing the files of a `Dir`: `#[dir(..)]`
///
/// A `Dir` input bound to a host folder takes every file of it that git does not ignore.
/// `#[dir(..)]` on the parameter chooses otherwise; every key is optional:
///
/// | key | meaning |
/// |---|---|
/// | `include = ["src/**", "Cargo.*"]` | keep only the files and symlinks that match one of these globs |
/// | `exclude = "docs/**"` | leave out the files and folders that match one of these globs |
/// | `gitignore = false` | turn off the `.gitignore`, `.ignore` and `.git/info/exclude` rules and keep `.git`; by default the rules apply and `.git` is left out |
///
/// `include` and `exclude` take one glob or a list of them. Globs are `/`-separated and relative
/// to the folder: `*` matches within one path component, `**` across any number of them. They
/// are checked when the pipeline runs.
///
/// The folder's digest and the steps' containers see exactly the selected files: a step can
/// never read a file its cache key does not cover, and editing a file left out re-runs nothing.
///
/// The selection applies where the folder is bound to a host path, that is in the top-level
/// pipeline run from the command line. When the pipeline is called inside another, its `Dir`
/// arrives already selected by the outer pipeline. A step takes its `Dir` from its caller, so
/// `#[dir(..)]` on a step's parameter is an error.
///
/// ```
/// use tanto::prelude::*;
///
/// #[step(image = "rust:1.95-slim")]
/// async fn test(ctx: &Ctx, src: Dir) -> Result<()> {
///     let _ = (ctx, src);
///     Ok(())
/// }
///
/// /// Tests the crate: only its sources and manifests count, and generated code never does.
/// #[pipeline]
/// pub fn ci(#[dir(include = ["src/**", "Cargo.*"], exclude = "src/generated/**")] src: Dir) {
///     test(src);
/// }
///
/// # let select = <ci as tanto::__private::Pipeline>::INFO.params[0].select;
/// # assert_eq!(select.include, ["src/**", "Cargo.*"]);
/// # assert_eq!(select.exclude, ["src/generated/**"]);
/// # assert!(select.gitignore);
/// ```
#[proc_macro_attribute]
pub fn pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::pipeline(args.into(), item.into()).into()
}
