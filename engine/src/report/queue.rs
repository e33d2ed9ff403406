//! The run's event queue: bounded, so a terminal that falls behind costs dropped lines of
//! output, never memory without end or a step waiting on it (the step's log file is written
//! as events happen, so it keeps every line); and woken once per burst, so a scheduler that
//! sends thousands of events in one turn does not wake the views' thread for each.

use std::collections::{HashMap, VecDeque};
use std::future::{Future as _, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use tokio::sync::mpsc::error::TryRecvError;

use crate::report::{Event, Stamped, View};

/// How many lines of output the run's queue holds for its views before it drops new ones.
pub const MAX_QUEUED_LINES: usize = 10_000;

/// What the senders and the receiver of a queue share.
struct Shared {
    state: Mutex<State>,
    /// Lines of output queued and not yet taken: past `cap`, new ones are dropped.
    cap: usize,
    queued: AtomicUsize,
    dropped: Mutex<HashMap<Arc<str>, Dropped>>,
    /// The view fed as events are sent (the log files), so it misses nothing.
    tap: Option<Mutex<Box<dyn View>>>,
}

/// The lines of one step dropped since its last note about them.
#[derive(Default)]
struct Dropped {
    lines: u64,
    /// When the last note about them was queued (the event's `ts_us`).
    noted_at: u64,
}

/// The least time between two notes about one step's dropped lines while its output goes
/// on: a step that floods the display gets a note a second, not one per line that fits.
const NOTE_EVERY_US: u64 = 1_000_000;

struct State {
    events: VecDeque<Stamped>,
    /// The receiver's waker, while it waits on an empty queue.
    reader: Option<Waker>,
    senders: usize,
    /// Open turns (see [`Sender::turn`]): the reader is woken when the last one ends.
    turns: usize,
    receiver_gone: bool,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is one call; a panic elsewhere leaves the value whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A queue of events for one receiver, holding at most `cap` lines of output.
pub(crate) fn queue(cap: usize, tap: Option<Box<dyn View>>) -> (Sender, EventReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            events: VecDeque::new(),
            reader: None,
            senders: 1,
            turns: 0,
            receiver_gone: false,
        }),
        cap,
        queued: AtomicUsize::new(0),
        dropped: Mutex::new(HashMap::new()),
        tap: tap.map(Mutex::new),
    });
    let receiver = EventReceiver {
        shared: Arc::clone(&shared),
        taken: VecDeque::new(),
    };
    (Sender(shared), receiver)
}

