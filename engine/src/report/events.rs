//! Typed events: the one stream every view (TTY, plain, JSON, trace, summary) reads.

use std::time::{Duration, Instant, SystemTime};

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::artifact::TestReport;
use crate::report::View;
use crate::report::queue::{EventReceiver, Sender, queue};
use crate::report::redact::Redactor;

pub use crate::backend::Stream;

/// Something that happened during a run. See `docs/events.md` for the JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The run began.
    RunStarted {
        /// The run's id, also on every container's `tanto.run` label.
        run_id: String,
        /// The pipeline's name.
        pipeline: String,
        /// How many steps the plan has.
        steps: usize,
    },
    /// A step will run, and why it is not cached.
    StepStarted {
        /// The step's label.
        step: Arc<str>,
        /// Why it runs: first run, code changed, input `src` changed, …
        reason: String,
        /// The step whose run this one shares (the same key runs once), if any.
        shared_with: Option<Arc<str>>,
    },
    /// A line of a step's output.
    StepLog {
        /// The step's label.
        step: Arc<str>,
        /// stdout or stderr.
        stream: Stream,
        /// The line, without its newline.
        line: String,
    },
    /// A message of tanto's own about a step (an image pull, an input that changed while it
    /// ran): never part of the step's output.
    StepNote {
        /// The step's label.
        step: Arc<str>,
        /// The message, one line.
        message: String,
    },
    /// A message of tanto's own about the whole run (it was interrupted, say): never a step's
    /// output. Views show it where it cannot tear a frame of the live tree.
    RunNote {
        /// The message, one line.
        message: String,
    },
    /// A step's result came from the cache.
    StepCached {
        /// The step's label.
        step: Arc<str>,
    },
    /// A step ran and succeeded.
    StepFinished {
        /// The step's label.
        step: Arc<str>,
        /// How long it ran.
        duration_ms: u64,
    },
    /// A step failed.
    StepFailed {
        /// The step's label.
        step: Arc<str>,
        /// How long it ran.
        duration_ms: u64,
        /// What went wrong.
        error: String,
        /// Which kind of failure it was: `command_failed`, `timeout`, `missing_path`,
        /// `step` (the step's own code), … (see `docs/events.md`).
        kind: &'static str,
        /// The full log of the step, kept on disk.
        log_path: Option<String>,
    },
    /// A step's tests: a [`TestReport`] it returned (`cached` when the result came from the
    /// cache), or one it recorded with [`Ctx::report_tests`](crate::Ctx::report_tests) before
    /// failing. Comes before the step's `step_finished`, `step_cached` or `step_failed`.
    TestReport {
        /// The step's label.
        step: Arc<str>,
        /// Whether the report is the cached result of an earlier run.
        cached: bool,
        /// The outcome of every test.
        report: TestReport,
    },
    /// A step did not run, or did not run to its end, because something it needs failed or
    /// the run was cancelled (a step stopped while it ran has had its `StepStarted`).
    StepSkipped {
        /// The step's label.
        step: Arc<str>,
        /// Why.
        reason: String,
        /// Whether it had started: a failure elsewhere or Ctrl-C stopped it while it ran.
        stopped: bool,
    },
    /// The run ended.
    RunFinished {
        /// Steps that ran in a container of their own.
        ran: usize,
        /// Steps that shared the run of another step with the same key.
        shared: usize,
        /// Steps whose results came from the cache.
        cached: usize,
        /// Steps that failed.
        failed: usize,
        /// Steps that did not run.
        skipped: usize,
        /// Steps that started and were stopped while they ran.
        stopped: usize,
        /// How long the run took.
        duration_ms: u64,
    },
}

impl Event {
    /// Replaces the run's secrets in every text the event carries.
    fn redact(&mut self, redactor: &Redactor) {
        let clean = |text: &mut String| {
            if let std::borrow::Cow::Owned(r) = redactor.redact(text) {
                *text = r;
            }
        };
        match self {
            Event::StepStarted { reason, .. } | Event::StepSkipped { reason, .. } => clean(reason),
            Event::StepLog { line, .. } => clean(line),
            Event::StepNote { message, .. } | Event::RunNote { message } => clean(message),
            Event::StepFailed { error, .. } => clean(error),
            Event::TestReport { report, .. } => {
                // Every text of the report, through the same redactor as a step's value.
                if let Ok(mut value) = serde_json::to_value(&*report) {
                    redactor.redact_json(&mut value);
                    if let Ok(clean) = serde_json::from_value(value) {
                        *report = clean;
                    }
                }
            }
            Event::RunStarted { .. }
            | Event::StepCached { .. }
            | Event::StepFinished { .. }
            | Event::RunFinished { .. } => {}
        }
    }

    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepLog { step, .. }
            | Event::StepNote { step, .. }
            | Event::StepCached { step }
            | Event::StepFinished { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::TestReport { step, .. } => Some(step),
            Event::RunStarted { .. } | Event::RunNote { .. } | Event::RunFinished { .. } => None,
        }
    }
}

/// An event with the time it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stamped {
    /// Microseconds since the Unix epoch.
    pub ts_us: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// Where events go. Cheap to clone; sending never blocks and never fails the run. Every
