//! How text from outside shows on one line: what a container printed, a label whose items
//! came from flags. Below every layer that prints or names things: the graph tells apart
//! labels that would show alike, the redactor looks through what a view drops, and every view
//! shows text through [`shown`].

pub(crate) mod csi;

use std::borrow::Cow;
use std::fmt::Write as _;

/// `line` as it may be shown on one line: colour codes removed ([`csi`]: tools colour their
/// output), a trailing carriage return dropped, and every other control character (a
/// newline, a bare escape, a bell, C1 controls) written out as `\u{..}`, so nothing the text
/// holds can move the cursor or start a new line; so are the controls of text direction
/// ([`reorders`]), so the text cannot show in another order than it is. The old form of a workflow command, which
/// the GitHub Actions runner reads anywhere in a line, is written out too: `##[` as
/// `#\u{23}[`. Text that may start a line of output goes through `report`'s `shown_lines`
/// instead.
pub(crate) fn shown(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = csi::stripped(line);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(c),
            c if c.is_control() || reorders(c) => written_out(c, &mut out),
            '#' if out.ends_with('#') && chars.peek() == Some(&'[') => out.push_str("\\u{23}"),
            c => out.push(c),
        }
    }
    out
}

/// `line` as a log file keeps it: its colours (the codes that end in `m`) kept, for a
/// person who reads it with `less -R`, and every other code dropped and control character
/// but a tab written out as [`shown`] writes it, so that `cat`ing the file cannot clear the
/// screen, retitle the terminal or hide text behind a carriage return.
pub(crate) fn kept(line: &str) -> Cow<'_, str> {
    if !line
        .chars()
        .any(|c| (c.is_control() && c != '\t') || reorders(c))
    {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while let Some(c) = line[at..].chars().next() {
        let code = csi::sequence_len(&line[at..]);
        if code > 0 {
            let code_text = &line[at..at + code];
            if code_text.ends_with('m') {
                out.push_str(code_text);
            }
            at += code;
            continue;
        }
        if (c.is_control() && c != '\t') || reorders(c) {
            written_out(c, &mut out);
        } else {
            out.push(c);
        }
        at += c.len_utf8();
    }
    Cow::Owned(out)
}

/// Whether `c` embeds, overrides or isolates a direction of text (U+202A to U+202E, U+2066
/// to U+2069): what rustc refuses in a literal, since a line holding one may show in another
/// order than it reads.
fn reorders(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes the control character `c` out as `\u{..}`.
fn written_out(c: char, out: &mut String) {
    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_keeps_colours_and_nothing_else_a_terminal_obeys() {
        assert_eq!(kept("plain\ttext"), "plain\ttext");
        assert_eq!(
            kept("\u{1b}[1;31merror\u{1b}[0m: x"),
            "\u{1b}[1;31merror\u{1b}[0m: x"
        );
        assert_eq!(
            kept("\u{1b}[2J\u{1b}]0;pwned\u{7}a\rb\u{9b}c"),
            "\\u{1b}]0;pwned\\u{7}a\\u{d}b\\u{9b}c"
        );
        assert_eq!(kept("cut \u{1b}[31"), "cut ", "an unended code goes");
    }

    #[test]
    fn the_controls_of_text_direction_are_written_out() {
        let tricked = "ok \u{202e}txt.exe\u{202c} \u{2067}x\u{2069}";
        let plain = "ok \\u{202e}txt.exe\\u{202c} \\u{2067}x\\u{2069}";
        assert_eq!(shown(tricked), plain);
        assert_eq!(kept(tricked), plain);
        // Right-to-left text itself shows as it is.
        assert_eq!(shown("שלום"), "שלום");
    }
}
