//! The graph a pipeline body builds: nodes, their arguments, and the finished [`Plan`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};

use crate::artifact::Artifact;
use crate::graph::{Handle, ParamInfo, PipelineInfo, Plan, RunFn, StepInfo};
use crate::shown::shown;

/// The values of a pipeline's value inputs, by parameter name, in their JSON form: what the
/// command line gave, for the inputs that loop or branch the pipeline's graph.
pub type InputValues = BTreeMap<String, serde_json::Value>;

/// The index of a node in a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// What a pipeline whose body could not be built returns as its handles: no node at all.
    pub const UNBUILT: NodeId = NodeId(u32::MAX);

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
    /// A list of arguments given to one `Vec<T>` parameter: the handles a loop collected.
    List(Vec<Arg>),
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
    /// A unique label: the step's name, prefixed by the nested pipelines it is in. Shared by
    /// every event and outcome about the node, which then cost no copy of it.
    pub label: Arc<str>,
    /// What it is.
    pub kind: NodeKind,
    /// Its arguments, in parameter order.
    pub args: Vec<Arg>,
    /// The inputs whose values chose this node: those of the loops and branches around its
    /// call. `--graph` draws them; they are no dependency, since their values are known
    /// before the run.
    pub chosen_by: Vec<NodeId>,
    /// The inputs whose values it takes as literals, bound before the run because the body
    /// loops or branches on them too: `--graph` draws them as edges; no dependency either.
    pub reads: Vec<NodeId>,
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
        self.args.iter().map(|arg| realize(arg, &outputs)).collect()
    }

    /// The nodes this node depends on, without repeats, in argument order.
    pub fn deps(&self) -> Vec<NodeId> {
        let mut deps = Vec::new();
        for arg in &self.args {
            arg.each_handle(&mut |node| {
                if !deps.contains(&node) {
                    deps.push(node);
                }
            });
        }
        deps
    }
}

impl Arg {
    /// Calls `f` with the node of every handle in this argument, a list's items in order.
    pub fn each_handle(&self, f: &mut impl FnMut(NodeId)) {
        match self {
            Arg::Handle { node, .. } => f(*node),
            Arg::Literal(_) => {}
            Arg::List(items) => items.iter().for_each(|item| item.each_handle(f)),
        }
    }
}

/// The artifact `arg` stands for, handles taken from `outputs`. A list is the JSON array of its
/// items' values: only values are collected, as the `Wire` of a `Vec<T>` parameter says.
fn realize<'a>(arg: &Arg, outputs: &impl Fn(NodeId) -> Option<&'a [Artifact]>) -> Artifact {
    let null = || Artifact::Value(serde_json::Value::Null);
    match arg {
        Arg::Literal(value) => Artifact::Value(value.clone()),
        Arg::Handle { node, part } => outputs(*node)
            .and_then(|o| o.get(*part).cloned())
            .unwrap_or_else(null),
        Arg::List(items) => Artifact::Value(serde_json::Value::Array(
            items
                .iter()
                .map(|item| match realize(item, outputs) {
                    Artifact::Value(value) => value,
                    _ => serde_json::Value::Null,
                })
                .collect(),
        )),
    }
}

/// Records the nodes of a pipeline while its body runs. Generated code drives it.
#[derive(Debug, Default)]
pub struct Builder {
    nodes: Vec<Node>,
    /// The label segments of the nested pipelines being built, each with its loop items.
    scope: Vec<String>,
    /// The names of the pipelines being built, outermost first; empty at the top level.
    pipelines: Vec<&'static str>,
    /// The items of the loops around the current call, outermost first, as label text.
    items: Vec<String>,
    /// How many nodes took each label, as it shows (two that differ by a colour code alike).
    label_uses: HashMap<String, usize>,
    warnings: Vec<String>,
    /// What the command line gave each top-level input node.
    values: HashMap<NodeId, serde_json::Value>,
    shaped_by: Vec<(NodeId, serde_json::Value)>,
    unknown: Vec<NodeId>,
    /// For each pipeline being built, outermost first: the node each value its body loops or
    /// branches on came from, by parameter name.
    value_nodes: Vec<HashMap<&'static str, NodeId>>,
    /// The nodes whose values chose the current call: those of each loop and branch around it.
    choosing: Vec<Vec<NodeId>>,
    /// The nodes whose values the next step takes as literals.
    reading: Vec<NodeId>,
    pub(super) errors: Vec<String>,
}

