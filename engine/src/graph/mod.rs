//! The pipeline graph: step metadata, typed handles, and the plan a pipeline builds.

mod builder;
mod handle;
mod plan;
mod task;

pub use builder::{Arg, Builder, InputValues, Node, NodeId, NodeKind};
pub use handle::{FromNode, Handle};
pub use plan::Plan;
pub use task::{
    Arity, CodeInfo, Param, ParamInfo, Pipeline, PipelineInfo, RunFn, Step, StepInfo, StepSettings,
    Task,
};
