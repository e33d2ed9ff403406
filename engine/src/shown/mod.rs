//! How text from outside shows on one line: what a container printed, a label whose items
//! came from flags. Below every layer that prints or names things: the graph tells apart
//! labels that would show alike, the redactor looks through what a view drops, and every view
//! shows text through [`shown`].

pub(crate) mod csi;

use std::fmt::Write as _;

/// `line` as it may be shown on one line: colour codes removed ([`csi`]: tools
/// colour their output), a trailing carriage return dropped, and every other control character (a newline,
/// a bare escape, a bell, C1 controls) written out as `\u{..}`, so nothing the text holds can
/// move the cursor or start a new line. The old form of a workflow command, which the GitHub
/// Actions runner reads anywhere in a line, is written out too: `##[` as `#\u{23}[`. Text that
/// may start a line of output goes through [`shown_lines`] instead.
pub(crate) fn shown(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = csi::stripped(line);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            '#' if out.ends_with('#') && chars.peek() == Some(&'[') => out.push_str("\\u{23}"),
            c => out.push(c),
        }
    }
    out
}
