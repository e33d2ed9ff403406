//! Runs a plan's nodes as their inputs become ready, up to `-j` at once (a free slot going to
//! the step with the longest chain of steps after it: `queue.rs`), fail-fast or keep-going,
//! and reports every transition as an event.
//!
//! Each node goes through two futures (`node.rs`): its lookup, then, if it must run, its job
//! in a slot. Between the two it waits in the loop's queue, so the loop alone decides who gets
//! a freed slot, and does so once the lookups that the freeing node's end started and that
//! ended at once are in the queue.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::graph::{Node, Plan};
use crate::report::{Event, EventSink};
use crate::run::job::panicked;
use crate::run::summary::{Outcome, RunSummary, StepStatus};
use crate::step::ShellLog;

mod node;
mod order;
mod queue;
mod reports;
mod started;
mod summarize;

use order::{chain_lengths, dependency_graph, dependents};
use queue::{Queue, Queued};
use reports::{Shown, Upstream, send_test_reports};
use started::Started;

/// What a runner decided about a node whose inputs are ready.
pub enum Prepared {
    /// The outputs are known without running anything (a cache hit, an input, a literal).
    Cached(Vec<Artifact>),
    /// The node must run, for `reason`; `job` runs it.
    Run {
        /// Why it is not cached, in plain words.
        reason: String,
        /// Runs the node and yields its outputs.
        job: BoxFuture<'static, Result<Vec<Artifact>>>,
        /// The label of the node whose run this one shares (same key, one run), if any: it
        /// takes no `-j` slot and counts as shared, not as run.
        shared_with: Option<Arc<str>>,
    },
}

/// Turns a node with realized inputs into outputs: the seam between scheduling and execution.
pub trait NodeRunner: Send + Sync + 'static {
    /// Looks the node up (cache, bindings) and returns its outputs or the job that makes them.
    fn prepare(&self, node: &Node, inputs: Vec<Artifact>) -> BoxFuture<'static, Result<Prepared>>;

    /// Corrects `summary` for what the scheduler did not see, before the run's end is
    /// reported: a cached step that ran after all, when what it made could not be fetched.
    fn settle(&self, _summary: &mut RunSummary) {}
}

/// Runs plans.
#[derive(Debug, Clone)]
pub struct Scheduler {
    jobs: usize,
    keep_going: bool,
    cancel: CancellationToken,
    events: EventSink,
    log_dir: Option<Arc<Path>>,
    shells: Arc<ShellLog>,
}

enum State {
    Waiting,
    Running,
    Finished(Vec<Artifact>),
    Failed,
    Skipped,
}

/// How a node ended.
struct Finish {
    index: usize,
    /// Whether it held a `-j` slot, which the loop gives back once it has looked up what the
    /// node's end made ready, so that those compete for it by priority.
    slot: bool,
    cached: bool,
    shared: bool,
    duration: Duration,
    result: Result<Vec<Artifact>>,
}

/// What a started node's future ends with.
enum Progress {
    /// Its lookup ended.
    Looked {
        index: usize,
        prepared: Result<Prepared>,
    },
    /// Its job ended.
    Ran(Finish),
}

/// The state of one run's loop.
struct Walk<'p> {
    plan: &'p Plan,
    /// How many dependencies of each node have yet to finish (a node is ready at zero).
    pending: Vec<usize>,
    dependents_of: Vec<Vec<usize>>,
    /// Each node's longest chain of steps after it: its claim on a free slot.
    priorities: Vec<u32>,
    state: Vec<State>,
    outcomes: Vec<Option<Outcome>>,
    /// Nodes whose inputs are ready, not yet started.
    ready: VecDeque<usize>,
    /// Steps to run, waiting for a slot.
    queue: Queue,
    /// Slots not held by a running step.
    free: usize,
    first_failure: Option<String>,
    /// Every started node's future, polled here: a node that is ready at once (a cache hit,
    /// a no-op) costs no task; a job that waits runs as a task of its own.
    tasks: Started<Progress>,
    /// The test reports of the steps that finished: what a fan-in's report repeats.
    shown: Shown,
}

impl Scheduler {
    /// A scheduler that runs at most `jobs` steps at once and reports to `events`.
    pub fn new(jobs: usize, events: EventSink) -> Self {
        Self {
            jobs: jobs.max(1),
            keep_going: false,
            cancel: CancellationToken::new(),
            events,
            log_dir: None,
            shells: Arc::default(),
        }
    }

    /// Finishes independent branches after a failure instead of stopping at the first one.
    pub fn keep_going(mut self, keep_going: bool) -> Self {
        self.keep_going = keep_going;
        self
    }

