//! Times the scheduler alone: a no-op runner over a 10k-node layered DAG, no containers.
//!
//! `bench_sched [NODES] [REPS]` prints one `ms=` line per repetition (the time of
//! `Scheduler::run`, its events read by a run's own queue and `report::drive`, with one view
//! that counts them) after one warm-up, and the time to build the plan as `plan_ms=`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tanto::__internal::Artifact;
use tanto::__internal::graph::{
    Arg, Builder, Node, NodeId, ParamInfo, PipelineInfo, Plan, StepInfo, StepSettings,
};
use tanto::__internal::report::{EventSink, Hold, MAX_QUEUED_LINES, Stamped, View, drive};
use tanto::__internal::run::{NodeRunner, Prepared, Scheduler};
use tanto::Ctx;

const WIDTH: usize = 100;

fn never_called(_: &Ctx, _: Vec<Artifact>) -> BoxFuture<'_, tanto::Result<Vec<Artifact>>> {
    async {
        Err(tanto::Error::Other(
            "the no-op runner never calls step fns".into(),
        ))
    }
    .boxed()
}

const INFO: StepInfo = StepInfo {
    name: "noop",
    path: "bench::noop",
    doc: "",
    tokens: "",
    code: tanto::__internal::graph::CodeInfo::NONE,
    params: &[],
    output: "()",
    settings: StepSettings::DEFAULT,
};

/// Layers of `WIDTH` nodes; each node after the first layer depends on two of the previous.
fn layered(nodes: usize) -> Plan {
    let mut b = Builder::new();
    let mut prev: Vec<NodeId> = Vec::new();
    let mut made = 0;
    while made < nodes {
        let width = WIDTH.min(nodes - made);
        let layer: Vec<NodeId> = (0..width)
            .map(|k| {
                let args = if prev.is_empty() {
                    Vec::new()
                } else {
                    let other = (k * 7 + 3) % prev.len();
                    let mut args = vec![Arg::Handle {
                        node: prev[k % prev.len()],
                        part: 0,
                    }];
                    if other != k % prev.len() {
                        args.push(Arg::Handle {
                            node: prev[other],
                            part: 0,
                        });
                    }
                    args
                };
                b.step(INFO, never_called, args)
            })
            .collect();
        made += width;
        prev = layer;
    }
    let info = PipelineInfo {
        name: "noop",
        path: "bench::noop",
        doc: "",
        params: &[] as &[ParamInfo],
    };
    b.finish(info, Vec::new())
}

/// Runs every node at once with an empty output.
struct NoOp;

impl NodeRunner for NoOp {
    fn prepare(
        &self,
        _node: &Node,
        _inputs: Vec<Artifact>,
    ) -> BoxFuture<'static, tanto::Result<Prepared>> {
        async {
            let job = async { Ok(vec![Artifact::Value(serde_json::Value::Null)]) }.boxed();
            Ok(Prepared::Run {
                reason: "bench".into(),
                job,
                shared_with: None,
            })
        }
        .boxed()
    }
}

/// A view that counts the events it is shown.
struct Count(Arc<AtomicUsize>);

impl View for Count {
    fn event(&mut self, _: &Stamped) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

async fn once(plan: &Plan, jobs: usize) -> Result<f64, String> {
    // The queue and the loop a run's views read through.
    let (events, rx) = EventSink::bounded(MAX_QUEUED_LINES, None);
    let seen = Arc::new(AtomicUsize::new(0));
    let count: Box<dyn View> = Box::new(Count(Arc::clone(&seen)));
    let drain = tokio::task::spawn_blocking(move || drive(rx, vec![count], Hold::default()));
    let scheduler = Scheduler::new(jobs, events);
    let started = Instant::now();
    let summary = scheduler.run(plan, Arc::new(NoOp)).await;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    drop(scheduler);
    drain.await.map_err(|e| e.to_string())?;
    let seen = seen.load(Ordering::Relaxed);
    if !summary.success() || summary.steps.len() != plan.nodes.len() {
        return Err(format!(
            "the no-op run did not finish every node: {:?}",
            summary.counts()
        ));
    }
    if seen < plan.nodes.len() {
        return Err(format!("only {seen} events for {} nodes", plan.nodes.len()));
    }
    Ok(ms)
}

fn arg(n: usize, default: usize) -> Result<usize, String> {
    std::env::args().nth(n).map_or(Ok(default), |a| {
        a.parse().map_err(|e| format!("bad number `{a}`: {e}"))
    })
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let nodes = arg(1, 10_000)?;
    let reps = arg(2, 10)?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let plan = layered(nodes);
    println!("plan_ms={:.3}", started.elapsed().as_secs_f64() * 1e3);
    once(&plan, jobs).await?;
    for _ in 0..reps {
        println!("ms={:.3}", once(&plan, jobs).await?);
    }
    Ok(())
}