/// The sending side of a queue; the receiver sees the end of the stream once every sender
/// is dropped.
pub(crate) struct Sender(Arc<Shared>);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("cap", &self.0.cap)
            .field("queued", &self.0.queued)
            .finish_non_exhaustive()
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        lock(&self.0.state).senders += 1;
        Self(Arc::clone(&self.0))
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let reader = {
            let mut state = lock(&self.0.state);
            state.senders -= 1;
            if state.senders == 0 {
                state.reader.take()
            } else {
                None
            }
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

impl Sender {
    /// Feeds `stamped` to the tap, then queues it, unless it is a line of output and the
    /// queue is full. Before a step's next event other than a line, or its next line a
    /// second or more after the last such note, a note says how many of its lines were
    /// dropped.
    pub(crate) fn send(&self, stamped: Stamped) {
        let shared = &*self.0;
        if let Some(tap) = &shared.tap {
            lock(tap).event(&stamped);
        }
        let is_line = matches!(stamped.event, Event::StepLog { .. });
        if let Event::StepLog { step, .. } = &stamped.event
            && shared.queued.load(Ordering::Relaxed) >= shared.cap
        {
            lock(&shared.dropped).entry(step.clone()).or_default().lines += 1;
            return;
        }
        let dropped: Vec<(Arc<str>, u64)> = match (&stamped.event, stamped.event.step()) {
            (Event::RunFinished { .. }, _) => lock(&shared.dropped)
                .drain()
                .filter(|(_, d)| d.lines > 0)
                .map(|(step, d)| (step, d.lines))
                .collect(),
            (_, Some(step)) => {
                let mut all = lock(&shared.dropped);
                let due = all.get_mut(step).filter(|d| {
                    d.lines > 0
                        && (!is_line || stamped.ts_us.saturating_sub(d.noted_at) >= NOTE_EVERY_US)
                });
                due.map(|d| {
                    d.noted_at = stamped.ts_us;
                    (Arc::from(step), std::mem::take(&mut d.lines))
                })
                .into_iter()
                .collect()
            }
            (_, None) => Vec::new(),
        };
        let reader = {
            let mut state = lock(&shared.state);
            if state.receiver_gone {
                return;
            }
            if is_line {
                shared.queued.fetch_add(1, Ordering::Relaxed);
            }
            for (step, lines) in dropped {
                let note = Event::StepNote {
                    step,
                    message: format!(
                        "{lines} lines of output were not shown here because the display could not keep up; the step's log has every line"
                    ),
                };
                state.events.push_back(Stamped {
                    ts_us: stamped.ts_us,
                    event: note,
                });
            }
            state.events.push_back(stamped);
            // Within a turn, the turn's end wakes the reader.
            if state.turns == 0 {
                state.reader.take()
            } else {
                None
            }
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// Opens a turn: what is sent until the returned guard drops reaches the reader in one
    /// wake-up, when the guard drops (a panic's unwinding included).
    pub(crate) fn turn(&self) -> Turn<'_> {
        lock(&self.0.state).turns += 1;
        Turn(&self.0)
    }
}

/// An open turn of a queue; see [`Sender::turn`].
pub(crate) struct Turn<'a>(&'a Shared);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let reader = {
            let mut state = lock(&self.0.state);
            state.turns -= 1;
            if state.turns == 0 && !state.events.is_empty() {
                state.reader.take()
            } else {
                None
            }
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// Wakes a thread parked in [`EventReceiver::recv_blocking`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// What the views of a run read: the events of an [`EventSink`](crate::report::EventSink),
/// in the order they were sent. Each wake-up takes every event queued by then.
pub struct EventReceiver {
    shared: Arc<Shared>,
    /// Events taken from the queue and not yet handed out.
    taken: VecDeque<Stamped>,
}

impl std::fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReceiver")
            .field("taken", &self.taken.len())
            .finish_non_exhaustive()
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.receiver_gone = true;
        state.events.clear();
    }
}

