//! The lines of the terminal view redrawn in place, over `console`'s cursor commands.
//!
//! A frame is written as its lines without a newline after the last, so the cursor stays on
//! the frame and a frame as tall as the terminal never scrolls it; the next frame goes back up
//! to the first line, clears from there down and writes its lines. Each frame is one write to
//! the terminal, so it never shows half drawn.

use std::io;

use console::Term;

/// The frame on screen.
pub(super) struct Screen {
    term: Term,
    /// The lines of the frame on screen.
    shown: Vec<String>,
}

impl Screen {
    /// A screen on standard error, with nothing drawn yet.
    pub(super) fn stderr() -> Self {
        Self {
            term: Term::buffered_stderr(),
            shown: Vec::new(),
        }
    }

    /// Replaces the frame on screen with `lines`.
    pub(super) fn draw(&mut self, lines: Vec<String>) {
        // A terminal that fails a write has gone; the run goes on without its view.
        let _ = self.go_to_top().and_then(|()| self.write(&lines));
        self.shown = lines;
    }

    /// Writes `line` above the frame, which is drawn again below it.
    pub(super) fn println(&mut self, line: &str) {
        let shown = std::mem::take(&mut self.shown);
        let _ = self
            .go_to_top()
            .and_then(|()| self.term.write_line(line))
            .and_then(|()| self.write(&shown));
        self.shown = shown;
    }

    /// Leaves the frame on screen and moves below it.
    pub(super) fn finish(&mut self) {
        if !self.shown.is_empty() {
            let _ = self.term.write_str("\n").and_then(|()| self.term.flush());
        }
        self.shown.clear();
    }

    /// Moves to the start of the frame's first line.
    fn go_to_top(&self) -> io::Result<()> {
        self.term.write_str("\r")?;
        self.term.move_cursor_up(self.shown.len().saturating_sub(1))
    }

    /// Clears the screen from the cursor's line down, writes `lines` there, and flushes.
    fn write(&self, lines: &[String]) -> io::Result<()> {
        self.term.clear_to_end_of_screen()?;
        self.term.write_str(&lines.join("\n"))?;
        self.term.flush()
    }
}
