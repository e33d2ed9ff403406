//! `--plan`: each step's verdict without running anything: the record a hit found and when it
//! was made, or why a step would run; what its code key covers when that is not exactly the
//! items it uses; and, for the steps named (`--plan STEP..`), every part of its key.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::artifact::Artifact;
use crate::cache::{CodeKey, Cover, KeyRecord, Reason, explain};
use crate::graph::{Arg, Node, NodeId, NodeKind, Plan, StepInfo};
use crate::report::{listed, plural, shown, utc};
use crate::run::runner::{Lookup, StepRunner};

/// A step's verdict in `--plan`.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The step's label.
    pub label: String,
    /// Whether its result is in the cache.
    pub cached: bool,
    /// Whether it runs only if what steps that will run make for it changes: it waits on
    /// them, and its own parts of the key are as when it last ran.
    pub may: bool,
    /// Why it would run.
    pub reason: Option<String>,
    /// For a hit, the record it found.
    pub hit: Option<Hit>,
    /// What its code key covers, when it is not exactly the items the step uses.
    pub note: Option<String>,
    /// Whether it is a side effect or downstream of one: `--require-cache` lets it run, since
    /// a side effect always runs and what follows one learns its inputs only then.
    pub after_side_effect: bool,
    /// For a step named after `--plan`: its key, part by part, one line each.
    pub detail: Vec<String>,
}

/// The steps of `plan` downstream of a side effect, side effects included, by node index.
pub(super) fn after_side_effects(plan: &Plan) -> HashSet<usize> {
    let mut after = HashSet::new();
    for node in &plan.nodes {
        let own = node.step().is_some_and(|info| info.settings.side_effect);
        if own || node.deps().iter().any(|d| after.contains(&d.index())) {
            after.insert(node.id.index());
        }
    }
    after
}

/// The nodes of `plan` that can know a secret's value, by node index: a top-level input bound
/// to a secret (`inputs`: the top-level inputs' artifacts by node index), a step given the
/// daemon's socket (it could read another container's secret files), and every node
/// downstream of one. A value that another step returns is its own, even where it happens to
/// read like a secret: it is recorded and passed on as it is, and masked only where it is shown.
pub(super) fn near_secrets(plan: &Plan, inputs: &HashMap<usize, Artifact>) -> HashSet<usize> {
    let mut near = HashSet::new();
    for node in &plan.nodes {
        let secret = inputs.get(&node.id.index());
        let own = matches!(secret, Some(Artifact::Secret(_)))
            || node.step().is_some_and(|info| info.settings.docker_socket);
        if own || node.deps().iter().any(|d| near.contains(&d.index())) {
            near.insert(node.id.index());
        }
    }
    near
}

/// The action-cache record a step hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The record's key, short.
    pub record: String,
    /// When it was made, in UTC.
    pub made: String,
    /// How long the step ran then.
    pub ran: Duration,
    /// Whether the shared cache holds it (the local store does not).
    pub remote: bool,
}

/// How many of a key's code items `--plan STEP` lists.
const SHOWN_ITEMS: usize = 30;

