//! A step's own output lines, kept in memory (redacted, bounded) for the shared cache's
//! stdout and stderr blobs: the log files are written by a view that lags behind.

use crate::backend::Stream;
use crate::cache::StepLogs;
use crate::report::Redactor;

/// The most bytes kept of each stream, the note that says it was cut included.
const MAX_STREAM: usize = 4 << 20;

/// What ends a stream that was cut.
const CUT: &str = "[tanto: the log was cut here, at 4 MiB]\n";

/// The lines a step wrote on its stdout and stderr, already redacted.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    stdout: Bounded,
    stderr: Bounded,
}

#[derive(Debug, Default)]
struct Bounded {
    bytes: Vec<u8>,
    cut: bool,
}

impl Bounded {
    fn push(&mut self, line: &str) {
        if self.cut {
            return;
        }
        if self.bytes.len() + line.len() + 1 > MAX_STREAM - CUT.len() {
            self.cut = true;
            self.bytes.extend_from_slice(CUT.as_bytes());
            return;
        }
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.push(b'\n');
    }
}

impl Captured {
    /// Keeps `line` (redacted by the caller) of `stream`, unless that stream is full.
    pub(crate) fn push(&mut self, stream: Stream, line: &str) {
        match stream {
            Stream::Stdout => self.stdout.push(line),
            Stream::Stderr => self.stderr.push(line),
        }
    }

    /// Both streams, each passed through `redactor` once more: a secret the run learned
    /// after a line was kept is masked too.
    pub(crate) fn logs(&self, redactor: &Redactor) -> StepLogs {
        let clean = |b: &Bounded| {
            let text = String::from_utf8_lossy(&b.bytes);
            redactor.redact(&text).into_owned().into_bytes()
        };
        StepLogs {
            stdout: clean(&self.stdout),
            stderr: clean(&self.stderr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_apart_and_bounded_with_a_note() {
        let mut c = Captured::default();
        c.push(Stream::Stdout, "out");
        c.push(Stream::Stderr, "err");
        let line = "x".repeat(1 << 20);
        for _ in 0..6 {
            c.push(Stream::Stdout, &line);
        }
        c.push(Stream::Stdout, "after the cut");
        let logs = c.logs(&Redactor::default());
        assert_eq!(logs.stderr, b"err\n");
        assert!(logs.stdout.len() <= MAX_STREAM, "{}", logs.stdout.len());
        assert!(logs.stdout.starts_with(b"out\n"));
        assert!(logs.stdout.ends_with(CUT.as_bytes()));
    }

    #[test]
    fn a_secret_learned_later_is_masked_too() {
        let mut c = Captured::default();
        c.push(Stream::Stderr, "token s3cr3t-value here");
        let mut r = Redactor::default();
        r.add("s3cr3t-value");
        assert_eq!(c.logs(&r).stderr, b"token *** here\n");
    }
}
