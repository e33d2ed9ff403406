//! A command's output as it streams, in bounded memory: split into log lines as it comes,
//! kept for [`ExecOutput`] up to a limit, and the last lines it printed, from both streams in
//! the order they came, kept for errors.
//!
//! What a container prints is hostile input: a command may print gigabytes, or one line
//! without an end. Each stream costs at most [`KEEP`] for `ExecOutput` and [`LINE_MAX`] (and
//! the longest form of a secret) for the line being split, the command [`TAIL_LINES`] short
//! lines for errors, and each byte is looked at once. A step that needs more than [`KEEP`] of a
//! command's output writes it to a file in the container and captures it with
//! [`Container::file`](crate::Container::file).

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::backend::Stream;
use crate::report::Redactor;
use crate::shown::csi::Csi;
use crate::step::ctx::Ctx;
use crate::step::exec::ExecOutput;

/// How much of each stream [`ExecOutput`] keeps: the first 16 MiB.
pub(super) const KEEP: usize = 16 << 20;

/// The longest log line: a longer one is shown up to here, marked, and its rest skipped.
pub(super) const LINE_MAX: usize = 64 << 10;

/// How many of the last lines a command printed an error shows.
pub(super) const TAIL_LINES: usize = 50;

/// The longest line an error shows.
const TAIL_LINE_MAX: usize = 1 << 10;

/// The byte that starts a colour code.
const ESC: u8 = 0x1b;

/// What ends a log line that was longer than [`LINE_MAX`].
const CUT: &str = " [… cut at 64 KiB]";

/// One stream of a command's output.
#[derive(Default)]
struct Stream1 {
    /// The first [`KEEP`] bytes.
    kept: Vec<u8>,
    /// How many bytes came after those.
    dropped: u64,
    /// The line being split, up to [`LINE_MAX`] bytes and the longest form of a secret.
    line: Vec<u8>,
    /// Whether the line being split passed [`LINE_MAX`] (and was logged already).
    cut: bool,
    /// Set once the line being split fills its room with colour codes in it: the line
    /// has lost them, and what comes of it passes through this, so its room counts the bytes
    /// that show (a code inside a secret cannot push the secret's end past what is read).
    plain: Option<Csi>,
}

/// The last [`TAIL_LINES`] lines a command printed, on either stream, each shortened to
/// [`TAIL_LINE_MAX`] and redacted where it is cut, for errors.
#[derive(Default)]
struct Tail(VecDeque<String>);

impl Tail {
    fn push(&mut self, redactor: &Redactor, line: &str) {
        if self.0.len() == TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(redactor.shorten(line, TAIL_LINE_MAX));
    }

    fn text(&self) -> String {
        self.0.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Stream1 {
    fn push(&mut self, bytes: &[u8], redactor: &Redactor, log: &mut impl FnMut(String)) {
        let room = KEEP.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.dropped += (bytes.len() - room) as u64;
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.extend_line(&rest[..nl], redactor, log);
            if self.cut {
                self.cut = false;
            } else {
                let line = self.take_line(redactor, false);
                log(line);
            }
            rest = &rest[nl + 1..];
        }
        self.extend_line(rest, redactor, log);
    }

    /// Adds `part` to the line being split; logs it at once, cut and marked, when it grows
    /// past [`LINE_MAX`] and the longest form of a secret beyond (so one that straddles the cut
    /// is masked whole), so a line that never ends still shows.
    fn extend_line(&mut self, part: &[u8], redactor: &Redactor, log: &mut impl FnMut(String)) {
        if self.cut {
            return;
        }
        let max = LINE_MAX + redactor.longest();
        let mut part = Cow::Borrowed(part);
        if let Some(csi) = &mut self.plain {
            let mut shown = Vec::with_capacity(part.len());
            csi.filter(&part, &mut shown);
            part = Cow::Owned(shown);
        } else if self.line.len() + part.len() > max
            && (self.line.contains(&ESC) || part.contains(&ESC))
        {
            let mut csi = Csi::default();
            let mut shown = Vec::with_capacity(self.line.len() + part.len());
            csi.filter(&self.line, &mut shown);
            csi.filter(&part, &mut shown);
            self.line.clear();
            self.plain = Some(csi);
            part = Cow::Owned(shown);
        }
        let room = max - self.line.len();
        if part.len() <= room {
            self.line.extend_from_slice(&part);
        } else {
            self.line.extend_from_slice(&part[..room]);
            let line = self.take_line(redactor, true);
            self.cut = true;
            log(line);
        }
    }

    /// The line being split, as text: cut at [`LINE_MAX`] and marked if longer (or `cut`, when
    /// it goes on), and redacted wherever it is cut, so no cut leaves part of a secret that the
    /// whole line's redaction would no longer find.
    fn take_line(&mut self, redactor: &Redactor, cut: bool) -> String {
        if let Some(mut csi) = self.plain.take() {
            csi.end(&mut |b, _| self.line.push(b));
        }
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let mut text = String::from_utf8_lossy(line).into_owned();
        self.line.clear();
        if cut || text.len() > LINE_MAX {
            text = redactor.redact_cut(&text, LINE_MAX);
            text.push_str(CUT);
        }
        text
    }

    fn finish(&mut self, redactor: &Redactor, log: &mut impl FnMut(String)) {
        if !self.cut && !self.line.is_empty() {
            let line = self.take_line(redactor, false);
            log(line);
        }
    }
}

/// Splits a command's output into lines for the step's log as it streams, and keeps what
/// [`ExecOutput`] and errors need.
///
/// Dropped before [`finish`](Self::finish), when the step's deadline or cancellation cuts the
/// command short, it logs the lines still being split and leaves the command and its last
/// lines for the timeout's error ([`Ctx::timeout_error`]).
pub(super) struct LogLines<'a> {
    ctx: &'a Ctx,
    /// The command, as shown.
    command: &'a str,
    /// The run's secrets, for lines cut before the events' own redaction sees them.
    redactor: Redactor,
    streams: [Stream1; 2],
    tail: Tail,
    finished: bool,
}

