//! The scheduler's started nodes: a lookup or a job that ends at once is kept in a queue of
//! its own, so it costs no place in the set of futures the loop polls together.

use std::collections::VecDeque;
use std::task::Poll;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};

/// The started nodes: those still going, polled together, and those that ended when first
/// polled.
pub(super) struct Started<T> {
    going: FuturesUnordered<BoxFuture<'static, T>>,
    ended: VecDeque<T>,
}

impl<T> Default for Started<T> {
    fn default() -> Self {
        Self {
            going: FuturesUnordered::new(),
            ended: VecDeque::new(),
        }
    }
}

impl<T> Started<T> {
    /// Polls `node` once at once, and keeps it with those that ended if it did (a job that
    /// returns at once), else with those still going.
    pub(super) async fn push(&mut self, mut node: BoxFuture<'static, T>) {
        // Polled with the loop's own context; once in `going`, it is polled again with the
        // set's, which registers the wake-up that counts.
        match std::future::poll_fn(|cx| Poll::Ready(node.as_mut().poll(cx))).await {
            Poll::Ready(done) => self.ended.push_back(done),
            Poll::Pending => self.going.push(node),
        }
    }

    /// Adds a node that has ended.
    pub(super) fn ended(&mut self, done: T) {
        self.ended.push_back(done);
    }

    /// Adds a node that waits, to be polled with the others.
    pub(super) fn going(&mut self, node: BoxFuture<'static, T>) {
        self.going.push(node);
    }

    /// Whether no node that ended when first polled waits to be taken.
    pub(super) fn none_ended(&self) -> bool {
        self.ended.is_empty()
    }

    /// The next node to end.
    pub(super) async fn next(&mut self) -> Option<T> {
        match self.ended.pop_front() {
            Some(done) => Some(done),
            None => self.going.next().await,
        }
    }
}
