//! Runs a plan's nodes as their inputs become ready, up to `-j` at once (a free slot going to
//! the step with the longest chain of steps after it: `slots.rs`), fail-fast or keep-going, and
//! reports every transition as an event.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures_util::future::BoxFuture;
use futures_util::{Future, FutureExt};
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::graph::{Node, Plan};
use crate::report::{Event, EventSink};
use crate::run::job::{panicked, run_job};
use crate::run::order::{chain_lengths, dependency_graph, dependents};
use crate::run::slots::{Slot, Slots};
use crate::run::started::Started;
use crate::run::summary::{Counts, Outcome, RunSummary, StepStatus};

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
        shared_with: Option<String>,
    },
}

/// Turns a node with realized inputs into outputs: the seam between scheduling and execution.
pub trait NodeRunner: Send + Sync + 'static {
    /// Looks the node up (cache, bindings) and returns its outputs or the job that makes them.
    fn prepare(&self, node: &Node, inputs: Vec<Artifact>) -> BoxFuture<'static, Result<Prepared>>;
}

/// Runs plans.
#[derive(Debug, Clone)]
pub struct Scheduler {
    jobs: usize,
    keep_going: bool,
    cancel: CancellationToken,
    events: EventSink,
    log_dir: Option<Arc<Path>>,
}

enum State {
    Waiting,
    Running,
    Finished(Vec<Artifact>),
    Failed,
    Skipped,
}

struct Finish {
    index: usize,
    /// The node's `-j` slot, given back once the loop has started what its end made ready, so
    /// that they can claim it by priority with the steps already waiting.
    slot: Option<Slot>,
    cached: bool,
    shared: bool,
    duration: Duration,
    result: Result<Vec<Artifact>>,
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

