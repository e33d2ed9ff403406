//! Graph export from a plan's static shape: Mermaid and Graphviz DOT.

use std::fmt::Write;

use crate::graph::{Node, NodeKind, Plan};

/// A node as the graph shows it; an input the body loops or branches on with its value, since
/// the graph is drawn for that value: `release: bool = true`.
fn node_text(plan: &Plan, node: &Node) -> String {
    match &node.kind {
        NodeKind::Input { param } => match plan.shaped_by.iter().find(|(n, _)| *n == node.id) {
            Some((_, value)) => format!("{}: {} = {value}", param.name, param.ty),
            None => format!("{}: {}", param.name, param.ty),
        },
        NodeKind::Literal(value) => value.to_string(),
        NodeKind::Step { .. } => node.label.to_string(),
    }
}

fn edges(plan: &Plan) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    for node in &plan.nodes {
        for dep in node.deps() {
            edges.push((dep.index(), node.id.index()));
        }
    }
    edges
}

/// The plan as a Mermaid flowchart: inputs as rounded nodes, steps as boxes.
pub fn to_mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for node in &plan.nodes {
        let text = node_text(plan, node).replace('"', "#quot;");
        let i = node.id.index();
        let _ = match node.kind {
            NodeKind::Step { .. } => writeln!(out, "    n{i}[\"{text}\"]"),
            _ => writeln!(out, "    n{i}([\"{text}\"])"),
        };
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "    n{from} --> n{to}");
    }
    out
}

/// The plan as a Graphviz DOT digraph.
pub fn to_dot(plan: &Plan) -> String {
    let mut out = format!("digraph \"{}\" {{\n    rankdir=TB;\n", plan.pipeline.name);
    for node in &plan.nodes {
        let text = node_text(plan, node)
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let shape = match node.kind {
            NodeKind::Step { .. } => "box",
            _ => "ellipse",
        };
        let _ = writeln!(
            out,
            "    n{} [label=\"{text}\", shape={shape}];",
            node.id.index()
        );
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "    n{from} -> n{to};");
    }
    out.push_str("}\n");
    out
}
