//! The colour codes (ANSI CSI sequences) that every view drops from a line: one grammar for
//! [`shown`](super::shown), for the redactor, which must find a secret that such a code splits
//! (`printf 'to\033[0mken'` shows as `token`), and for a command's log lines.
//!
//! A sequence is `ESC [`, then every byte up to and including a final byte, `@` to `~`, or to
//! the end of the line. Every byte of it is ASCII or inside one, so what is left of valid
//! UTF-8 is valid UTF-8.

/// Where a byte stands in the grammar, for text that comes in pieces.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Csi {
    /// Outside a sequence.
    #[default]
    Text,
    /// After an `ESC`, at this offset, that is held back until the next byte says whether a
    /// sequence starts.
    Escape(usize),
    /// Inside a sequence.
    Sequence,
}

const ESC: u8 = 0x1b;

impl Csi {
    /// Takes `byte`, at offset `at`, and passes each byte that shows, with its offset, to
    /// `keep`: a held `ESC` not followed by `[` shows, before the byte after it.
    pub(crate) fn feed(&mut self, byte: u8, at: usize, keep: &mut impl FnMut(u8, usize)) {
        match *self {
            Csi::Text if byte == ESC => *self = Csi::Escape(at),
            Csi::Text => keep(byte, at),
            Csi::Escape(_) if byte == b'[' => *self = Csi::Sequence,
            Csi::Escape(escape) => {
                keep(ESC, escape);
                *self = Csi::Text;
                self.feed(byte, at, keep);
            }
            Csi::Sequence => {
                if (b'@'..=b'~').contains(&byte) {
                    *self = Csi::Text;
                }
            }
        }
    }

    /// Ends the text: a held `ESC` shows.
    pub(crate) fn end(&mut self, keep: &mut impl FnMut(u8, usize)) {
        if let Csi::Escape(escape) = *self {
            keep(ESC, escape);
        }
        *self = Csi::Text;
    }

    /// `bytes` without their sequences, from this state on (a piece of a longer text: an
    /// `ESC` at its end is held for the next piece, which [`end`](Self::end) releases).
    pub(crate) fn filter(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            self.feed(b, 0, &mut |b, _| out.push(b));
        }
    }
}

/// The length of the sequence `text` starts with, or 0 when it starts with none.
pub(crate) fn sequence_len(text: &str) -> usize {
    let Some(rest) = text.strip_prefix("\u{1b}[") else {
        return 0;
    };
    rest.bytes()
        .position(|b| (b'@'..=b'~').contains(&b))
        .map_or(text.len(), |end| 2 + end + 1)
}

/// `text` as it shows, without its sequences, and the offset in `text` of each byte of it.
pub(crate) fn visible(text: &str) -> (String, Vec<usize>) {
    let mut shown = Vec::with_capacity(text.len());
    let mut from = Vec::with_capacity(text.len());
    let mut keep = |b, at| {
        shown.push(b);
        from.push(at);
    };
    let mut csi = Csi::Text;
    for (at, &b) in text.as_bytes().iter().enumerate() {
        csi.feed(b, at, &mut keep);
    }
    csi.end(&mut keep);
    // Only whole sequences of ASCII bytes and the characters inside them went.
    let shown = String::from_utf8(shown)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    (shown, from)
}

/// `text` without its sequences.
pub(crate) fn stripped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\u{1b}[") {
        std::borrow::Cow::Owned(visible(text).0)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_go_and_a_lone_escape_stays() {
        assert_eq!(visible("to\u{1b}[0mken").0, "token");
        assert_eq!(visible("to\u{1b}[0mken").1, [0, 1, 6, 7, 8]);
        assert_eq!(
            visible("a\u{1b}b").0,
            "a\u{1b}b",
            "ESC without [ is not a sequence"
        );
        assert_eq!(visible("a\u{1b}").0, "a\u{1b}");
        assert_eq!(visible("a\u{1b}\u{1b}[1mb").0, "a\u{1b}b");
        assert_eq!(
            visible("a\u{1b}[12;3").0,
            "a",
            "an unended sequence runs to the end"
        );
        assert_eq!(
            visible("x\u{1b}[é;1my").0,
            "xy",
            "a character inside one goes whole"
        );
        assert_eq!(stripped("plain"), "plain");
        assert_eq!(sequence_len("\u{1b}[1;31mx"), 7);
        assert_eq!(sequence_len("\u{1b}[12"), 4);
        assert_eq!(sequence_len("x\u{1b}[1m"), 0);
    }

    #[test]
    fn the_stream_and_the_sequences_read_the_grammar_alike() {
        for text in [
            "a\u{1b}[1;31mb",
            "\u{1b}[é;1mc",
            "\u{1b}\u{1b}[0md\u{1b}",
            "e\u{1b}[12",
        ] {
            let mut by_sequences = String::new();
            let mut at = 0;
            while let Some(c) = text[at..].chars().next() {
                match sequence_len(&text[at..]) {
                    0 => {
                        by_sequences.push(c);
                        at += c.len_utf8();
                    }
                    n => at += n,
                }
            }
            assert_eq!(visible(text).0, by_sequences, "{text:?}");
        }
    }

    #[test]
    fn text_in_pieces_filters_as_a_whole() {
        let text = b"ab\x1b[3";
        let rest = b"1mcd\x1b";
        let mut csi = Csi::default();
        let mut out = Vec::new();
        csi.filter(text, &mut out);
        csi.filter(rest, &mut out);
        assert_eq!(out, b"abcd");
        csi.filter(b"[0mef\x1b", &mut out);
        assert_eq!(out, b"abcdef");
        csi.end(&mut |b, _| out.push(b));
        assert_eq!(out, b"abcdef\x1b");
    }
}
