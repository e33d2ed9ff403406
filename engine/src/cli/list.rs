//! `BIN --list`: the pipelines with their docs and steps.

use std::fmt::Write;

use crate::cli::Entry;
use crate::graph::InputValues;
use crate::report::shown;

/// The listing of every registered pipeline.
pub(crate) fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("no pipelines are registered: add one with `tanto::cli().pipeline(NAME)`\n");
        return out;
    }
    for entry in entries {
        let about = first_paragraph(entry.info.doc);
        let _ = writeln!(out, "{}  {about}", entry.info.name);
        // Without the command line: switches are off, options are none, and the steps that
        // depend on any other input the body loops or branches on are missing.
        let plan = match (entry.plan)(&InputValues::new()) {
            Ok(plan) => plan,
            Err(e) => {
                let _ = writeln!(out, "    error: {e}");
                continue;
            }
        };
        let shaping: Vec<&str> = plan
            .shaped_by
            .iter()
            .map(|(node, _)| *node)
            .chain(plan.unknown.iter().copied())
            .map(|node| &*plan.node(node).label)
            .collect();
        for param in entry.info.params {
            if param.is_switch() {
                let _ = write!(out, "    --{}", param.flag());
            } else {
                let _ = write!(out, "    --{} <{}>", param.flag(), param.ty);
            }
            if let Some(select) = param.select.describe() {
                let _ = write!(out, "  ({select})");
            }
            if shaping.contains(&param.name) {
                out.push_str("  (changes the graph)");
            }
            out.push('\n');
        }
        if !plan.unknown.is_empty() {
            let flags: Vec<String> = plan
                .unknown
                .iter()
                .map(|node| format!("--{}", plan.node(*node).label.replace('_', "-")))
                .collect();
            let _ = writeln!(
                out,
                "    (its steps depend on {}: add `--graph mermaid` to a run's flags to see them)",
                flags.join(" and ")
            );
        }
        for (node, info) in plan.steps() {
            let doc = first_paragraph(info.doc);
            let label = shown(&node.label);
            if doc.is_empty() {
                let _ = writeln!(out, "    - {label}");
            } else {
                let _ = writeln!(out, "    - {label}: {doc}");
            }
        }
    }
    out
}

/// The first paragraph of a rustdoc, on one line: what `--list` shows of a pipeline or step,
/// whole sentences rather than a first line cut mid-sentence, with its links as their text.
pub(crate) fn first_paragraph(doc: &str) -> String {
    let paragraph = doc
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    unlinked(&paragraph)
}

/// `text` with each Markdown link as its text: `[text](target)`, `[text][ref]`, and an
/// intra-doc link to an item, ``[`Item`]``. Other brackets (`cell[1,serde]`) stay.
pub(crate) fn unlinked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let (inner, tail) = (&after[..close], &after[close + 1..]);
        let target_end = match tail.chars().next() {
            Some('(') => tail.find(')').map(|i| i + 1),
            Some('[') => tail.find(']').map(|i| i + 1),
            _ if inner.len() > 1 && inner.starts_with('`') && inner.ends_with('`') => Some(0),
            _ => None,
        };
        match target_end {
            Some(end) => {
                out.push_str(inner);
                rest = &tail[end..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doc_is_shown_by_its_whole_first_paragraph() {
        let doc = "\nBuilds the workspace and\nreturns its target folder.\n\nMore detail.";
        assert_eq!(
            first_paragraph(doc),
            "Builds the workspace and returns its target folder."
        );
        assert_eq!(first_paragraph(""), "");
    }

    #[test]
    fn links_read_as_their_text_and_other_brackets_stay() {
        assert_eq!(
            first_paragraph(
                "Returns a [`TestReport`], as [`test`](fn@crate::test) does, or [docs][d]; \
                 `cell[1,serde]` and [a list] stay."
            ),
            "Returns a `TestReport`, as `test` does, or docs; `cell[1,serde]` and [a list] stay."
        );
        assert_eq!(first_paragraph("an [open one"), "an [open one");
    }
}
