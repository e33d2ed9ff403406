//! The run's event stream and the views that read it.

mod events;
mod json;
mod logs;
mod plain;
mod queue;
mod summary;
mod text;
mod trace;
mod tty;

pub use events::{Event, EventSink, Stamped, Stream};
pub use json::JsonView;
pub use logs::LogFiles;
pub use plain::PlainView;
pub use queue::{EventReceiver, MAX_QUEUED_LINES};
pub use summary::Summary;
pub(crate) use text::{Stdout, plural, print, shown};
pub use trace::Trace;
pub use tty::TtyView;

/// A consumer of the event stream.
pub trait View: Send {
    /// Handles one event.
    fn event(&mut self, event: &Stamped);

    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// Feeds every event from `rx` to each view in turn until the stream ends, then finishes
/// the views and the receiver's tap.
pub async fn drive(mut rx: EventReceiver, mut views: Vec<Box<dyn View>>) -> Vec<Box<dyn View>> {
    while let Some(event) = rx.recv().await {
        for view in &mut views {
            view.event(&event);
        }
    }
    for view in &mut views {
        view.finish();
    }
    rx.finish();
    views
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
