//! `BIN --list`: the pipelines with their docs and steps.

use std::fmt::Write;

use crate::cli::Entry;

/// The listing of every registered pipeline.
pub(crate) fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("no pipelines are registered: add one with `tanto::cli().pipeline(NAME)`\n");
        return out;
    }
    for entry in entries {
        let plan = (entry.plan)();
        let about = entry.info.doc.lines().next().unwrap_or_default().trim();
        let _ = writeln!(out, "{}  {about}", entry.info.name);
        for param in entry.info.params {
            let _ = write!(out, "    --{} <{}>", param.flag(), param.ty);
            if let Some(select) = param.select.describe() {
                let _ = write!(out, "  ({select})");
            }
            out.push('\n');
        }
        for (node, info) in plan.steps() {
            let doc = info.doc.lines().next().unwrap_or_default().trim();
            if doc.is_empty() {
                let _ = writeln!(out, "    - {}", node.label);
            } else {
                let _ = writeln!(out, "    - {}: {doc}", node.label);
            }
        }
    }
    out
}
