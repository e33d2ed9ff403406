//! The run's event queue, bounded: a terminal that falls behind costs dropped lines of
//! output, never memory without end or a step waiting on it; the step's log file is written
//! as events happen, so it keeps every line.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use crate::report::{Event, Stamped, View};

/// How many lines of output the run's queue holds for its views before it drops new ones.
pub const MAX_QUEUED_LINES: usize = 10_000;

/// What a bounded sink shares with its receiver: how many lines are queued, which were
/// dropped, and the view fed as events happen (the log files).
pub(crate) struct Bounds {
    cap: usize,
    queued: AtomicUsize,
    dropped: Mutex<HashMap<String, u64>>,
    tap: Option<Mutex<Box<dyn View>>>,
}

impl std::fmt::Debug for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounds")
            .field("cap", &self.cap)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is one call; a panic elsewhere leaves the value whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Bounds {
    pub(crate) fn new(cap: usize, tap: Option<Box<dyn View>>) -> Self {
        Self {
            cap,
            queued: AtomicUsize::new(0),
            dropped: Mutex::new(HashMap::new()),
            tap: tap.map(Mutex::new),
        }
    }

    /// Feeds `stamped` to the tap, then queues it, unless it is a line of output and the
    /// queue is full. Before a step's next event, a note says how many of its lines were
    /// dropped.
    pub(crate) fn send(&self, tx: &mpsc::UnboundedSender<Stamped>, stamped: Stamped) {
        if let Some(tap) = &self.tap {
            lock(tap).event(&stamped);
        }
        let is_line = matches!(stamped.event, Event::StepLog { .. });
        if let Event::StepLog { step, .. } = &stamped.event
            && self.queued.load(Ordering::Relaxed) >= self.cap
        {
            *lock(&self.dropped).entry(step.clone()).or_default() += 1;
            return;
        }
        let dropped: Vec<(String, u64)> = match (&stamped.event, stamped.event.step()) {
            (Event::RunFinished { .. }, _) => lock(&self.dropped).drain().collect(),
            (_, Some(step)) => lock(&self.dropped).remove_entry(step).into_iter().collect(),
            (_, None) => Vec::new(),
        };
        for (step, lines) in dropped {
            let note = Event::StepNote {
                step,
                message: format!(
                    "{lines} lines of output were not shown here because the display could not keep up; the step's log has every line"
                ),
            };
            let _ = tx.send(Stamped {
                ts_us: stamped.ts_us,
                event: note,
            });
        }
        if is_line {
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
        let _ = tx.send(stamped);
    }
}

/// What the views of a run read: the events of a bounded [`EventSink`](crate::report::EventSink).
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::UnboundedReceiver<Stamped>,
    bounds: std::sync::Arc<Bounds>,
}

impl EventReceiver {
    pub(crate) fn new(
        rx: mpsc::UnboundedReceiver<Stamped>,
        bounds: std::sync::Arc<Bounds>,
    ) -> Self {
        Self { rx, bounds }
    }

    /// The next event; `None` once every sink is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Stamped> {
        let stamped = self.rx.recv().await?;
        self.taken(&stamped);
        Some(stamped)
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<Stamped, mpsc::error::TryRecvError> {
        let stamped = self.rx.try_recv()?;
        self.taken(&stamped);
        Ok(stamped)
    }

    /// How many events are queued.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Tells the tap the run is over (the log files flush).
    pub fn finish(&self) {
        if let Some(tap) = &self.bounds.tap {
            lock(tap).finish();
        }
    }

    fn taken(&self, stamped: &Stamped) {
        if matches!(stamped.event, Event::StepLog { .. }) {
            self.bounds.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
