//! The graph a pipeline body builds: nodes, their arguments, and the finished [`Plan`].

use std::collections::HashMap;

use serde::Serialize;

use crate::artifact::Artifact;

use crate::graph::{FromNode, Handle, ParamInfo, Pipeline, PipelineInfo, RunFn, StepInfo};

/// The index of a node in a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's position in [`Plan::nodes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One argument of a node: another node's output, or a literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Part `part` of node `node`'s output.
    Handle {
        /// The producing node.
        node: NodeId,
        /// Which part of its output.
        part: usize,
    },
    /// A literal written in the pipeline body, in its JSON form.
    Literal(serde_json::Value),
}

impl Arg {
    /// A literal argument.
    pub fn literal<T: Serialize + ?Sized>(value: &T) -> Self {
        // Serializing a literal of a serde type only fails for maps with non-string keys.
        Arg::Literal(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
    }
}

/// What a node is.
#[derive(Clone)]
pub enum NodeKind {
    /// A parameter of the top-level pipeline, bound from the command line.
    Input {
        /// The parameter.
        param: ParamInfo,
    },
    /// A literal passed to a nested pipeline's parameter.
    Literal(serde_json::Value),
    /// A step to run.
    Step {
        /// Its metadata.
        info: Box<StepInfo>,
        /// Its entry point.
        run: RunFn,
    },
}

impl std::fmt::Debug for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKind::Input { param } => f.debug_struct("Input").field("param", param).finish(),
            NodeKind::Literal(v) => f.debug_tuple("Literal").field(v).finish(),
            NodeKind::Step { info, .. } => {
                f.debug_struct("Step").field("path", &info.path).finish()
            }
        }
    }
}

/// One node of a plan.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its index.
    pub id: NodeId,
    /// A unique label: the step's name, prefixed by the nested pipelines it is in.
    pub label: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its arguments, in parameter order.
    pub args: Vec<Arg>,
}

impl Node {
    /// The step's metadata, if this node is a step.
    pub fn step(&self) -> Option<&StepInfo> {
        match &self.kind {
            NodeKind::Step { info, .. } => Some(info),
            _ => None,
        }
    }

    /// The node's inputs as artifacts, in parameter order: literals as values, handles from
    /// `outputs` (the finished outputs of a node, if any). A literal node's input is its value.
    pub fn realize_args<'a>(
        &self,
        outputs: impl Fn(NodeId) -> Option<&'a [Artifact]>,
    ) -> Vec<Artifact> {
        if let NodeKind::Literal(value) = &self.kind {
            return vec![Artifact::Value(value.clone())];
        }
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::Literal(value) => Artifact::Value(value.clone()),
                Arg::Handle { node, part } => outputs(*node)
                    .and_then(|o| o.get(*part).cloned())
                    .unwrap_or(Artifact::Value(serde_json::Value::Null)),
            })
            .collect()
    }

    /// The nodes this node depends on, without repeats, in argument order.
    pub fn deps(&self) -> Vec<NodeId> {
        let mut deps = Vec::new();
        for arg in &self.args {
            if let Arg::Handle { node, .. } = arg
                && !deps.contains(node)
            {
                deps.push(*node);
            }
        }
        deps
    }
}

/// Records the nodes of a pipeline while its body runs. Generated code drives it.
#[derive(Debug, Default)]
pub struct Builder {
    nodes: Vec<Node>,
    scope: Vec<&'static str>,
    label_uses: HashMap<String, usize>,
    warnings: Vec<String>,
}

impl Builder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, name: &str, kind: NodeKind, args: Vec<Arg>) -> NodeId {
        let mut base = self.scope.join("/");
        if !base.is_empty() {
            base.push('/');
        }
        base.push_str(name);
        let uses = self.label_uses.entry(base.clone()).or_insert(0);
        *uses += 1;
        let label = if *uses == 1 {
            base
        } else {
            format!("{base}-{uses}")
        };
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(Node {
            id,
            label,
            kind,
            args,
        });
        id
    }

    /// Adds a top-level input node for `param`.
    pub fn input(&mut self, param: ParamInfo) -> NodeId {
        self.push(param.name, NodeKind::Input { param }, Vec::new())
    }

    /// Adds a step node and returns its id.
    pub fn step(&mut self, info: StepInfo, run: RunFn, args: Vec<Arg>) -> NodeId {
        self.push(
            info.name,
            NodeKind::Step {
                info: Box::new(info),
                run,
            },
            args,
        )
    }

    /// Binds an argument given to a pipeline as the handle its body uses.
    pub fn param<T>(&mut self, name: &'static str, arg: &Arg) -> Handle<T> {
        match arg {
            Arg::Handle { node, part } => Handle::new(*node, *part),
            Arg::Literal(value) => Handle::new(
                self.push(name, NodeKind::Literal(value.clone()), Vec::new()),
                0,
            ),
        }
    }

    /// Runs `body` with labels prefixed by the name of `pipeline`, nested in the one being
    /// built. A `#[dir(..)]` selection on its parameters does not apply there (the folder
    /// arrives as the outer pipeline selected it), which the plan's warnings say.
    pub fn nested<R>(&mut self, pipeline: PipelineInfo, body: impl FnOnce(&mut Self) -> R) -> R {
        let name = pipeline.name;
        for param in pipeline.params {
            if let Some(select) = param.select.describe() {
                self.warnings.push(format!(
                    "pipeline `{name}` runs nested here, so `#[dir(..)]` on its `{}` ({select}) \
                     does not apply: the folder arrives as the calling pipeline selected it; \
                     put the selection on the calling pipeline's parameter",
                    param.name
                ));
            }
        }
        self.scope.push(name);
        let out = body(self);
        self.scope.pop();
        out
    }

    /// The finished graph of `pipeline`, whose output is `outputs`.
    pub fn finish(self, pipeline: PipelineInfo, outputs: Vec<(NodeId, usize)>) -> Plan {
        Plan {
            pipeline,
            nodes: self.nodes,
            outputs,
            warnings: self.warnings,
        }
    }
}

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
}

impl Plan {
    /// Builds the plan of pipeline `P`, with one input node per parameter.
    pub fn of<P: Pipeline>() -> Plan
    where
        P::Handles: FromNode,
    {
        let mut b = Builder::new();
        let args = P::INFO
            .params
            .iter()
            .map(|param| Arg::Handle {
                node: b.input(*param),
                part: 0,
            })
            .collect();
        let out = P::build(&mut b, args);
        b.finish(P::INFO, out.parts())
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
        self.nodes.iter().find(|n| n.label == label)
    }
}
