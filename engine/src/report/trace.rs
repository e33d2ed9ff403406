//! A Chrome Trace Event timeline of the run, which opens in Perfetto or `chrome://tracing`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use crate::report::say;
use crate::report::{Event, Stamped, View};

/// Collects step spans and writes them as a Trace Event JSON file when the run ends.
pub struct Trace {
    path: PathBuf,
    start: Option<u64>,
    open: HashMap<Arc<str>, (u64, usize)>,
    lanes: Vec<bool>,
    events: Vec<serde_json::Value>,
    unwritten: bool,
}

impl Trace {
    /// A trace written to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            start: None,
            open: HashMap::new(),
            lanes: Vec::new(),
            events: Vec::new(),
            unwritten: false,
        }
    }

    fn lane(&mut self) -> usize {
        match self.lanes.iter().position(|busy| !busy) {
            Some(i) => {
                self.lanes[i] = true;
                i
            }
            None => {
                self.lanes.push(true);
                self.lanes.len() - 1
            }
        }
    }

    fn close(&mut self, step: &str, end: u64, status: &str) {
        if let Some((begin, lane)) = self.open.remove(step) {
            self.lanes[lane] = false;
            let base = self.start.unwrap_or(begin);
            self.events.push(json!({
                "name": step, "cat": status, "ph": "X", "pid": 1, "tid": lane + 1,
                "ts": begin.saturating_sub(base), "dur": end.saturating_sub(begin),
                "args": { "status": status },
            }));
        }
    }

    /// The trace as a JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let mut events = vec![json!({
            "name": "process_name", "ph": "M", "pid": 1, "args": { "name": "tanto" },
        })];
        for lane in 0..self.lanes.len() {
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": 1, "tid": lane + 1,
                "args": { "name": format!("slot {}", lane + 1) },
            }));
        }
        events.extend(self.events.iter().cloned());
        json!({ "traceEvents": events, "displayTimeUnit": "ms" })
    }
}

impl View for Trace {
    fn event(&mut self, stamped: &Stamped) {
        let at = stamped.ts_us;
        match &stamped.event {
            Event::RunStarted { .. } => self.start = Some(at),
            Event::StepStarted { step, .. } => {
                let lane = self.lane();
                self.open.insert(step.clone(), (at, lane));
            }
            Event::StepCached { step } => {
                let base = self.start.unwrap_or(at);
                self.events.push(json!({
                    "name": step, "cat": "cached", "ph": "i", "s": "g", "pid": 1, "tid": 0,
                    "ts": at.saturating_sub(base),
                }));
            }
            Event::StepFinished { step, .. } => self.close(step, at, "done"),
            Event::StepFailed { step, .. } => self.close(step, at, "failed"),
            // Only a step that started has a span to close.
            Event::StepSkipped { step, .. } => self.close(step, at, "stopped"),
            _ => {}
        }
    }

    fn finish(&mut self) {
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        if let Err(e) = std::fs::write(&self.path, text) {
            say!(
                "error: --trace: cannot write `{}`: {e}",
                self.path.display()
            );
            self.unwritten = true;
        }
    }

    fn unwritten(&self) -> bool {
        self.unwritten
    }
}
