//! The steps that wait for a `-j` slot, and which one gets the next: the step with the
//! longest chain of steps after it ([`chain_lengths`](super::order::chain_lengths)), so that a
//! free slot goes to the critical path first; ties keep the plan's order.
//!
//! Slots granted in the order steps asked for them follow the plan's order among steps that
//! became ready together. In a pipeline whose build feeds four test steps and a five-step
//! release chain, that can start the tests before the chain's first step and lengthen the
//! whole run by a step. Ordering by the longest chain of dependents (a node's "bottom level",
//! the classic list-scheduling priority) needs nothing but the graph, known before the run.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::artifact::Artifact;
use crate::error::Result;

/// A step whose lookup says it must run.
pub(super) struct Queued {
    /// Its claim on a slot: the longest chain of steps from it to the plan's end.
    pub(super) priority: u32,
    /// Its place in the plan.
    pub(super) index: usize,
    /// Why it is not cached, in plain words.
    pub(super) reason: String,
    /// Runs it.
    pub(super) job: BoxFuture<'static, Result<Vec<Artifact>>>,
    /// The step whose run it shares, if any: it takes no slot.
    pub(super) shared_with: Option<Arc<str>>,
}

impl Queued {
    fn key(&self) -> (u32, Reverse<usize>) {
        (self.priority, Reverse(self.index))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The steps that wait to start.
#[derive(Default)]
pub(super) struct Queue {
    /// Steps that share another's run: they start at once.
    sharing: Vec<Queued>,
    /// Steps that need a slot, longest chain first, then first in the plan.
    waiting: BinaryHeap<Queued>,
}

impl Queue {
    /// Adds a step.
    pub(super) fn push(&mut self, queued: Queued) {
        if queued.shared_with.is_some() {
            self.sharing.push(queued);
        } else {
            self.waiting.push(queued);
        }
    }

    /// The next step that may start with `free` slots free.
    pub(super) fn pop(&mut self, free: usize) -> Option<Queued> {
        match self.sharing.pop() {
            Some(queued) => Some(queued),
            None if free > 0 => self.waiting.pop(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    fn queued(priority: u32, index: usize, shared: bool) -> Queued {
        Queued {
            priority,
            index,
            reason: String::new(),
            job: async { Ok(Vec::new()) }.boxed(),
            shared_with: shared.then(|| "other".into()),
        }
    }

    #[test]
    fn the_longest_chain_starts_first_then_plan_order_and_sharing_needs_no_slot() {
        let mut queue = Queue::default();
        queue.push(queued(1, 1, false));
        queue.push(queued(5, 3, false));
        queue.push(queued(1, 2, false));
        queue.push(queued(0, 4, true));
        let index = |q: Option<Queued>| q.map(|q| q.index);
        assert_eq!(index(queue.pop(0)), Some(4), "a shared run takes no slot");
        assert_eq!(index(queue.pop(0)), None, "no slot free");
        assert_eq!(index(queue.pop(1)), Some(3));
        assert_eq!(index(queue.pop(1)), Some(1));
        assert_eq!(index(queue.pop(1)), Some(2));
        assert_eq!(index(queue.pop(1)), None);
    }
}