    /// Names `<dir>/<step>.log` as the full log of a failed step in its event.
    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(Arc::from(dir.into()));
        self
    }

    /// The run's cancellation token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `plan` with `runner`, returning when every node has finished, failed or been
    /// skipped.
    pub async fn run(&self, plan: &Plan, runner: Arc<dyn NodeRunner>) -> RunSummary {
        // One wake-up of the views per turn of the loop, not one per event.
        self.events.batched(self.run_loop(plan, runner)).await
    }

    // Long, but one event loop: its state (ready queue, pending counts, outcomes) is local to it.
    async fn run_loop(&self, plan: &Plan, runner: Arc<dyn NodeRunner>) -> RunSummary {
        let started = Instant::now();
        // How many dependencies of each node have yet to finish (a node is ready at zero), and
        // each node's dependents.
        let (mut pending, dependents_of) = dependency_graph(plan);
        let n = plan.nodes.len();
        let mut state: Vec<State> = (0..n).map(|_| State::Waiting).collect();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        // A free slot goes to the waiting step with the longest chain of steps after it.
        let is_step: Vec<bool> = plan.nodes.iter().map(|n| n.step().is_some()).collect();
        let priorities = chain_lengths(&is_step, &dependents_of);
        let permits = Slots::new(self.jobs);
        // Every started node's future, polled here: a node that is ready at once (a cache hit,
        // a no-op) costs no task; a job that waits runs as a task of its own.
        let mut tasks = Started::default();
        let mut first_failure: Option<String> = None;

        let mut ready: VecDeque<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
        self.spawn_ready(
            plan,
            &mut ready,
            &mut state,
            &runner,
            (&permits, &priorities),
            &mut tasks,
        )
        .await;
        while let Some(joined) = tasks.next().await {
            let finish = match joined {
                Ok(finish) => finish,
                // A node only ends without a value when it panicked inside the runner itself.
                Err(panic) => {
                    let message = panicked("the runner", &*panic);
                    tracing::error!("a scheduler task failed: {message}");
                    continue;
                }
            };
            let slot = finish.slot;
            let node = &plan.nodes[finish.index];
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
                        outcomes[finish.index] = Some(Outcome {
                            label: node.label.clone(),
                            status,
                            duration: finish.duration,
                        });
                    }
                    state[finish.index] = State::Finished(outputs);
                    // Dependents are listed in plan order, which keeps runs predictable.
                    for &d in &dependents_of[finish.index] {
                        pending[d] -= 1;
                        if pending[d] == 0 {
                            ready.push_back(d);
                        }
                    }
                }
                Err(error) => {
                    state[finish.index] = State::Failed;
                    let status = if matches!(error, Error::Cancelled) {
                        let reason = cancel_reason(first_failure.as_deref());
                        self.events.send(Event::StepSkipped {
                            step: node.label.clone(),
                            reason: reason.clone(),
                        });
                        StepStatus::Skipped(reason)
                    } else {
                        first_failure.get_or_insert_with(|| format!("`{}` failed", node.label));
                        StepStatus::Failed {
                            message: error.to_string(),
                            kind: error.kind(),
                        }
                    };
                    outcomes[finish.index] = Some(Outcome {
                        label: node.label.clone(),
                        status,
                        duration: finish.duration,
                    });
                    // A step that was cancelled did not fail: its dependents say why it stopped.
                    let reason = match &outcomes[finish.index] {
                        Some(Outcome {
                            status: StepStatus::Skipped(why),
                            ..
                        }) => why.clone(),
                        _ => format!("`{}` failed", node.label),
                    };
                    for dependent in dependents(&dependents_of, finish.index) {
                        if matches!(state[dependent], State::Waiting) {
                            state[dependent] = State::Skipped;
                            self.skip(plan, dependent, &reason, &mut outcomes);
                        }
                    }
                }
            }
            if self.cancel.is_cancelled() {
                let reason = cancel_reason(first_failure.as_deref());
                for (index, s) in state.iter_mut().enumerate() {
                    if matches!(s, State::Waiting) {
                        *s = State::Skipped;
                        self.skip(plan, index, &reason, &mut outcomes);
                    }
                }
            } else {
                self.spawn_ready(
                    plan,
                    &mut ready,
                    &mut state,
                    &runner,
                    (&permits, &priorities),
                    &mut tasks,
                )
                .await;
            }
            // After the nodes it made ready have asked for one.
            drop(slot);
        }

        let mut outputs = HashMap::new();
        for (index, s) in state.into_iter().enumerate() {
            if let State::Finished(artifacts) = s {
                outputs.insert(index, artifacts);
            }
        }
        let steps: Vec<Outcome> = plan
            .nodes
            .iter()
            .filter(|node| node.step().is_some())
            .map(|node| {
                outcomes[node.id.index()].take().unwrap_or_else(|| Outcome {
                    label: node.label.clone(),
                    status: StepStatus::Skipped("not reached".to_owned()),
                    duration: Duration::ZERO,
                })
            })
            .collect();
        let interrupted = self.cancel.is_cancelled() && first_failure.is_none();
        let summary = RunSummary {
            steps,
            outputs,
            interrupted,
            duration: started.elapsed(),
        };
        let Counts {
            ran,
            shared,
            cached,
            failed,
            skipped,
        } = summary.counts();
        self.events.send(Event::RunFinished {
            ran,
            shared,
            cached,
            failed,
            skipped,
            duration_ms: u64::try_from(summary.duration.as_millis()).unwrap_or(u64::MAX),
        });
        summary
    }

    fn skip(&self, plan: &Plan, index: usize, reason: &str, outcomes: &mut [Option<Outcome>]) {
        let node = &plan.nodes[index];
        if node.step().is_some() {
            self.events.send(Event::StepSkipped {
                step: node.label.clone(),
                reason: reason.to_owned(),
            });
            outcomes[index] = Some(Outcome {
                label: node.label.clone(),
                status: StepStatus::Skipped(reason.to_owned()),
                duration: Duration::ZERO,
            });
        }
    }

    /// Starts every ready node that is still waiting.
    async fn spawn_ready(
        &self,
        plan: &Plan,
        ready: &mut VecDeque<usize>,
        state: &mut [State],
        runner: &Arc<dyn NodeRunner>,
        (permits, priorities): (&Slots, &[u32]),
        tasks: &mut Started<NodeDone>,
    ) {
        // Started in order of priority, so that the first to reach a free slot are the nodes
        // with the longest chains after them, when their lookups take no time.
        if ready.len() > 1 {
            ready
                .make_contiguous()
                .sort_by_key(|&i| (std::cmp::Reverse(priorities[i]), i));
        }
        while let Some(index) = ready.pop_front() {
            if !matches!(state[index], State::Waiting) {
                continue;
            }
            let node = &plan.nodes[index];
            let inputs = node.realize_args(|id| match &state[id.index()] {
                State::Finished(outputs) => Some(outputs.as_slice()),
                _ => None,
            });
            state[index] = State::Running;
            let prepare = runner.prepare(node, inputs);
            let started =
                AssertUnwindSafe(self.node(index, priorities[index], node, prepare, permits))
                    .catch_unwind()
                    .boxed();
            tasks.push(started).await;
        }
    }

    /// What one started node does, from its lookup through its slot to its finish event.
    // Long, but one node's life: each step of it sends the event a view expects next.
    fn node(
        &self,
        index: usize,
        priority: u32,
        node: &Node,
        mut prepare: BoxFuture<'static, Result<Prepared>>,
        permits: &Slots,
    ) -> impl Future<Output = Finish> + 'static {
        let label = node.label.clone();
        let is_step = node.step().is_some();
        let events = self.events.clone();
        let permits = permits.clone();
        let cancel = self.cancel.clone();
        let keep_going = self.keep_going;
        let log_dir = self.log_dir.clone();
        async move {
            // A step's time is its own: from its slot, not from its wait for one.
            let mut started = Instant::now();
            // Cancellation is checked before each wait, and waited on only when the wait is
            // not over at once: most lookups are.
            let prepared = if cancel.is_cancelled() {
                Err(Error::Cancelled)
            } else if let Some(prepared) = (&mut prepare).now_or_never() {
                prepared
            } else {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => Err(Error::Cancelled),
                    prepared = prepare => prepared,
                }
            };
            // The permit is held until the step's end is reported, so events never show
            // more than `jobs` steps running at once.
            let mut permit = None;
            let mut shared = false;
            let (cached, result) = match prepared {
                Err(e) => (false, Err(e)),
                Ok(Prepared::Cached(outputs)) => {
                    if is_step {
                        send_test_reports(&events, &label, true, &outputs);
                        events.send(Event::StepCached {
                            step: label.clone(),
                        });
                    }
                    (true, Ok(outputs))
                }
                Ok(Prepared::Run {
                    reason,
                    job,
                    shared_with,
                }) => {
                    // A node that shares another's run waits on that run's slot.
                    let slot = match &shared_with {
                        Some(_) => true,
                        None => {
                            permit = if cancel.is_cancelled() {
                                None
                            } else {
                                match permits.try_take(priority, index) {
                                    Ok(slot) => Some(slot),
                                    Err(waiting) => tokio::select! {
                                        biased;
                                        () = cancel.cancelled() => None,
                                        slot = waiting.slot() => Some(slot),
                                    },
                                }
                            };
                            permit.is_some()
                        }
                    };
                    if !slot {
                        (false, Err(Error::Cancelled))
                    } else {
                        started = Instant::now();
                        shared = shared_with.is_some();
                        events.send(Event::StepStarted {
                            step: label.clone(),
                            reason,
                            shared_with,
                        });
                        (false, run_job(job, &label).await)
                    }
                }
            };
            let duration = started.elapsed();
            let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(outputs) if !cached && is_step => {
                    send_test_reports(&events, &label, false, outputs);
                    events.send(Event::StepFinished {
                        step: label.clone(),
                        duration_ms,
                    });
                }
                Err(e) if !matches!(e, Error::Cancelled) => {
                    let log_path = log_dir.map(|dir| {
                        crate::report::LogFiles::path_for(&dir, &label)
                            .display()
                            .to_string()
                    });
                    events.send(Event::StepFailed {
                        step: label.clone(),
                        duration_ms,
                        error: e.to_string(),
                        kind: e.kind(),
                        log_path,
                    });
                    if !keep_going {
                        cancel.cancel();
                    }
                }
                _ => {}
            }
            Finish {
                index,
                slot: permit,
                cached,
                shared,
                duration,
                result,
            }
        }
    }
}

/// What a node's future ends with: its finish, or the panic of the runner's lookup.
type NodeDone = std::thread::Result<Finish>;

/// Sends a `test_report` event for each [`TestReport`](crate::TestReport) among a step's
/// outputs, before the event that ends the step.
fn send_test_reports(events: &EventSink, label: &str, cached: bool, outputs: &[Artifact]) {
    for output in outputs {
        if let Artifact::Value(value) = output
            && let Some(report) = crate::artifact::TestReport::from_value(value)
        {
            events.send(Event::TestReport {
                step: label.to_owned(),
                cached,
                report,
            });
        }
    }
}

/// Why steps that never started are skipped.
fn cancel_reason(first_failure: Option<&str>) -> String {
    first_failure.map_or_else(|| "interrupted".to_owned(), |f| format!("cancelled: {f}"))
}