impl Builder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// `name`, followed by the items of the loops around it: `test[1.80,serde]`.
    fn segment(&self, name: &str) -> String {
        if self.items.is_empty() {
            name.to_owned()
        } else {
            format!("{name}[{}]", self.items.join(","))
        }
    }

    fn push(&mut self, name: &str, kind: NodeKind, args: Vec<Arg>) -> NodeId {
        let mut base = self.scope.join("/");
        if !base.is_empty() {
            base.push('/');
        }
        base.push_str(&self.segment(name));
        let uses = self.label_uses.entry(shown(&base)).or_insert(0);
        *uses += 1;
        let label = if *uses == 1 {
            base
        } else {
            format!("{base}-{uses}")
        };
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        let mut chosen_by: Vec<NodeId> = self.choosing.iter().flatten().copied().collect();
        chosen_by.sort_unstable();
        chosen_by.dedup();
        self.nodes.push(Node {
            id,
            label: label.into(),
            kind,
            args,
            chosen_by,
            reads: Vec::new(),
        });
        id
    }

    /// Adds a top-level input node for `param`.
    pub fn input(&mut self, param: ParamInfo) -> NodeId {
        self.push(param.name, NodeKind::Input { param }, Vec::new())
    }

    /// Adds a top-level input node for `param` whose value, when the body loops or branches
    /// on it, is `value`.
    pub fn input_with(&mut self, param: ParamInfo, value: Option<serde_json::Value>) -> NodeId {
        let id = self.input(param);
        if let Some(value) = value {
            self.values.insert(id, value);
        }
        id
    }

    /// Adds a step node and returns its id.
    pub fn step(&mut self, info: StepInfo, run: RunFn, args: Vec<Arg>) -> NodeId {
        let reads = std::mem::take(&mut self.reading);
        let id = self.push(
            info.name,
            NodeKind::Step {
                info: Box::new(info),
                run,
            },
            args,
        );
        self.nodes[id.index()].reads = reads;
        id
    }

    /// Tells the builder that the next call takes the values the body was given under `names`
    /// as literals: the step it adds records their nodes as [`Node::reads`]. (A nested
    /// pipeline's steps do not: its parameters bind the values again.)
    pub fn reads(&mut self, names: &[&str]) {
        self.reading = self.value_nodes_of(names);
    }

    /// The nodes the values the body was given under `names` came from; another name (a
    /// const, a loop's variable) has none.
    fn value_nodes_of(&self, names: &[&str]) -> Vec<NodeId> {
        let known = self.value_nodes.get(self.pipelines.len());
        (names.iter())
            .filter_map(|n| known.and_then(|k| k.get(*n)).copied())
            .collect()
    }

    /// Binds an argument given to a pipeline as the handle its body uses.
    pub fn param<T>(&mut self, name: &'static str, arg: &Arg) -> Handle<T> {
        match arg {
            Arg::Handle { node, part } => Handle::new(*node, *part),
            Arg::Literal(value) => Handle::new(
                self.push(name, NodeKind::Literal(value.clone()), Vec::new()),
                0,
            ),
            Arg::List(_) => {
                let owner = self.pipelines.last().copied().unwrap_or("the pipeline");
                self.errors.push(format!(
                    "pipeline `{owner}` parameter `{name}` is given a list of step outputs, which only a step can take; pass the list to a step, and that step's output to `{owner}`"
                ));
                Handle::new(NodeId::UNBUILT, 0)
            }
        }
    }

    /// Binds an argument given to a value parameter that the body passes on, as
    /// [`Builder::param`]; a value the command line gave it is checked as a `T` here, so a bad
    /// flag (`--mb abc` for a `u32`) is refused before anything runs, as a value the body
    /// loops on is.
    pub fn value_param<T: DeserializeOwned>(&mut self, name: &'static str, arg: &Arg) -> Handle<T> {
        if let Arg::Handle { node, .. } = arg
            && let Some(NodeKind::Input { param }) = self.nodes.get(node.index()).map(|n| &n.kind)
            && let Some(value) = self.values.get(node)
            && let Err(e) = serde_json::from_value::<T>(value.clone())
        {
            let error = format!("--{}: {e}", param.flag());
            if !self.errors.contains(&error) {
                self.errors.push(error);
            }
        }
        self.param(name, arg)
    }

    /// Binds an argument given to a pipeline parameter that its body loops or branches on as
    /// the parameter's value: a literal, or a top-level input the command line gave a value.
    /// `None` when the value is not known (the plan says which input it needed) or is not a
    /// `T` (the plan cannot be built, and says why).
    pub fn value<T: DeserializeOwned>(&mut self, param: &'static str, arg: &Arg) -> Option<T> {
        if let Arg::Handle { node, .. } = arg {
            let depth = self.pipelines.len();
            if self.value_nodes.len() <= depth {
                self.value_nodes.resize_with(depth + 1, HashMap::new);
            }
            self.value_nodes[depth].insert(param, *node);
        }
        let (value, flag) = match arg {
            Arg::Literal(value) => (value.clone(), None),
            Arg::Handle { node, .. } => {
                let node = *node;
                match &self.nodes.get(node.index())?.kind {
                    NodeKind::Input { param: input } => {
                        let flag = input.flag();
                        let Some(value) = self.values.get(&node).cloned() else {
                            if !self.unknown.contains(&node) {
                                self.unknown.push(node);
                            }
                            return None;
                        };
                        if !self.shaped_by.iter().any(|(n, _)| *n == node) {
                            self.shaped_by.push((node, value.clone()));
                        }
                        (value, Some(flag))
                    }
                    NodeKind::Literal(value) => (value.clone(), None),
                    NodeKind::Step { .. } => {
                        let label = self.nodes[node.index()].label.clone();
                        let msg = format!(
                            "it is given the output of step `{label}`, which is known only when the pipeline runs"
                        );
                        self.value_error(param, &msg);
                        return None;
                    }
                }
            }
            Arg::List(_) => {
                self.value_error(
                    param,
                    "it is given a list of step outputs, which are known only when the pipeline runs",
                );
                return None;
            }
        };
        match serde_json::from_value(value) {
            Ok(value) => Some(value),
            Err(e) => {
                match flag {
                    Some(flag) => self.errors.push(format!("--{flag}: {e}")),
                    None => self.value_error(param, &e.to_string()),
                }
                None
            }
        }
    }

    fn value_error(&mut self, param: &str, why: &str) {
        let owner = match self.pipelines.last() {
            Some(name) => format!("pipeline `{name}` parameter `{param}`"),
            None => format!("parameter `{param}`"),
        };
        self.errors.push(format!(
            "{owner} chooses the steps of its pipeline, so its value must be known before the run, but {why}; pass a literal, a const, or an input of the calling pipeline"
        ));
    }

    /// Enters one iteration of a loop of the body over `item`: the steps it adds until
    /// [`Builder::leave_item`] are labelled with the item, `test[serde]`. The item's label
    /// text is a string as it is, a number or `true`, and the parts of a list or a map joined
    /// by `,`; a `/` (which separates nested pipelines in labels) shows as `∕`.
    pub fn enter_item<T: Serialize + ?Sized>(&mut self, item: &T) {
        let value = serde_json::to_value(item).unwrap_or(serde_json::Value::Null);
        self.items.push(item_text(&value).replace('/', "\u{2215}"));
    }

    /// Leaves the iteration entered last.
    pub fn leave_item(&mut self) {
        self.items.pop();
    }

    /// Enters a loop or a branch over an expression that names `names`: the nodes added until
    /// [`Builder::leave_choice`] are chosen by the values among them that the body was given
    /// (its inputs, known before the run), each its node's [`Node::chosen_by`]. Other names
    /// (a const, a loop's variable) choose nothing of their own.
    pub fn enter_choice(&mut self, names: &[&str]) {
        let nodes = self.value_nodes_of(names);
        self.choosing.push(nodes);
    }

    /// Leaves the loop or branch entered last.
    pub fn leave_choice(&mut self) {
        self.choosing.pop();
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
        self.reading.clear();
        let segment = self.segment(name);
        self.scope.push(segment);
        self.pipelines.push(name);
        let items = std::mem::take(&mut self.items);
        let out = body(self);
        self.items = items;
        self.pipelines.pop();
        self.value_nodes.truncate(self.pipelines.len() + 1);
        self.scope.pop();
        out
    }

    /// The finished graph of `pipeline`, whose output is `outputs`.
    pub fn finish(mut self, pipeline: PipelineInfo, mut outputs: Vec<(NodeId, usize)>) -> Plan {
        // A body left unbuilt for want of a value returns handles of no node; whatever took
        // them is only listed, never run, but must not point outside the plan.
        let len = self.nodes.len();
        outputs.retain(|(node, _)| node.index() < len);
        for node in &mut self.nodes {
            for arg in &mut node.args {
                scrub(arg, len);
            }
        }
        Plan {
            pipeline,
            nodes: self.nodes,
            outputs,
            warnings: self.warnings,
            shaped_by: self.shaped_by,
            unknown: self.unknown,
        }
    }
}

/// Replaces each handle in `arg` of a node at or beyond `len` with a null literal.
fn scrub(arg: &mut Arg, len: usize) {
    match arg {
        Arg::Handle { node, .. } if node.index() >= len => {
            *arg = Arg::Literal(serde_json::Value::Null);
        }
        Arg::List(items) => items.iter_mut().for_each(|item| scrub(item, len)),
        Arg::Handle { .. } | Arg::Literal(_) => {}
    }
}

/// How a loop item reads in a label: a string as it is, the parts of a list or a map joined by
/// `,` (a map's as `key=value`), anything else as JSON.
fn item_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(item_text).collect::<Vec<_>>().join(",")
        }
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", item_text(v)))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}
