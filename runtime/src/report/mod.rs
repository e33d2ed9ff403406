//! The run's event stream and the views that read it.

mod events;

pub use events::{Event, EventSink, Stamped, Stream};