impl StepRunner {
    /// Why a step whose upstream has yet to run would miss anyway: it runs whatever its key
    /// (forced, a side effect), or its own code, image, settings or the inputs already known
    /// differ from its last key; `key` is its key without the inputs not known yet.
    fn partial_reason(
        &self,
        node: &Node,
        info: &StepInfo,
        known: &HashMap<usize, Vec<Artifact>>,
        key: Option<&KeyRecord>,
    ) -> Option<String> {
        if let Some(why) = self.runs_anyway(&node.label, info) {
            return Some(why);
        }
        let key = key?;
        let mut previous = match self.run.store.last_key(&self.history_name(&node.label)) {
            Ok(Some(previous)) => previous,
            Ok(None) => return Some(Reason::FirstRun.to_string()),
            Err(_) => return None,
        };
        // A list not known yet that holds another number of items (a fan-in over another
        // matrix) changes the key whatever its items are.
        let mut reasons = Vec::new();
        for (param, _) in waiting_params(node, info, known) {
            let arg = (info.params.iter().zip(&node.args)).find(|(p, _)| p.name == param);
            if let Some((_, Arg::List(items))) = arg
                && let Some(old) = previous.inputs.get(param).and_then(|i| i.items)
                && old != items.len()
            {
                let (param, new) = (param.to_owned(), items.len());
                reasons.push(Reason::ItemsChanged { param, old, new });
            }
            previous.forget_input(param);
        }
        reasons.extend(explain(Some(&previous), key, self.run.store.as_ref()));
        let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The key of a step that waits on steps that will run, without the inputs they make.
    async fn known_key(
        &self,
        node: &Node,
        info: &StepInfo,
        known: &HashMap<usize, Vec<Artifact>>,
    ) -> Option<KeyRecord> {
        let inputs = node.realize_args(|id| known.get(&id.index()).map(Vec::as_slice));
        let mut key = self.key(node, info, &inputs).await.ok()?;
        for (param, _) in waiting_params(node, info, known) {
            key.forget_input(param);
        }
        Some(key)
    }

    /// What `--plan` shows: each step cached or not, and why, without running anything; with
    /// every part of the key for the steps in `detail`.
    // Long, but one walk of the graph in order: a verdict per node kind.
    pub async fn explain_plan(&self, plan: &Plan, detail: &[String]) -> Vec<Explained> {
        let mut known: HashMap<usize, Vec<Artifact>> = HashMap::new();
        let mut after_side_effect: HashSet<usize> = HashSet::new();
        let mut out = Vec::new();
        for node in &plan.nodes {
            let index = node.id.index();
            let info = match &node.kind {
                NodeKind::Input { .. } => {
                    if let Some(a) = self.inputs.get(&index) {
                        known.insert(index, vec![a.clone()]);
                    }
                    continue;
                }
                NodeKind::Literal(v) => {
                    known.insert(index, vec![Artifact::Value(v.clone())]);
                    continue;
                }
                NodeKind::Step { info, .. } => info,
            };
            let code = CodeKey::of(info);
            let mut e = Explained {
                label: node.label.to_string(),
                cached: false,
                may: false,
                reason: None,
                hit: None,
                note: code.note().filter(|_| code.uncacheable().is_none()),
                after_side_effect: info.settings.side_effect
                    || node
                        .deps()
                        .iter()
                        .any(|d| after_side_effect.contains(&d.index())),
                detail: Vec::new(),
            };
            let wanted = detail.iter().any(|d| **d == *node.label);
            let waiting: Vec<usize> = node
                .deps()
                .iter()
                .map(|d| d.index())
                .filter(|d| !known.contains_key(d))
                .collect();
            if let Some(&first) = waiting.first() {
                let mut reason = format!("upstream `{}` will run", self.labels[first]);
                let key = self.known_key(node, info, &known).await;
                let own = self.partial_reason(node, info, &known, key.as_ref());
                match &own {
                    Some(own) => reason = format!("{own}; {reason}"),
                    None => e.may = true,
                }
                e.reason = Some(reason);
                if wanted && let Some(key) = key {
                    // Its key is not known until they have run: only the parts that are.
                    e.detail = key_detail(&key, &code);
                    e.detail[0] =
                        "key not known yet: it depends on what steps that will run make".into();
                    for (param, makers) in waiting_params(node, info, &known) {
                        let makers: Vec<String> = (makers.iter())
                            .map(|n| format!("`{}`", shown(&self.labels[n.index()])))
                            .collect();
                        e.detail.push(format!(
                            "input `{param}` not known yet: made by {}, which will run",
                            listed(&makers)
                        ));
                    }
                }
            } else {
                let inputs = node.realize_args(|id| known.get(&id.index()).map(Vec::as_slice));
                match self.lookup(node, info, &inputs).await {
                    Ok(Lookup::Hit(hit, outputs, remote)) => {
                        known.insert(index, outputs);
                        e.cached = true;
                        e.hit = Some(Hit {
                            record: hit.key.digest().short(),
                            made: utc(hit.created),
                            ran: hit.duration,
                            remote,
                        });
                        if wanted {
                            // The same key, with its items where they are now: the record
                            // holds where they were when the step ran.
                            let now = self.key(node, info, &inputs).await.ok();
                            e.detail = key_detail(now.as_ref().unwrap_or(&hit.key), &code);
                        }
                    }
                    Ok(Lookup::Miss { reason, key, .. }) => {
                        e.reason = Some(reason);
                        if wanted {
                            e.detail = key_detail(&key, &code);
                        }
                    }
                    Err(err) => e.reason = Some(format!("cannot be keyed: {err}")),
                }
            }
            if e.after_side_effect {
                after_side_effect.insert(index);
            }
            out.push(e);
        }
        out
    }
}

/// Every part of `key`, one line each: the key, its code (what it covers, item by item), the
/// image, the settings and the inputs.
/// The parameters of `node` (step `info`) that take the output of steps not in `known`,
/// which will run, each with those steps.
fn waiting_params(
    node: &Node,
    info: &StepInfo,
    known: &HashMap<usize, Vec<Artifact>>,
) -> Vec<(&'static str, Vec<NodeId>)> {
    let waits = |arg: &crate::graph::Arg| {
        let mut makers = Vec::new();
        arg.each_handle(&mut |node| {
            if !known.contains_key(&node.index()) && !makers.contains(&node) {
                makers.push(node);
            }
        });
        makers
    };
    (info.params.iter().zip(&node.args))
        .map(|(param, arg)| (param.name, waits(arg)))
        .filter(|(_, makers)| !makers.is_empty())
        .collect()
}

/// What `--plan STEP` shows of `key`, its first line the key itself.
fn key_detail(key: &KeyRecord, code: &CodeKey) -> Vec<String> {
    let mut lines = vec![format!("key {}", key.digest().short())];
    let covered = match &code.cover {
        Cover::Items(_) => format!(
            "code {} covers {}:",
            short(&key.code),
            plural(key.code_items.len(), "item")
        ),
        Cover::Crate => format!("code {} covers every source of its crate", short(&key.code)),
        Cover::Tokens => format!("code {} covers its own tokens only", short(&key.code)),
        Cover::Uncacheable(why) => format!("code cannot be keyed: {why}"),
    };
    lines.push(covered);
    let mut items: Vec<(&String, &crate::cache::CodeItem)> = key.code_items.iter().collect();
    items.sort_by_key(|(_, item)| !item.own);
    for (label, item) in items.iter().take(SHOWN_ITEMS) {
        let at = match key.item_place(label, item) {
            place if place.is_empty() => place,
            place => format!(" ({place})"),
        };
        let own = if item.own { ", the step's fn" } else { "" };
        lines.push(format!("  {label}{at} {}{own}", item.digest));
    }
    if items.len() > SHOWN_ITEMS {
        lines.push(format!("  and {} more", items.len() - SHOWN_ITEMS));
    }
    if let Some(image) = &key.image {
        lines.push(format!("image {image}"));
    }
    if let Some(version) = &key.version {
        lines.push(format!("version {version}"));
    }
    for (name, value) in &key.settings {
        lines.push(format!("setting {name} = {value}"));
    }
    for (param, input) in &key.inputs {
        let from = input
            .upstream
            .as_ref()
            .map_or(String::new(), |u| format!(" from step `{u}`"));
        let kind = serde_json::to_value(input.kind).ok();
        let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("input");
        let value = input
            .value
            .as_ref()
            .map_or(String::new(), |v| format!(" = {v}"));
        lines.push(format!(
            "input `{param}` {kind} {}{from}{value}",
            input.digest.short()
        ));
    }
    lines
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
