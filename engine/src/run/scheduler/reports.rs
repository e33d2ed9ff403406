//! The `test_report` events of the steps' outputs, and which of them the views leave out: a
//! report whose every test is one that the steps it depends on reported already (a fan-in that
//! merges shards) is sent `merged`, so each test is shown once. Any other report is shown,
//! whether or not a step built it with [`TestReport::merge`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::artifact::{Artifact, TestCase, TestReport};
use crate::graph::Plan;
use crate::report::{Event, EventSink};

/// The reports each finished step returned, by node index.
#[derive(Debug, Default)]
pub(super) struct Shown(Vec<Option<Arc<[TestReport]>>>);

impl Shown {
    /// Room for the `n` nodes of a plan.
    pub(super) fn new(n: usize) -> Self {
        Self(vec![None; n])
    }

    /// Keeps the reports among the outputs of step `index`.
    pub(super) fn record(&mut self, index: usize, outputs: &[Artifact]) {
        let reports = reports_of(outputs);
        if let (false, Some(slot)) = (reports.is_empty(), self.0.get_mut(index)) {
            *slot = Some(reports.into());
        }
    }

    /// The reports of the steps that node `index` takes outputs of, all finished by now.
    pub(super) fn upstream(&self, plan: &Plan, index: usize) -> Upstream {
        let deps = plan.nodes.get(index).map(|n| n.deps()).unwrap_or_default();
        Upstream(
            deps.into_iter()
                .filter_map(|d| self.0.get(d.index()).cloned().flatten())
                .collect(),
        )
    }
}

/// The reports that the steps a node depends on returned: their tests are shown already.
#[derive(Debug, Default)]
pub(super) struct Upstream(Vec<Arc<[TestReport]>>);

impl Upstream {
    /// Whether every test of `report` is one of theirs, as they reported it. A report of a
    /// step that takes no report is never covered, even when empty.
    fn covers(&self, report: &TestReport) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let mut shown: HashMap<(&str, &str), Vec<&TestCase>> = HashMap::new();
        for test in self.0.iter().flat_map(|r| r.iter()).flat_map(|r| &r.tests) {
            let key = (test.binary.as_str(), test.name.as_str());
            shown.entry(key).or_default().push(test);
        }
        report.tests.iter().all(|test| {
            shown
                .get(&(test.binary.as_str(), test.name.as_str()))
                .is_some_and(|seen| seen.contains(&test))
        })
    }
}

/// The [`TestReport`]s among a step's outputs.
fn reports_of(outputs: &[Artifact]) -> Vec<TestReport> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Artifact::Value(value) => TestReport::from_value(value),
            _ => None,
        })
        .collect()
}

/// Sends a `test_report` event for each [`TestReport`] among a step's outputs, before the
/// event that ends the step: `merged` when `upstream` shows each of its tests already.
pub(super) fn send_test_reports(
    events: &EventSink,
    label: &Arc<str>,
    cached: bool,
    outputs: &[Artifact],
    upstream: &Upstream,
) {
    for mut report in reports_of(outputs) {
        report.merged = upstream.covers(&report);
        events.send(Event::TestReport {
            step: Arc::clone(label),
            cached,
            report,
        });
    }
}
