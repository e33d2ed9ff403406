//! Not public API: the paths that `#[step]` and `#[pipeline]` expansions name. They live in
//! this crate, the one the macros name, and come from the engine's layers; [`docker`] is the
//! container engine a step or pipeline connects to.

pub use futures_util::future::BoxFuture;
pub use serde_json::Value as Json;

pub use crate::docker::connect as docker;
pub use crate::wire::Wire;
pub use std::boxed::Box;
pub use std::option::Option::{None, Some};
pub use std::result::Result::{Err, Ok};
pub use std::time::Duration;
pub use std::vec::Vec;
pub use std::{cfg, concat, module_path, option_env, stringify, vec};
pub use tanto_engine::__internal::backend::Connect;
pub use tanto_engine::__internal::graph::{
    Arg, Arity, Builder, CodeInfo, FromNode, NodeId, Param, ParamInfo, Pipeline, PipelineInfo,
    RunFn, Step, StepInfo, StepSettings, Task,
};
pub use tanto_engine::__internal::{Artifact, FromArtifact, IntoArtifact};
pub use tanto_engine::{Ctx, DirSelect, Error, Handle, Result};

/// Converts argument `arg` for a parameter of type `T`; the wiring check of one argument
/// (the bound that names the step and the parameter is on the fn that calls this).
pub fn wire<T, A: Wire<T>>(arg: A) -> Arg {
    arg.into_arg()
}

/// What an argument past task `S`'s last parameter goes through: `Param` has no impls, so
/// the bound reports it, and this body never runs.
pub fn extra_arg<S, const I: usize, A: Param<S, I>>(arg: A) -> Arg {
    drop(arg);
    Arg::List(Vec::new())
}

/// Checks that task `S` takes `N` arguments.
pub fn arity<S: Arity<N>, const N: usize>() {}

/// Adds task `S` to the graph with `args`.
pub fn call<S: Task>(b: &mut Builder, args: Vec<Arg>) -> S::Handles {
    S::add(b, args)
}

/// A step's inputs as its `run` takes them, in parameter order; the first input that cannot
/// be taken is kept, and `run` returns it.
pub struct Inputs {
    iter: std::vec::IntoIter<Artifact>,
    step: &'static str,
    error: Option<Error>,
}

impl Inputs {
    /// The inputs `run` was given for step `step`.
    pub fn new(inputs: Vec<Artifact>, step: &'static str) -> Self {
        Inputs {
            iter: inputs.into_iter(),
            step,
            error: None,
        }
    }

    /// What `run` returns when an input could not be taken: the first error.
    pub fn fail<'a>(self) -> BoxFuture<'a, Result<Vec<Artifact>>> {
        let step = self.step;
        let error = self
            .error
            .unwrap_or_else(|| Error::Wiring(format!("step `{step}` lost an input")));
        Box::pin(std::future::ready(Err(error)))
    }
}

/// Takes the next input of a step, converting it to the parameter's type; `None` once an
/// input has failed, whose error `inputs` keeps.
pub fn take_input<T: FromArtifact>(inputs: &mut Inputs, param: &str) -> Option<T> {
    if inputs.error.is_some() {
        return None;
    }
    let step = inputs.step;
    let taken = inputs
        .iter
        .next()
        .ok_or_else(|| Error::Wiring(format!("step `{step}` parameter `{param}` got no input")))
        .and_then(|artifact| T::from_artifact(artifact, step, param));
    taken.map_err(|e| inputs.error = Some(e)).ok()
}

/// Runs one step: awaits its fn's future `fut` and converts what it returns with `outputs`.
/// Every step's `run` is this, so the async body is written and borrow checked once.
pub fn run_step<'a, F, T: 'a>(
    fut: F,
    outputs: fn(T) -> Result<Vec<Artifact>>,
) -> BoxFuture<'a, Result<Vec<Artifact>>>
where
    F: std::future::Future<Output = Result<T>> + Send + 'a,
{
    Box::pin(async move { outputs(fut.await?) })
}

/// The outputs of a step that returns `()`: none.
pub fn no_output(_: ()) -> Result<Vec<Artifact>> {
    Ok(Vec::new())
}

