//! Graph export from a plan's static shape: Mermaid and Graphviz DOT.
//!
//! A label can hold what came from a flag (a loop's items), so each node's text is
//! [`shown`](crate::report::shown) as every view shows it, then quoted as its format wants: it
//! stays one line inside its own label and cannot end it.

use std::fmt::Write;

use crate::graph::{Node, NodeKind, Plan};
use crate::report::shown;

/// A node as the graph shows it; an input the body loops or branches on with its value, since
/// the graph is drawn for that value: `release: bool = true`; a value given to a nested
/// pipeline with the parameter it binds: `check[1.80]/toolchain = "1.80"`.
fn node_text(plan: &Plan, node: &Node) -> String {
    match &node.kind {
        NodeKind::Input { param } => match plan.shaped_by.iter().find(|(n, _)| *n == node.id) {
            Some((_, value)) => format!("{}: {} = {value}", param.name, param.ty),
            None => format!("{}: {}", param.name, param.ty),
        },
        NodeKind::Literal(value) => format!("{} = {value}", node.label),
        NodeKind::Step { .. } => node.label.to_string(),
    }
}

/// `text` inside a Mermaid `["…"]` label: shown, then as Mermaid's entity codes whatever
/// would end the string (`"`), start an entity (`#`), become markup (`<`, `>`, `&`) or, first,
/// make a Markdown string (a backtick).
fn mermaid_text(text: &str) -> String {
    let mut out = String::new();
    for c in shown(text).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` inside a DOT double-quoted string: shown, then with `"` escaped, the one escape
/// of DOT's quoted strings, and `\` doubled, so that a label's escapes (`\n`, `\N`, `\l`)
/// read as the backslash and letter they are.
fn dot_text(text: &str) -> String {
    shown(text).replace('\\', "\\\\").replace('"', "\\\"")
}

/// Each edge, from a node to one that takes its output (or an input's value, bound before the
/// run), or (`chosen`) from an input to a node a loop or a branch over its value chose, which
/// takes no output of it.
fn edges(plan: &Plan) -> Vec<(usize, usize, bool)> {
    let mut edges = Vec::new();
    for node in &plan.nodes {
        let mut deps = node.deps();
        deps.extend(
            node.reads
                .iter()
                .filter(|r| !deps.contains(r))
                .copied()
                .collect::<Vec<_>>(),
        );
        for dep in &deps {
            edges.push((dep.index(), node.id.index(), false));
        }
        for by in node.chosen_by.iter().filter(|by| !deps.contains(by)) {
            edges.push((by.index(), node.id.index(), true));
        }
    }
    edges
}

/// The plan as a Mermaid flowchart: inputs as rounded nodes, steps as boxes, and a dotted
/// arrow from an input to each step a loop or a branch over its value chose.
pub fn to_mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for node in &plan.nodes {
        let text = mermaid_text(&node_text(plan, node));
        let i = node.id.index();
        let _ = match node.kind {
            NodeKind::Step { .. } => writeln!(out, "    n{i}[\"{text}\"]"),
            _ => writeln!(out, "    n{i}([\"{text}\"])"),
        };
    }
    for (from, to, chosen) in edges(plan) {
        let arrow = if chosen { "-.->" } else { "-->" };
        let _ = writeln!(out, "    n{from} {arrow} n{to}");
    }
    out
}

/// The plan as a Graphviz DOT digraph, a dashed edge from an input to each step a loop or a
/// branch over its value chose.
pub fn to_dot(plan: &Plan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    rankdir=TB;\n",
        dot_text(plan.pipeline.name)
    );
    for node in &plan.nodes {
        let text = dot_text(&node_text(plan, node));
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
    for (from, to, chosen) in edges(plan) {
        let style = if chosen { " [style=dashed]" } else { "" };
        let _ = writeln!(out, "    n{from} -> n{to}{style};");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Builder, PipelineInfo, RunFn, StepInfo};

    /// A plan of one step looped over `item`.
    fn plan(item: &str) -> Plan {
        let never: RunFn = |_, _| Box::pin(async { Ok(Vec::new()) });
        let mut b = Builder::new();
        b.enter_item(item);
        b.step(StepInfo::shape("pair"), never, Vec::new());
        b.leave_item();
        let pipeline = PipelineInfo {
            name: "ci",
            path: "ci",
            doc: "",
            params: &[],
        };
        b.finish(pipeline, Vec::new())
    }

    const HOSTILE: &str = "a\n::error::x\u{1b}[31m\"] --> n9[\"<b>#quot;&amp;`\\N";

    #[test]
    fn a_mermaid_label_stays_one_quoted_line() {
        assert_eq!(
            to_mermaid(&plan(HOSTILE)),
            "flowchart TD\n    n0[\"pair[a\\u{a}::error::x#quot;] --#gt; n9[#quot;#lt;b#gt;#35;quot;#amp;amp;#96;\\N]\"]\n"
        );
    }

    #[test]
    fn a_dot_label_stays_one_quoted_line() {
        assert_eq!(
            to_dot(&plan(HOSTILE)),
            "digraph \"ci\" {\n    rankdir=TB;\n    \
             n0 [label=\"pair[a\\\\u{a}::error::x\\\"] --> n9[\\\"<b>#quot;&amp;`\\\\N]\", shape=box];\n}\n"
        );
    }
}
