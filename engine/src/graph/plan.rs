//! [`Plan`]: a pipeline's finished graph, built by running its body once with a [`Builder`].

use crate::error::{Error, Result};
use crate::graph::{
    Arg, Builder, FromNode, InputValues, Node, NodeId, Pipeline, PipelineInfo, StepInfo,
};

/// A pipeline's whole graph, known before anything runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The pipeline.
    pub pipeline: PipelineInfo,
    /// Every node, in an order where arguments come before their users.
    pub nodes: Vec<Node>,
    /// The pipeline's final outputs.
    pub outputs: Vec<(NodeId, usize)>,
    /// What the graph does differently from what its code may suggest, for the user to see
    /// before a run: a nested pipeline's `#[dir(..)]` that does not apply.
    pub warnings: Vec<String>,
    /// The top-level inputs whose values chose the graph's shape (the body loops or branches
    /// on them), each with the value it had: the flags that change the graph.
    pub shaped_by: Vec<(NodeId, serde_json::Value)>,
    /// The top-level inputs the body loops or branches on that had no value: the steps they
    /// choose are missing. Only a plan built without the command line has any.
    pub unknown: Vec<NodeId>,
}

impl Plan {
    /// Builds the plan of pipeline `P` without the command line, with one input node per
    /// parameter. A `bool` input the body branches on is `false` and an `Option` is `None`, as
    /// when their flags are left out; where the body loops or branches on another input, the
    /// steps that depend on it are missing and [`Plan::unknown`] names it.
    ///
    /// # Panics
    ///
    /// When the graph can never be built: a nested pipeline that loops or branches on a
    /// parameter is given a step's output for it. [`Plan::with`] returns that as an error.
    pub fn of<P: Pipeline>() -> Plan
    where
        P::Handles: FromNode,
    {
        Self::with::<P>(&InputValues::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds the plan of pipeline `P` for the command line's `values`: the inputs its body
    /// loops or branches on take theirs from it (a `bool` left out is `false`, an `Option`
    /// `None`). Errors when a value is not of its parameter's type, or a nested pipeline that
    /// loops or branches on a parameter is given a step's output for it.
    pub fn with<P: Pipeline>(values: &InputValues) -> Result<Plan>
    where
        P::Handles: FromNode,
    {
        let mut b = Builder::new();
        let args = P::INFO
            .params
            .iter()
            .map(|param| {
                let value = values
                    .get(param.name)
                    .cloned()
                    .or_else(|| param.absent_value());
                Arg::Handle {
                    node: b.input_with(*param, value),
                    part: 0,
                }
            })
            .collect();
        let out = P::build(&mut b, args);
        if !b.errors.is_empty() {
            return Err(Error::Usage(b.errors.join("\n")));
        }
        Ok(b.finish(P::INFO, out.parts()))
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The step nodes, in order.
    pub fn steps(&self) -> impl Iterator<Item = (&Node, &StepInfo)> {
        self.nodes.iter().filter_map(|n| n.step().map(|s| (n, s)))
    }

    /// The node labelled `label`.
    pub fn find(&self, label: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| *n.label == *label)
    }
}
