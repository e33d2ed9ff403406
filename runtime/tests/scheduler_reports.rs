//! Which test reports the scheduler marks `merged` (left out of the views) with a fake runner:
//! a fan-in that merges its shards' reports, never a report a step merged of its own tests.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod fake_runner_support;

use fake_runner_support::{info, never_called};

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tanto::__internal::Artifact;
use tanto::__internal::graph::{
    Arg, Builder, Node, NodeId, ParamInfo, PipelineInfo, Plan, StepInfo,
};
use tanto::__internal::report::{Event, EventSink};
use tanto::__internal::run::{NodeRunner, Prepared, Scheduler};
use tanto::{TestCase, TestFailure, TestOutcome, TestReport};

const INFOS: [StepInfo; 5] = [
    info("shard1", "TestReport"),
    info("shard2", "TestReport"),
    info("fan_in", "TestReport"),
    info("own", "TestReport"),
    info("mixed", "TestReport"),
];

/// `shard1` and `shard2` feed `fan_in`, which merges them; `own` merges two reports of its
/// own; `mixed` takes `shard1`'s report and adds a test of its own.
fn plan() -> Plan {
    let mut b = Builder::new();
    let handle = |node: NodeId| Arg::Handle { node, part: 0 };
    let s1 = b.step(INFOS[0], never_called, vec![]);
    let s2 = b.step(INFOS[1], never_called, vec![]);
    b.step(
        INFOS[2],
        never_called,
        vec![Arg::List(vec![handle(s1), handle(s2)])],
    );
    b.step(INFOS[3], never_called, vec![]);
    b.step(INFOS[4], never_called, vec![handle(s1)]);
    b.finish(
        PipelineInfo {
            name: "reports",
            path: "reports",
            doc: "",
            params: &[] as &[ParamInfo],
        },
        vec![],
    )
}

fn test(name: &str, outcome: TestOutcome) -> TestCase {
    let failure = (outcome == TestOutcome::Flaky).then(|| TestFailure {
        message: "first try fails".into(),
        file: Some("src/lib.rs".into()),
        line: Some(3),
        output_tail: String::new(),
    });
    TestCase {
        binary: "app".into(),
        name: name.into(),
        outcome,
        duration_ms: 1,
        attempts: if failure.is_some() { 2 } else { 1 },
        failure,
    }
}

fn report(tests: Vec<TestCase>) -> TestReport {
    TestReport::new("nextest", tests)
}

/// What each step returns, computed from its inputs as the step would.
fn outputs(label: &str, inputs: &[Artifact]) -> TestReport {
    let input = |i: usize| match &inputs[i] {
        Artifact::Value(value) => value.clone(),
        other => panic!("{label}: not a value: {other:?}"),
    };
    match label {
        "shard1" => report(vec![test("a", TestOutcome::Passed)]),
        "shard2" => report(vec![test("b", TestOutcome::Flaky)]),
        "fan_in" => TestReport::merge(serde_json::from_value::<Vec<TestReport>>(input(0)).unwrap()),
        "own" => TestReport::merge([
            report(vec![test("c", TestOutcome::Passed)]),
            report(vec![test("d", TestOutcome::Flaky)]),
        ]),
        "mixed" => TestReport::merge([
            serde_json::from_value(input(0)).unwrap(),
            report(vec![test("e", TestOutcome::Passed)]),
        ]),
        _ => panic!("no step {label}"),
    }
}

/// Runs every step, or finds every one cached.
struct Runner {
    cached: bool,
}

impl NodeRunner for Runner {
    fn prepare(
        &self,
        node: &Node,
        inputs: Vec<Artifact>,
    ) -> BoxFuture<'static, tanto::Result<Prepared>> {
        let value = serde_json::to_value(outputs(&node.label, &inputs)).unwrap();
        let out = vec![Artifact::Value(value)];
        let prepared = if self.cached {
            Prepared::Cached(out)
        } else {
            Prepared::Run {
                reason: "first run".into(),
                job: async move { Ok(out) }.boxed(),
                shared_with: None,
            }
        };
        async move { Ok(prepared) }.boxed()
    }
}

/// Each step's report as its `test_report` event carries it, in the order of the events.
async fn reported(cached: bool) -> Vec<(String, TestReport)> {
    let (events, mut rx) = EventSink::channel();
    let scheduler = Scheduler::new(2, events);
    let summary = scheduler.run(&plan(), Arc::new(Runner { cached })).await;
    assert!(summary.success(), "{:?}", summary.steps);
    drop(scheduler);
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::TestReport { step, report, .. } = e.event {
            seen.push((step.to_string(), report));
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    seen
}

#[tokio::test]
async fn only_a_fan_in_of_reports_shown_upstream_is_left_out_of_the_views() {
    for cached in [false, true] {
        let seen = reported(cached).await;
        let merged: Vec<(&str, bool, usize)> = seen
            .iter()
            .map(|(step, r)| (step.as_str(), r.merged, r.tests.len()))
            .collect();
        assert_eq!(
            merged,
            [
                // Its tests are the shards': shown by them.
                ("fan_in", true, 2),
                // `e` is shown nowhere else, so the whole report is shown.
                ("mixed", false, 2),
                // Merged of its own reports: its flaky test is shown here or nowhere.
                ("own", false, 2),
                ("shard1", false, 1),
                ("shard2", false, 1),
            ],
            "cached: {cached}"
        );
        // The report itself is the merge, whatever the flag.
        let own = &seen[2].1;
        assert_eq!(own.counts().flaky, 1);
    }
}
