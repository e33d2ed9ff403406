//! Keeps each step's full log on disk, so a failure can point at it.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::report::{Event, Stamped, View};

/// Writes every step's log lines to `<dir>/<step>.log`.
pub struct LogFiles {
    dir: PathBuf,
    open: HashMap<Arc<str>, BufWriter<fs::File>>,
}

impl LogFiles {
    /// Log files under `dir`, created on the first line.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            open: HashMap::new(),
        }
    }

    /// The log file of step `label` under `dir`.
    pub fn path_for(dir: &Path, label: &str) -> PathBuf {
        let name: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!("{name}.log"))
    }

    fn writer(&mut self, step: &Arc<str>) -> Option<&mut BufWriter<fs::File>> {
        if !self.open.contains_key(&**step) {
            fs::create_dir_all(&self.dir).ok()?;
            let file = fs::File::create(Self::path_for(&self.dir, step)).ok()?;
            self.open.insert(Arc::clone(step), BufWriter::new(file));
        }
        self.open.get_mut(&**step)
    }
}

impl View for LogFiles {
    fn event(&mut self, stamped: &Stamped) {
        match &stamped.event {
            Event::StepLog { step, line, .. } => {
                if let Some(w) = self.writer(step) {
                    let _ = writeln!(w, "{line}");
                }
            }
            Event::StepNote { step, message } => {
                if let Some(w) = self.writer(step) {
                    let _ = writeln!(w, "tanto: {message}");
                }
            }
            Event::StepFailed { step, error, .. } => {
                if let Some(w) = self.writer(step) {
                    let _ = writeln!(w, "error: {error}");
                    let _ = w.flush();
                }
            }
            Event::StepFinished { step, .. } => {
                if let Some(mut w) = self.open.remove(step) {
                    let _ = w.flush();
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        for w in self.open.values_mut() {
            let _ = w.flush();
        }
    }
}