    /// Uses `cancel` as the run's cancellation token (cancel it on Ctrl-C).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Names the step's log file under `dir` as the full log of a failed step in its event.
    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(Arc::from(dir.into()));
        self
    }

    /// Reads in `shells` what `-i`'s shells, which keep a failed step's job going, did: the
    /// label of a step that failed and cancelled the run before its job ended, so the steps
    /// cancelled meanwhile say that its failure stopped them, not an interruption; and how long
    /// each step's job waited on a shell, which is not the step's time.
    pub fn with_shells(mut self, shells: Arc<ShellLog>) -> Self {
        self.shells = shells;
        self
    }

    /// The run's cancellation token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `plan` with `runner`, returning when every node has finished, failed or been
    /// skipped.
    pub async fn run(&self, plan: &Plan, runner: Arc<dyn NodeRunner>) -> RunSummary {
        // One wake-up of the views per turn of the loop, not one per event. The nodes' jobs
        // share one copy of the scheduler: cloning it for each would take the locks of its
        // cancellation token and of its event queue's sender count, twice a node.
        let shared = Arc::new(self.clone());
        self.events.batched(shared.run_loop(plan, runner)).await
    }

    async fn run_loop(self: &Arc<Self>, plan: &Plan, runner: Arc<dyn NodeRunner>) -> RunSummary {
        let started = Instant::now();
        let (pending, dependents_of) = dependency_graph(plan);
        let n = plan.nodes.len();
        let is_step: Vec<bool> = plan.nodes.iter().map(|n| n.step().is_some()).collect();
        let mut walk = Walk {
            plan,
            priorities: chain_lengths(&is_step, &dependents_of),
            ready: (0..n).filter(|&i| pending[i] == 0).collect(),
            pending,
            dependents_of,
            state: (0..n).map(|_| State::Waiting).collect(),
            outcomes: vec![None; n],
            queue: Queue::default(),
            free: self.jobs,
            first_failure: None,
            tasks: Started::default(),
            shown: Shown::new(n),
        };
        self.start_ready(&mut walk, &runner);
        while let Some(progress) = walk.tasks.next().await {
            if walk.first_failure.is_none()
                && let Some(label) = self.shells.early_failure()
            {
                walk.first_failure = Some(format!("`{label}` failed"));
            }
            match progress {
                Progress::Looked { index, prepared } => self.looked(&mut walk, index, prepared),
                Progress::Ran(finish) => {
                    walk.free += usize::from(finish.slot);
                    self.settle(&mut walk, finish);
                }
            }
            if self.cancel.is_cancelled() {
                self.skip_the_rest(&mut walk);
            } else {
                self.start_ready(&mut walk, &runner);
            }
            // Once every lookup that ended at once is queued: a free slot then goes to the
            // longest chain among all the steps that wait.
            if walk.tasks.none_ended() {
                self.dispatch(&mut walk).await;
            }
        }
        self.summarize(walk, started, runner.as_ref())
    }

    /// What the loop does with a node whose lookup ended.
    fn looked(&self, walk: &mut Walk<'_>, index: usize, prepared: Result<Prepared>) {
        let node = &walk.plan.nodes[index];
        let is_step = node.step().is_some();
        let ended = |cached, result| Finish {
            index,
            slot: false,
            cached,
            shared: false,
            // A node that did not run took no time.
            duration: Duration::ZERO,
            result,
        };
        match prepared {
            Err(e) => {
                let none = Upstream::default();
                self.report_end(&node.label, is_step, Duration::ZERO, &Err(&e), &none);
                self.settle(walk, ended(false, Err(e)));
            }
            Ok(Prepared::Cached(outputs)) => {
                if is_step {
                    let upstream = walk.shown.upstream(walk.plan, index);
                    send_test_reports(&self.events, &node.label, true, &outputs, &upstream);
                    self.events.send(Event::StepCached {
                        step: node.label.clone(),
                    });
                }
                self.settle(walk, ended(true, Ok(outputs)));
            }
            Ok(Prepared::Run {
                reason,
                job,
                shared_with,
            }) => walk.queue.push(Queued {
                priority: walk.priorities[index],
                index,
                reason,
                job,
                shared_with,
            }),
        }
    }

    /// Starts the queued steps that may run: those that share another's run, and the rest
    /// while slots are free, longest chain first.
    async fn dispatch(self: &Arc<Self>, walk: &mut Walk<'_>) {
        while let Some(queued) = walk.queue.pop(walk.free) {
            let slot = queued.shared_with.is_none();
            walk.free -= usize::from(slot);
            let label = walk.plan.nodes[queued.index].label.clone();
            let is_step = walk.plan.nodes[queued.index].step().is_some();
            let index = queued.index;
            let shared = !slot;
            let upstream = walk.shown.upstream(walk.plan, index);
            let run = Arc::clone(self).run_queued(queued, label.clone(), is_step, slot, upstream);
            let run = AssertUnwindSafe(run)
                .catch_unwind()
                // Only the scheduler's own code is left to panic here (a job's panic is its
                // error already): the node fails, and its slot comes back.
                .map(move |ran| {
                    ran.unwrap_or_else(|panic| {
                        Progress::Ran(Finish {
                            index,
                            slot,
                            cached: false,
                            shared,
                            duration: Duration::ZERO,
                            result: Err(panicked(&label, &*panic)),
                        })
                    })
                })
                .boxed();
            walk.tasks.push(run).await;
        }
    }

    /// Records how node `finish.index` ended, and readies its dependents or skips them.
    fn settle(&self, walk: &mut Walk<'_>, finish: Finish) {
        let node = &walk.plan.nodes[finish.index];
        let is_step = node.step().is_some();
        match finish.result {
            Ok(outputs) => {
                if is_step {
                    let status = if finish.cached {
                        StepStatus::Cached
                    } else if finish.shared {
                        StepStatus::Shared
                    } else {
                        StepStatus::Done
                    };
                    walk.outcomes[finish.index] = Some(Outcome {
                        label: node.label.clone(),
                        status,
                        duration: finish.duration,
                    });
                    walk.shown.record(finish.index, &outputs);
                }
                walk.state[finish.index] = State::Finished(outputs);
                // Dependents are listed in plan order, which keeps runs predictable.
                for &d in &walk.dependents_of[finish.index] {
                    walk.pending[d] -= 1;
                    if walk.pending[d] == 0 {
                        walk.ready.push_back(d);
                    }
                }
            }
            Err(error) => {
                walk.state[finish.index] = State::Failed;
                let cancelled = matches!(error, Error::Cancelled);
                let status = if cancelled {
                    // A step stopped while it ran says so; one that never started was cancelled.
                    let stopped = finish.slot || finish.shared;
                    let reason = if stopped {
                        stop_reason(walk.first_failure.as_deref())
                    } else {
                        cancel_reason(walk.first_failure.as_deref())
                    };
                    self.events.send(Event::StepSkipped {
                        step: node.label.clone(),
                        reason: reason.clone(),
                        stopped,
                    });
                    if stopped {
                        StepStatus::Stopped(reason)
                    } else {
                        StepStatus::Skipped(reason)
                    }
                } else {
                    (walk.first_failure).get_or_insert_with(|| format!("`{}` failed", node.label));
                    StepStatus::Failed {
                        message: error.to_string(),
                        kind: error.kind(),
                    }
                };
                // A step that was cancelled did not fail: its dependents say why the run stopped.
                let reason = if cancelled {
                    cancel_reason(walk.first_failure.as_deref())
                } else {
                    format!("`{}` failed", node.label)
                };
                walk.outcomes[finish.index] = Some(Outcome {
                    label: node.label.clone(),
                    status,
                    duration: finish.duration,
                });
                for dependent in dependents(&walk.dependents_of, finish.index) {
                    if matches!(walk.state[dependent], State::Waiting) {
                        walk.state[dependent] = State::Skipped;
                        self.skip(walk.plan, dependent, &reason, &mut walk.outcomes);
                    }
                }
            }
        }
    }

    /// After a cancellation: skips what waits for its inputs or for a slot.
    fn skip_the_rest(&self, walk: &mut Walk<'_>) {
        while let Some(queued) = walk.queue.pop(usize::MAX) {
            let finish = Finish {
                index: queued.index,
                slot: false,
                cached: false,
                shared: false,
                duration: Duration::ZERO,
                result: Err(Error::Cancelled),
            };
            self.settle(walk, finish);
        }
        let reason = cancel_reason(walk.first_failure.as_deref());
        for index in 0..walk.state.len() {
            if matches!(walk.state[index], State::Waiting) {
                walk.state[index] = State::Skipped;
                self.skip(walk.plan, index, &reason, &mut walk.outcomes);
            }
        }
    }

    fn skip(&self, plan: &Plan, index: usize, reason: &str, outcomes: &mut [Option<Outcome>]) {
        let node = &plan.nodes[index];
        if node.step().is_some() {
            self.events.send(Event::StepSkipped {
                step: node.label.clone(),
                reason: reason.to_owned(),
                stopped: false,
            });
            outcomes[index] = Some(Outcome {
                label: node.label.clone(),
                status: StepStatus::Skipped(reason.to_owned()),
                duration: Duration::ZERO,
            });
        }
    }

    /// Starts the lookup of every ready node that is still waiting, longest chain first.
    fn start_ready(&self, walk: &mut Walk<'_>, runner: &Arc<dyn NodeRunner>) {
        if walk.ready.len() > 1 {
            let priorities = &walk.priorities;
            (walk.ready.make_contiguous()).sort_by_key(|&i| (std::cmp::Reverse(priorities[i]), i));
        }
        while let Some(index) = walk.ready.pop_front() {
            if !matches!(walk.state[index], State::Waiting) {
                continue;
            }
            let node = &walk.plan.nodes[index];
            let inputs = node.realize_args(|id| match &walk.state[id.index()] {
                State::Finished(outputs) => Some(outputs.as_slice()),
                _ => None,
            });
            walk.state[index] = State::Running;
            match self.lookup(index, &node.label, runner.prepare(node, inputs)) {
                Ok(done) => walk.tasks.ended(done),
                Err(waits) => walk.tasks.going(waits),
            }
        }
    }
}

/// Why steps that never started are skipped.
fn cancel_reason(first_failure: Option<&str>) -> String {
    first_failure.map_or_else(|| "interrupted".to_owned(), |f| format!("cancelled: {f}"))
}

/// Why steps that were running were stopped.
fn stop_reason(first_failure: Option<&str>) -> String {
    first_failure.map_or_else(
        || "stopped while running: interrupted".to_owned(),
        |f| format!("stopped while running: {f}"),
    )
}