/// event passes the run's [`Redactor`] on its way in, so no view, log, trace or summary can
/// show a secret.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<Sender>,
    epoch: (Instant, SystemTime),
    redactor: Arc<RwLock<Redactor>>,
}

impl EventSink {
    /// A sink and a receiver that gets every event, however far behind it falls: for tests
    /// and tools that read them all. A run uses [`bounded`](Self::bounded).
    pub fn channel() -> (Self, EventReceiver) {
        let (tx, rx) = queue(usize::MAX, None);
        (Self::with(Some(tx)), rx)
    }

    /// A sink whose queue holds at most `max_lines` lines of output for the receiver: past
    /// that, new lines are dropped (the other events never are) and a note before the step's
    /// next event says how many. `tap` (the log files) gets every event as it is sent, so it
    /// misses nothing.
    pub fn bounded(max_lines: usize, tap: Option<Box<dyn View>>) -> (Self, EventReceiver) {
        let (tx, rx) = queue(max_lines, tap);
        (Self::with(Some(tx)), rx)
    }

    /// A sink that drops every event, for direct calls of a step outside a run.
    pub fn discard() -> Self {
        Self::with(None)
    }

    fn with(tx: Option<Sender>) -> Self {
        Self {
            tx,
            epoch: (Instant::now(), SystemTime::now()),
            redactor: Arc::default(),
        }
    }

    /// Runs `work`, handing what each of its polls sends to the receiver in one wake-up when
    /// the poll ends, instead of waking the receiver for each event: for the scheduler, whose
    /// one turn can send thousands. Order is kept, and nothing is held back past the poll.
    pub async fn batched<F: Future>(&self, work: F) -> F::Output {
        let Some(tx) = &self.tx else {
            return work.await;
        };
        let mut work = pin!(work);
        poll_fn(|cx| {
            let _turn = tx.turn();
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Redacts every form of `value` from what is sent from now on (and from
    /// [`EventSink::redact`]).
    pub fn add_secret(&self, value: &str) {
        self.redactor
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(value);
    }

    /// The run's redactor as it is now.
    pub fn redactor(&self) -> Redactor {
        self.redactor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `text` with the run's secrets replaced by `***`: for what tanto prints itself.
    pub fn redact(&self, text: &str) -> String {
        self.redactor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .redact(text)
            .into_owned()
    }

    /// Sends `event`, stamped with the current time.
    pub fn send(&self, mut event: Event) {
        {
            let redactor = self.redactor.read().unwrap_or_else(PoisonError::into_inner);
            if !redactor.is_empty() {
                event.redact(&redactor);
            }
        }
        let Some(tx) = &self.tx else { return };
        let since_epoch = self.epoch.1 + self.epoch.0.elapsed();
        let ts_us = since_epoch
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_micros();
        let stamped = Stamped {
            ts_us: u64::try_from(ts_us).unwrap_or(u64::MAX),
            event,
        };
        tx.send(stamped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(step: &str, n: usize) -> Event {
        Event::StepLog {
            step: step.into(),
            stream: Stream::Stdout,
            line: format!("line {n}"),
        }
    }

    #[test]
    fn a_secret_a_test_printed_is_masked_in_its_report() {
        let (sink, mut rx) = EventSink::channel();
        sink.add_secret("hunter2-secret");
        let report: TestReport = serde_json::from_value(serde_json::json!({
            "tanto_test_report": 1,
            "runner": "nextest",
            "tests": [{
                "binary": "app", "name": "leaks_hunter2-secret", "outcome": "failed",
                "duration_ms": 1, "attempts": 1,
                "failure": {"message": "token hunter2-secret", "file": null, "line": null,
                            "output_tail": "printed hunter2-secret"}
            }]
        }))
        .unwrap();
        sink.send(Event::TestReport {
            step: "s".into(),
            cached: false,
            report,
        });
        let event = rx.try_recv().unwrap().event;
        let text = serde_json::to_string(&event).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let Event::TestReport { report, .. } = event else {
            panic!("{event:?}")
        };
        assert_eq!(report.tests[0].name, "leaks_***");
        assert_eq!(
            report.tests[0].failure.as_ref().unwrap().message,
            "token ***"
        );
    }

    #[test]
    fn a_reader_that_falls_behind_never_holds_more_than_a_bounded_queue() {
        let (sink, mut rx) = EventSink::bounded(10_000, None);
        for n in 0..100_000 {
            sink.send(line("s", n));
        }
        sink.send(Event::StepFinished {
            step: "s".into(),
            duration_ms: 1,
        });
        assert!(rx.len() <= 20_000, "{} events queued", rx.len());
        drop(sink);
        let mut logs = 0;
        let mut notes = Vec::new();
        let mut last = None;
        while let Ok(stamped) = rx.try_recv() {
            match &stamped.event {
                Event::StepLog { .. } => logs += 1,
                Event::StepNote { message, .. } => notes.push(message.clone()),
                _ => {}
            }
            last = Some(stamped.event);
        }
        assert!(logs < 100_000, "{logs}");
        assert!(
            notes
                .iter()
                .any(|n| n.contains(&format!("{} lines", 100_000 - logs))),
            "a note says how many lines were not shown: {notes:?}"
        );
        assert!(matches!(last, Some(Event::StepFinished { .. })), "{last:?}");
    }
}