/// The output of a step that returns one value.
pub fn one_output<T: IntoArtifact>(value: T) -> Result<Vec<Artifact>> {
    Ok(vec![value.into_artifact()?])
}

/// A type a pipeline can return: what its steps return, never a `Secret`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a pipeline's output",
    label = "not a pipeline output",
    note = "a pipeline returns what its steps return: a `Dir`, a `File`, a serde value, or a tuple of those; a `Secret` is never an output"
)]
pub trait PipelineOutput {}

impl<T: IntoArtifact> PipelineOutput for T {}

/// Checks that `T` can be a pipeline's output.
pub fn pipeline_output<T: PipelineOutput>() {}

/// Converts one returned value into an output artifact.
pub fn output<T: IntoArtifact>(value: T) -> Result<Artifact> {
    value.into_artifact()
}

/// A value a pipeline body loops over: known before the run, and named in the labels of the
/// steps made for it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a loop item in a pipeline body",
    label = "a loop item must implement `serde::Serialize`: it names the steps made for it",
    note = "a pipeline body loops over values known before the run (a literal, a const, a range, a value input); a step's output is known only when the pipeline runs"
)]
pub trait PlanValue: serde::Serialize {}

impl<T: serde::Serialize + ?Sized> PlanValue for T {}

/// The items a pipeline body loops over, each with its JSON form, which labels the steps made
/// for it. The bound is on the loop's own expression, so an item that is not a serde value (a
/// handle) is reported there.
pub fn plan_items<I>(items: I) -> impl Iterator<Item = (Json, I::Item)>
where
    I: IntoIterator,
    I::Item: PlanValue,
{
    items
        .into_iter()
        .map(|item| (serde_json::to_value(&item).unwrap_or(Json::Null), item))
}

/// Enters one iteration of a loop over the item whose JSON form is `item` (see
/// [`Builder::enter_item`]).
pub fn enter_item(b: &mut Builder, item: Json) {
    b.enter_item(&item);
}

/// What a pipeline body returns when a value it loops or branches on is not known: handles
/// of no node. The plan says which input it needed.
pub fn unbuilt<H: FromNode>() -> H {
    H::from_node(NodeId::UNBUILT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: serde_json::Value) -> Artifact {
        Artifact::Value(v)
    }

    #[tokio::test]
    async fn inputs_are_taken_in_order() {
        let mut inputs = Inputs::new(vec![value("a".into()), value(2.into())], "s");
        let a: Option<String> = take_input(&mut inputs, "a");
        let b: Option<u32> = take_input(&mut inputs, "b");
        assert_eq!((a.as_deref(), b), (Some("a"), Some(2)));
    }

    #[tokio::test]
    async fn the_first_input_that_fails_is_the_error() {
        let mut inputs = Inputs::new(vec![value("a".into()), value("b".into())], "s");
        let a: Option<u32> = take_input(&mut inputs, "a");
        // Taken after a failure: `None`, and the first error stays.
        let b: Option<String> = take_input(&mut inputs, "b");
        assert_eq!((a, b), (None, None));
        let err = inputs.fail().await.expect_err("an input failed");
        let text = err.to_string();
        assert!(text.contains("`a`"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_input_names_the_parameter() {
        let mut inputs = Inputs::new(vec![value("a".into())], "s");
        let _: Option<String> = take_input(&mut inputs, "a");
        let b: Option<String> = take_input(&mut inputs, "b");
        assert!(b.is_none());
        let err = inputs.fail().await.expect_err("an input is missing");
        assert_eq!(
            err.to_string(),
            Error::Wiring("step `s` parameter `b` got no input".into()).to_string()
        );
    }

    #[tokio::test]
    async fn run_step_converts_what_the_fn_returns() {
        let out = run_step(async { Ok(7u32) }, one_output::<u32>).await;
        assert!(matches!(out.as_deref(), Ok([Artifact::Value(v)]) if v == 7));
        let none = run_step(async { Ok(()) }, no_output).await;
        assert!(none.is_ok_and(|v| v.is_empty()));
        let failed = run_step(
            async { Err::<u32, _>(Error::Wiring("x".into())) },
            one_output::<u32>,
        );
        assert!(failed.await.is_err());
    }
}
