//! The run's event stream and the views that read it.

mod events;
mod graph;
mod json;
mod junit;
mod logs;
mod markdown;
mod plain;
mod queue;
mod redact;
mod summary;
mod text;
mod trace;
pub(crate) mod tty;

pub(crate) use crate::shown::shown;
pub use events::{Event, EventSink, Stamped, Stream};
pub use graph::{to_dot, to_mermaid};
pub use json::JsonView;
pub use junit::{Junit, STEPS_SUITE};
pub use logs::LogFiles;
pub use markdown::StepSummary;
pub use plain::PlainView;
pub use queue::{EventReceiver, MAX_QUEUED_LINES};
pub use redact::{MASK, Redactor};
pub use summary::Summary;
pub(crate) use text::say;
pub(crate) use text::{
    Stdout, columns, github_escaped, listed, padded, plural, print, shown_lines, utc,
};
pub use trace::Trace;
pub use tty::TtyView;

/// A consumer of the event stream.
pub trait View: Send {
    /// Handles one event.
    fn event(&mut self, event: &Stamped);

    /// Called once after the last event.
    fn finish(&mut self) {}

    /// Whether the view could not write the file the run was asked for (`--junit`, `--trace`),
    /// having said so: the run then exits 1, as when `--out` cannot be written.
    fn unwritten(&self) -> bool {
        false
    }
}

/// Holds the views back while a person uses the terminal (a shell into a failed step): events
/// wait in the stream and are shown, in order, when the hold ends. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Hold(std::sync::Arc<tokio::sync::RwLock<()>>);

impl Hold {
    /// Holds the views back until the guard is dropped.
    pub async fn hold(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        std::sync::Arc::clone(&self.0).write_owned().await
    }
}

/// Feeds every event from `rx` to each view in turn until the stream ends, waiting while
/// `hold` is held; then finishes the views and the receiver's tap. Blocking: views write to
/// the terminal and to files, so this runs on a thread of its own (`spawn_blocking`), where a
/// terminal that does not read stalls only the views, never a worker of the runtime.
pub fn drive(
    mut rx: EventReceiver,
    mut views: Vec<Box<dyn View>>,
    hold: Hold,
) -> Vec<Box<dyn View>> {
    while let Some(first) = rx.recv_blocking() {
        // A burst is shown under one hold check: the hold waits for its end, no longer.
        let _shown = hold.0.blocking_read();
        let mut next = Some(first);
        while let Some(event) = next {
            for view in &mut views {
                view.event(&event);
            }
            next = rx.next_in_burst();
        }
    }
    for view in &mut views {
        view.finish();
    }
    rx.finish();
    views
}

/// Formats a number of bytes the way people read it: `512 B`, `3.2 MiB`, `2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats a duration the way people read it: `850ms`, `12.3s`, `2m05s`.
pub fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod human_tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2 << 30), "2 GiB");
        assert_eq!(human_bytes(1536 << 10), "1.5 MiB");
        assert_eq!(human_bytes(62_915_259), "60.0 MiB");
    }
}
