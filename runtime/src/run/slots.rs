//! The run's `-j` slots, and which waiting step gets the next one: the step with the longest
//! chain of steps after it ([`chain_lengths`](super::order::chain_lengths)), so that a free
//! slot goes to the critical path first.
//!
//! A plain fair semaphore grants slots in the order steps asked for them, which is the plan's
//! order among steps that became ready together. In a pipeline whose build feeds five test
//! steps and a five-step release chain, that order can start four tests before the chain's
//! first step, and so lengthen the whole run by a step. Ordering by the longest chain of
//! dependents (a node's "bottom level", the classic list-scheduling priority) needs nothing
//! but the graph, which is known before the run starts; ties keep the plan's order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// `-j` slots handed out by priority. Cheap to clone; clones share the slots.
#[derive(Clone)]
pub(super) struct Slots {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    free: usize,
    /// Who waits, highest priority first, then first in the plan.
    waiting: BinaryHeap<Waiter>,
}

struct Waiter {
    priority: u32,
    index: Reverse<usize>,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.index) == (other.priority, other.index)
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.priority, self.index).cmp(&(other.priority, other.index))
    }
}

/// One slot, held until dropped.
pub(super) struct Slot {
    slots: Slots,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.give_back();
    }
}

impl Slots {
    /// `jobs` slots, all free.
    pub(super) fn new(jobs: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                free: jobs,
                waiting: BinaryHeap::new(),
            })),
        }
    }

    /// A slot for node `index` of priority `priority`, at once if one is free and nobody
    /// waits (no waiter is overtaken), else when it is its turn.
    pub(super) fn try_take(&self, priority: u32, index: usize) -> Result<Slot, Waiting> {
        let mut inner = self.lock();
        if inner.free > 0 && inner.waiting.is_empty() {
            inner.free -= 1;
            return Ok(Slot {
                slots: self.clone(),
            });
        }
        let (wake, woken) = oneshot::channel();
        inner.waiting.push(Waiter {
            priority,
            index: Reverse(index),
            wake,
        });
        Err(Waiting {
            slots: self.clone(),
            woken: Some(woken),
        })
    }

    /// Hands a slot to the first waiter still waiting, or frees it.
    fn give_back(&self) {
        let mut inner = self.lock();
        while let Some(waiter) = inner.waiting.pop() {
            // A waiter that went (its step cancelled) has dropped its receiver.
            if waiter.wake.send(()).is_ok() {
                return;
            }
        }
        inner.free += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the state whole, so a panic elsewhere cannot break it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A turn in the queue for a slot. Dropping it gives up the turn, or the slot if it had just
/// been handed over.
pub(super) struct Waiting {
    slots: Slots,
    woken: Option<oneshot::Receiver<()>>,
}

impl Waiting {
    /// Waits for the slot.
    pub(super) async fn slot(mut self) -> Slot {
        if let Some(woken) = self.woken.as_mut() {
            // The sender lives in the queue until it is sent on: it is never dropped unsent
            // while this waiter is queued, as `give_back` only drops the sender of a waiter
            // that has gone.
            let _ = woken.await;
        }
        self.woken = None;
        Slot {
            slots: self.slots.clone(),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut woken) = self.woken.take() {
            woken.close();
            // Handed a slot between its last poll and now: pass it on.
            if woken.try_recv().is_ok() {
                self.slots.give_back();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_longest_chain_then_plan_order() {
        let slots = Slots::new(1);
        let held = slots.try_take(1, 0).ok().expect("a free slot");
        let short = slots.try_take(1, 1).err().expect("no free slot");
        let long = slots.try_take(5, 3).err().expect("no free slot");
        let tie = slots.try_take(1, 2).err().expect("no free slot");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, waiting) in [("short", short), ("long", long), ("tie", tie)] {
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let slot = waiting.slot().await;
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(name);
                drop(slot);
            }));
        }
        tokio::task::yield_now().await;
        drop(held);
        for task in tasks {
            task.await.expect("the waiter finishes");
        }
        let order = order.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(order, ["long", "short", "tie"]);
        // Every slot came back.
        assert!(slots.try_take(0, 9).is_ok());
    }

    #[tokio::test]
    async fn a_waiter_that_goes_passes_its_slot_on() {
        let slots = Slots::new(1);
        let held = slots.try_take(0, 0).ok().expect("a free slot");
        let gone = slots.try_take(9, 1).err().expect("no free slot");
        let next = slots.try_take(1, 2).err().expect("no free slot");
        // Handed the slot, then dropped before it could take it.
        drop(held);
        drop(gone);
        let slot = next.slot().await;
        assert!(slots.try_take(0, 3).is_err(), "one slot, held by `next`");
        drop(slot);
        assert!(slots.try_take(0, 4).is_ok());
    }
}