/// What a finished command's output came to.
pub(super) struct Finished {
    /// The command's exit code and kept output.
    pub(super) output: ExecOutput,
    /// The last lines it printed, standard output's and standard error's in the order they
    /// came.
    pub(super) tail: String,
    /// How many bytes past [`KEEP`] each stream wrote: stdout, stderr.
    pub(super) dropped: [u64; 2],
}

impl<'a> LogLines<'a> {
    pub(super) fn new(ctx: &'a Ctx, command: &'a str) -> Self {
        Self {
            ctx,
            command,
            redactor: ctx.run().events.redactor(),
            streams: Default::default(),
            tail: Tail::default(),
            finished: false,
        }
    }

    pub(super) fn push(&mut self, stream: Stream, bytes: &[u8]) {
        let log = &mut logger(self.ctx, &self.redactor, &mut self.tail, stream);
        self.streams[index(stream)].push(bytes, &self.redactor, log);
    }

    /// Logs the lines still being split, of both streams.
    fn flush(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let log = &mut logger(self.ctx, &self.redactor, &mut self.tail, stream);
            self.streams[index(stream)].finish(&self.redactor, log);
        }
    }

    pub(super) fn finish(mut self, exit_code: i64) -> Finished {
        self.flush();
        self.finished = true;
        let tail = self.tail.text();
        let [out, err] = std::mem::take(&mut self.streams);
        Finished {
            output: ExecOutput {
                exit_code,
                stdout: String::from_utf8_lossy(&out.kept).into_owned(),
                stderr: String::from_utf8_lossy(&err.kept).into_owned(),
                truncated: out.dropped > 0 || err.dropped > 0,
            },
            tail,
            dropped: [out.dropped, err.dropped],
        }
    }
}

impl Drop for LogLines<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.flush();
        *(self.ctx.container_state().cut.lock())
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((self.command.to_owned(), self.tail.text()));
    }
}

