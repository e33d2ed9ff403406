//! Scheduler logic with a fake runner: concurrency limits, fail-fast, keep-going, skipping.
//! Containers are not involved here; the Docker tests show real execution.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod fake_runner_support;

use fake_runner_support::{info, never_called};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tanto::__internal::Artifact;
use tanto::__internal::graph::{
    Arg, Builder, Node, NodeId, ParamInfo, PipelineInfo, Plan, StepInfo,
};
use tanto::__internal::report::{Event, EventSink, Stamped};
use tanto::__internal::run::{Counts, NodeRunner, Prepared, Scheduler, StepStatus};
use tokio_util::sync::CancellationToken;

const INFOS: [StepInfo; 6] = [
    info("a", "()"),
    info("b", "()"),
    info("c", "()"),
    info("d", "()"),
    info("e", "()"),
    info("f", "()"),
];

/// `a` feeds `b`, `c`, `d`, `e` (a fan-out); `f` depends on `b` only.
fn fan_out() -> Plan {
    let mut b = Builder::new();
    let a = b.step(INFOS[0], never_called, vec![]);
    let arg = |node: NodeId| vec![Arg::Handle { node, part: 0 }];
    let bb = b.step(INFOS[1], never_called, arg(a));
    b.step(INFOS[2], never_called, arg(a));
    b.step(INFOS[3], never_called, arg(a));
    b.step(INFOS[4], never_called, arg(a));
    b.step(INFOS[5], never_called, arg(bb));
    b.finish(
        PipelineInfo {
            name: "fan",
            path: "fan",
            doc: "",
            params: &[] as &[ParamInfo],
        },
        vec![],
    )
}

/// `a` feeds `b` and `c`, and `d`, which heads the chain `d` → `e` → `f`, listed last.
fn chain_last() -> Plan {
    let mut b = Builder::new();
    let arg = |node: NodeId| vec![Arg::Handle { node, part: 0 }];
    let a = b.step(INFOS[0], never_called, vec![]);
    b.step(INFOS[1], never_called, arg(a));
    b.step(INFOS[2], never_called, arg(a));
    let d = b.step(INFOS[3], never_called, arg(a));
    let e = b.step(INFOS[4], never_called, arg(d));
    b.step(INFOS[5], never_called, arg(e));
    b.finish(
        PipelineInfo {
            name: "chain",
            path: "chain",
            doc: "",
            params: &[] as &[ParamInfo],
        },
        vec![],
    )
}

/// The steps that become ready together once `a` is done: more of them than any `-j` tested.
const WAVE: [&str; 4] = ["b", "c", "d", "e"];