impl EventReceiver {
    /// The next event; `None` once every sink is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Stamped> {
        if self.taken.is_empty() {
            poll_fn(|cx| {
                let mut state = lock(&self.shared.state);
                if !state.events.is_empty() {
                    std::mem::swap(&mut self.taken, &mut state.events);
                    Poll::Ready(())
                } else if state.senders == 0 {
                    Poll::Ready(())
                } else {
                    state.reader = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        }
        self.next_taken()
    }

    /// The next event, waiting on this thread; `None` once every sink is gone and the queue
    /// is empty. Not for a runtime's worker.
    pub fn recv_blocking(&mut self) -> Option<Stamped> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut next = pin!(self.recv());
        loop {
            match next.as_mut().poll(&mut cx) {
                Poll::Ready(stamped) => return stamped,
                // A wake-up that comes before the park makes the park return at once.
                Poll::Pending => std::thread::park(),
            }
        }
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<Stamped, TryRecvError> {
        if self.taken.is_empty() {
            let mut state = lock(&self.shared.state);
            if state.events.is_empty() {
                return Err(if state.senders == 0 {
                    TryRecvError::Disconnected
                } else {
                    TryRecvError::Empty
                });
            }
            std::mem::swap(&mut self.taken, &mut state.events);
        }
        self.next_taken().ok_or(TryRecvError::Empty)
    }

    /// How many events are queued.
    pub fn len(&self) -> usize {
        self.taken.len() + lock(&self.shared.state).events.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells the tap the run is over (the log files flush).
    pub fn finish(&self) {
        if let Some(tap) = &self.shared.tap {
            lock(tap).finish();
        }
    }

    /// The next event of those the last wake-up took, without taking more: a view's burst.
    pub(crate) fn next_in_burst(&mut self) -> Option<Stamped> {
        self.next_taken()
    }

    fn next_taken(&mut self) -> Option<Stamped> {
        let stamped = self.taken.pop_front()?;
        if matches!(stamped.event, Event::StepLog { .. }) {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        Some(stamped)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::FutureExt as _;

    use super::*;

    /// A waker that counts its wake-ups.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn note(n: usize) -> Stamped {
        Stamped {
            ts_us: n as u64,
            event: Event::RunNote {
                message: n.to_string(),
            },
        }
    }

    /// Polls the receiver once with a counting waker; returns what it got and the counter.
    fn park(rx: &mut EventReceiver) -> (Poll<Option<Stamped>>, Arc<Counter>) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let polled = pin!(rx.recv()).poll(&mut Context::from_waker(&waker));
        (polled, counter)
    }

    #[test]
    fn a_turn_wakes_its_reader_once_at_its_end_with_every_event_in_order() {
        let (tx, mut rx) = queue(usize::MAX, None);
        let (polled, wakes) = park(&mut rx);
        assert!(polled.is_pending());
        {
            let _turn = tx.turn();
            for n in 0..1000 {
                tx.send(note(n));
            }
            assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "woken within the turn");
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        drop(tx);
        let mut seen = Vec::new();
        while let Some(stamped) = rx.recv().now_or_never().expect("queued") {
            seen.push(stamped.ts_us);
        }
        assert_eq!(seen, (0..1000).collect::<Vec<u64>>());
    }

    #[test]
    fn outside_a_turn_a_parked_reader_is_woken_once_for_what_queues_before_it_runs() {
        let (tx, mut rx) = queue(usize::MAX, None);
        let (_, wakes) = park(&mut rx);
        for n in 0..3 {
            tx.send(note(n));
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.len(), 3);
    }

    #[test]
    fn a_turn_that_panics_still_hands_its_events_over() {
        let (tx, mut rx) = queue(usize::MAX, None);
        let (_, wakes) = park(&mut rx);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _turn = tx.turn();
            tx.send(note(7));
            panic!("in the turn");
        }));
        assert!(panicked.is_err());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        drop(tx);
        assert_eq!(rx.try_recv().map(|s| s.ts_us), Ok(7));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn the_last_sender_dropped_ends_the_stream_after_its_events() {
        let (tx, mut rx) = queue(usize::MAX, None);
        let other = tx.clone();
        let (_, wakes) = park(&mut rx);
        {
            let _turn = tx.turn();
            other.send(note(1));
            drop(other);
        }
        drop(tx);
        assert!(wakes.0.load(Ordering::SeqCst) >= 1);
        assert_eq!(rx.recv().now_or_never(), Some(Some(note(1))));
        assert_eq!(rx.recv().now_or_never(), Some(None));
    }

    #[test]
    fn a_flood_of_dropped_lines_is_noted_once_a_second_and_at_the_step_end() {
        let (tx, mut rx) = queue(10, None);
        let line = |ts_us: u64| Stamped {
            ts_us,
            event: Event::StepLog {
                step: "s".into(),
                stream: crate::report::Stream::Stdout,
                line: "x".into(),
            },
        };
        let (mut shown, mut notes, mut noted) = (0, 0, 0);
        let mut take = |rx: &mut EventReceiver| {
            while let Ok(stamped) = rx.try_recv() {
                match stamped.event {
                    Event::StepLog { .. } => shown += 1,
                    Event::StepNote { message, .. } => {
                        notes += 1;
                        noted += message.split(' ').next().unwrap().parse::<u64>().unwrap();
                    }
                    _ => {}
                }
            }
        };
        // 100 000 lines over 2.5 s, the reader taking what is queued after every 100.
        let total = 100_000;
        for n in 0..total {
            tx.send(line(n * 25));
            if n % 100 == 99 {
                take(&mut rx);
            }
        }
        tx.send(Stamped {
            ts_us: total * 25,
            event: Event::StepFinished {
                step: "s".into(),
                duration_ms: 2500,
            },
        });
        take(&mut rx);
        assert!((2..=4).contains(&notes), "{notes} notes");
        assert_eq!(
            shown + noted,
            total,
            "every line is shown or counted in a note"
        );
    }
}