/// Where each whole line of `stream` goes: the tail kept for errors, and the step's log.
fn logger<'b>(
    ctx: &'b Ctx,
    redactor: &'b Redactor,
    tail: &'b mut Tail,
    stream: Stream,
) -> impl FnMut(String) + 'b {
    move |line| {
        tail.push(redactor, &line);
        ctx.log(stream, line);
    }
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::MASK;

    fn split(chunks: &[&[u8]]) -> (Vec<String>, Stream1, Tail) {
        split_with(&Redactor::default(), chunks)
    }

    /// The lines logged, the stream, and the tail of the lines, as `LogLines` keeps it.
    fn split_with(redactor: &Redactor, chunks: &[&[u8]]) -> (Vec<String>, Stream1, Tail) {
        let mut lines = Vec::new();
        let mut s = Stream1::default();
        for chunk in chunks {
            s.push(chunk, redactor, &mut |l| lines.push(l));
        }
        s.finish(redactor, &mut |l| lines.push(l));
        let mut tail = Tail::default();
        for line in &lines {
            tail.push(redactor, line);
        }
        (lines, s, tail)
    }

    #[test]
    fn lines_split_across_chunks_and_lose_their_carriage_return() {
        let (lines, s, tail) = split(&[b"a\r\nb", b"c\nd"]);
        assert_eq!(lines, ["a", "bc", "d"]);
        assert_eq!(s.kept, b"a\r\nbc\nd");
        assert_eq!(tail.text(), "a\nbc\nd");
    }

    #[test]
    fn a_line_longer_than_the_limit_is_logged_once_cut_and_marked() {
        let long = vec![b'x'; LINE_MAX + 10];
        let (lines, _, _) = split(&[&long[..100], &long[100..], b"\nnext\n"]);
        assert_eq!(
            lines.len(),
            2,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0].len(), LINE_MAX + CUT.len());
        assert!(lines[0].ends_with(CUT));
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn a_secret_that_straddles_a_cut_is_masked_whole_in_the_line_and_the_tail() {
        let secret = "p@ss w/rd+Qz&=1";
        let mut redactor = Redactor::default();
        redactor.add(secret);
        for before in [LINE_MAX - 5, LINE_MAX - 1, TAIL_LINE_MAX - 5] {
            for ends in [true, false] {
                let end = if ends { "\n" } else { "" };
                let line = format!("{}{secret} and more{end}", "x".repeat(before));
                let (head, rest) = line.as_bytes().split_at(before + 3);
                let (lines, _, tail) = split_with(&redactor, &[head, rest]);
                // A whole line is logged as it is, for the events' redaction; a cut one and
                // the tail's lines (cut at TAIL_LINE_MAX) are redacted where they are cut.
                let cut = lines.iter().filter(|l| l.ends_with(CUT));
                let shown = tail.0.iter().filter(|_| before < TAIL_LINE_MAX);
                assert_eq!(cut.clone().count(), usize::from(before > TAIL_LINE_MAX));
                for text in cut.chain(shown) {
                    let end = &text[text.len().saturating_sub(40)..];
                    assert!(!text.contains("p@s"), "{before} {ends}: ...{end}");
                    assert!(text.contains(MASK), "{before} {ends}: ...{end}");
                }
                assert!(tail.0.iter().all(|t| !t.contains("p@s")));
            }
        }
        // An unended line past the cut is logged once, cut and redacted, and the rest skipped.
        let long = format!(
            "{}{secret}{}",
            "x".repeat(LINE_MAX - 4),
            "z".repeat(1 << 20)
        );
        let (lines, _, _) = split_with(&redactor, &[long.as_bytes()]);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].ends_with(&format!("xxxx{MASK}{CUT}")),
            "{}",
            &lines[0][LINE_MAX - 8..]
        );
    }

    #[test]
    fn colour_codes_cannot_push_a_secret_past_what_a_cut_line_reads() {
        let secret = "p@ss w/rd+Qz&=1";
        let mut redactor = Redactor::default();
        redactor.add(secret);
        let coloured: String = secret.chars().map(|c| format!("{c}\u{1b}[1;31m")).collect();
        for before in [LINE_MAX - 5, LINE_MAX - 1000] {
            for ends in [true, false] {
                let end = if ends { "\n" } else { "" };
                let codes = "\u{1b}[0m".repeat(if before < LINE_MAX - 5 { 200 } else { 0 });
                let line = format!(
                    "{codes}{}{coloured}{}{end}",
                    "x".repeat(before),
                    "z".repeat(100)
                );
                let (head, rest) = line.as_bytes().split_at(line.len() / 2 + 7);
                let (lines, _, _) = split_with(&redactor, &[head, rest]);
                let shown: Vec<String> = lines.iter().map(|l| crate::report::shown(l)).collect();
                assert!(
                    shown
                        .iter()
                        .all(|l| !l.contains("xp") && !l.contains("p@s")),
                    "{before} {ends}: {:?}",
                    shown
                        .iter()
                        .map(|l| &l[l.len().saturating_sub(60)..])
                        .collect::<Vec<_>>()
                );
                assert!(shown.iter().any(|l| l.contains(MASK)), "{before} {ends}");
            }
        }
        // A line that stays short keeps its colours.
        let (lines, _, _) = split(&[b"\x1b[31mred\x1b[0m\n"]);
        assert_eq!(lines, ["\u{1b}[31mred\u{1b}[0m"]);
    }

    #[test]
    fn only_the_first_bytes_are_kept_and_the_tail_is_the_last_lines() {
        let mut s = Stream1::default();
        let mut tail = Tail::default();
        let redactor = Redactor::default();
        let chunk = vec![b'y'; 1 << 20];
        let mut total = 0;
        for _ in 0..20 {
            s.push(&chunk, &redactor, &mut |l| tail.push(&redactor, &l));
            total += chunk.len();
        }
        for n in 0..60 {
            let line = format!("\nline {n}");
            s.push(line.as_bytes(), &redactor, &mut |l| {
                tail.push(&redactor, &l)
            });
            total += line.len();
        }
        assert_eq!(s.kept.len(), KEEP);
        assert_eq!(s.dropped, (total - KEEP) as u64);
        assert_eq!(tail.0.len(), TAIL_LINES);
        assert_eq!(tail.0.back().map(String::as_str), Some("line 58"));
        assert!(
            tail.0
                .iter()
                .all(|l| l.len() <= TAIL_LINE_MAX + '…'.len_utf8())
        );
    }
}