/// Sleeps for each step, tracks how many run at once, fails the steps named in `fail`.
struct Fake {
    running: AtomicUsize,
    peak: AtomicUsize,
    fail: Vec<&'static str>,
    sleep: Duration,
    /// When not zero, each step of [`WAVE`] waits until this many steps have run at once, so
    /// a machine slow to start the next one cannot end the first early and hide the overlap.
    gate: usize,
    /// The step whose lookup panics, if any.
    panics: Option<&'static str>,
    /// The step that runs until the run is cancelled, with the run's token, if any.
    waits_for_cancel: Option<(&'static str, CancellationToken)>,
    ran: Mutex<Vec<String>>,
}

impl Fake {
    fn new(fail: Vec<&'static str>, sleep_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            fail,
            sleep: Duration::from_millis(sleep_ms),
            gate: 0,
            panics: None,
            waits_for_cancel: None,
            ran: Mutex::new(Vec::new()),
        })
    }

    /// A fake whose wave waits for `jobs` steps at once, then sleeps `sleep_ms`.
    fn gated(jobs: usize, sleep_ms: u64) -> Arc<Self> {
        let mut fake = Self::new(vec![], sleep_ms);
        Arc::get_mut(&mut fake).expect("not shared yet").gate = jobs;
        fake
    }

    /// Waits until [`Fake::gate`] steps have run at once, for at most a minute: a scheduler
    /// that never runs that many fails the test's peak assertion then, instead of hanging.
    async fn wait_for_gate(&self, label: &str) {
        if self.gate == 0 || !WAVE.contains(&label) {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.peak.load(Ordering::SeqCst) < self.gate && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

struct Runner(Arc<Fake>);

impl NodeRunner for Runner {
    fn prepare(
        &self,
        node: &Node,
        _inputs: Vec<Artifact>,
    ) -> BoxFuture<'static, tanto::Result<Prepared>> {
        let fake = Arc::clone(&self.0);
        let label = node.label.clone();
        async move {
            assert!(fake.panics != Some(&*label), "the lookup of {label} broke");
            let job = async move {
                let now = fake.running.fetch_add(1, Ordering::SeqCst) + 1;
                fake.peak.fetch_max(now, Ordering::SeqCst);
                fake.wait_for_gate(&label).await;
                if let Some((step, cancel)) = &fake.waits_for_cancel
                    && **step == *label
                {
                    cancel.cancelled().await;
                    fake.running.fetch_sub(1, Ordering::SeqCst);
                    return Err(tanto::Error::Cancelled);
                }
                tokio::time::sleep(fake.sleep).await;
                fake.running.fetch_sub(1, Ordering::SeqCst);
                fake.ran.lock().unwrap().push(label.to_string());
                if fake.fail.contains(&&*label) {
                    Err(tanto::Error::Other(format!("{label} broke")))
                } else {
                    Ok(vec![Artifact::Value(serde_json::json!(label))])
                }
            };
            Ok(Prepared::Run {
                reason: "first run".into(),
                job: job.boxed(),
                shared_with: None,
            })
        }
        .boxed()
    }
}

async fn run(
    jobs: usize,
    keep_going: bool,
    fake: Arc<Fake>,
) -> (tanto::__internal::run::RunSummary, Vec<Stamped>) {
    run_plan(&fan_out(), jobs, keep_going, fake).await
}

async fn run_plan(
    plan: &Plan,
    jobs: usize,
    keep_going: bool,
    fake: Arc<Fake>,
) -> (tanto::__internal::run::RunSummary, Vec<Stamped>) {
    let (events, mut rx) = EventSink::channel();
    let mut scheduler = Scheduler::new(jobs, events).keep_going(keep_going);
    if let Some((_, cancel)) = &fake.waits_for_cancel {
        scheduler = scheduler.with_cancel(cancel.clone());
    }
    let summary = scheduler.run(plan, Arc::new(Runner(fake))).await;
    drop(scheduler);
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    (summary, seen)
}

fn status(summary: &tanto::__internal::run::RunSummary) -> HashMap<String, StepStatus> {
    summary
        .steps
        .iter()
        .map(|s| (s.label.to_string(), s.status.clone()))
        .collect()
}

/// The largest number of steps running at once, read from the events' timestamps.
fn overlap_from_events(events: &[Stamped]) -> usize {
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for e in events {
        match &e.event {
            Event::StepStarted { .. } => edges.push((e.ts_us, 1)),
            Event::StepFinished { .. } | Event::StepFailed { .. } => edges.push((e.ts_us, -1)),
            _ => {}
        }
    }
    edges.sort_by_key(|&(t, d)| (t, d));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    usize::try_from(peak).unwrap_or(0)
}

#[tokio::test]
async fn respects_the_job_limit_and_uses_it() {
    for jobs in [1, 2, 3] {
        // The sleep after the gate only gives a scheduler that over-starts the chance to.
        let fake = Fake::gated(jobs, 10);
        let (summary, events) = run(jobs, false, Arc::clone(&fake)).await;
        assert!(summary.success(), "{:?}", summary.steps);
        assert_eq!(
            fake.peak.load(Ordering::SeqCst),
            jobs,
            "peak concurrency with -j {jobs}"
        );
        assert_eq!(
            overlap_from_events(&events),
            jobs,
            "overlap in events with -j {jobs}"
        );
    }
}

#[tokio::test]
async fn fail_fast_skips_what_has_not_started() {
    let fake = Fake::new(vec!["a"], 10);
    let (summary, events) = run(4, false, fake).await;
    let status = status(&summary);
    assert!(
        matches!(status["a"], StepStatus::Failed { ref message, .. } if message.contains("a broke"))
    );
    for step in ["b", "c", "d", "e", "f"] {
        assert!(
            matches!(status[step], StepStatus::Skipped(_)),
            "{step}: {:?}",
            status[step]
        );
    }
    assert_eq!(
        summary.counts(),
        Counts {
            failed: 1,
            skipped: 5,
            ..Counts::default()
        }
    );
    let last = &events.last().expect("events").event;
    assert!(
        matches!(
            last,
            Event::RunFinished {
                failed: 1,
                skipped: 5,
                ran: 0,
                cached: 0,
                ..
            }
        ),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_step_stopped_while_it_ran_says_so_and_its_dependents_were_cancelled() {
    // In `chain_last`, `b` fails while `d`, which heads `e` and `f`, runs until it is stopped.
    let mut fake = Fake::new(vec!["b"], 10);
    Arc::get_mut(&mut fake)
        .expect("not shared yet")
        .waits_for_cancel = Some(("d", CancellationToken::new()));
    let (summary, events) = run_plan(&chain_last(), 4, false, Arc::clone(&fake)).await;
    let status = status(&summary);
    assert!(
        matches!(status["b"], StepStatus::Failed { .. }),
        "{:?}",
        status["b"]
    );
    assert_eq!(
        status["d"],
        StepStatus::Stopped("stopped while running: `b` failed".to_owned())
    );
    assert_eq!(summary.counts().stopped, 1);
    let last = &events.last().expect("events").event;
    assert!(
        matches!(
            last,
            Event::RunFinished {
                stopped: 1,
                skipped: 2,
                ..
            }
        ),
        "{last:?}"
    );
    for step in ["e", "f"] {
        assert_eq!(
            status[step],
            StepStatus::Skipped("cancelled: `b` failed".to_owned()),
            "{step}"
        );
    }
    let started = |step: &str| {
        events
            .iter()
            .any(|e| matches!(&e.event, Event::StepStarted { step: s, .. } if &**s == step))
    };
    assert!(started("d"), "the stopped step had started");
    assert!(!started("e"), "the cancelled step had not");
}

#[tokio::test]
async fn keep_going_finishes_independent_branches() {
    let fake = Fake::new(vec!["b"], 10);
    let (summary, _) = run(1, true, Arc::clone(&fake)).await;
    let status = status(&summary);
    assert!(matches!(status["b"], StepStatus::Failed { .. }));
    assert!(
        matches!(status["f"], StepStatus::Skipped(ref r) if r.contains("`b` failed")),
        "{:?}",
        status["f"]
    );
    for step in ["a", "c", "d", "e"] {
        assert_eq!(status[step], StepStatus::Done, "{step}");
    }
    assert!(!fake.ran.lock().unwrap().contains(&"f".to_owned()));
}

#[tokio::test]
async fn fail_fast_without_keep_going_stops_siblings_from_starting() {
    let fake = Fake::new(vec!["b"], 10);
    let (summary, _) = run(1, false, Arc::clone(&fake)).await;
    let ran = fake.ran.lock().unwrap().clone();
    assert_eq!(
        ran,
        vec!["a".to_owned(), "b".to_owned()],
        "only a and b ran with -j 1"
    );
    assert_eq!(
        summary.counts(),
        Counts {
            ran: 1,
            failed: 1,
            skipped: 4,
            ..Counts::default()
        }
    );
}

#[tokio::test]
async fn a_free_slot_goes_to_the_longest_chain_of_steps_first() {
    let fake = Fake::new(vec![], 1);
    let (summary, events) = run_plan(&chain_last(), 1, false, Arc::clone(&fake)).await;
    assert!(summary.success(), "{:?}", summary.steps);
    // `d` heads three steps and `e` two, against one for `b` and `c`: each takes the slot
    // first, `e` too, though `b` and `c` waited for it since `a` ended; ties go in plan order.
    let ran = fake.ran.lock().unwrap().clone();
    assert_eq!(ran, ["a", "d", "e", "b", "c", "f"]);
    let started: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::StepStarted { step, .. } => Some(&**step),
            _ => None,
        })
        .collect();
    assert_eq!(started, ran);
}

#[tokio::test]
async fn a_lookup_that_panics_fails_its_step_and_skips_its_dependents() {
    let mut fake = Fake::new(vec![], 1);
    Arc::get_mut(&mut fake).expect("not shared yet").panics = Some("b");
    let (summary, events) = run(2, true, Arc::clone(&fake)).await;
    let status = status(&summary);
    assert!(
        matches!(&status["b"], StepStatus::Failed { message, .. }
            if message.contains("step `b` panicked: the lookup of b broke")),
        "{:?}",
        status["b"]
    );
    assert!(
        matches!(&status["f"], StepStatus::Skipped(why) if why.contains("`b` failed")),
        "{:?}",
        status["f"]
    );
    for step in ["a", "c", "d", "e"] {
        assert_eq!(status[step], StepStatus::Done, "{step}");
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.event, Event::StepFailed { step, .. } if &**step == "b")),
        "the failure is reported"
    );
}
