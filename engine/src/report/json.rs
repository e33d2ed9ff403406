//! JSON lines: one event object per line, for machines. The schema is in `docs/events.md`.

use std::io::Write;

use crate::report::{Stamped, View};

/// Writes each event as one line of JSON.
pub struct JsonView<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonView<W> {
    /// A view writing to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> View for JsonView<W> {
    fn event(&mut self, event: &Stamped) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}
