//! The scheduler's started nodes, each polled once as it starts: a node whose lookup takes no
//! time (a cache hit, or a step that asks for a `-j` slot at once) gets that far before the
//! loop goes on.

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
    /// Polls `node` once at once, so that a node whose lookup takes no time asks for its slot
    /// before the loop gives back the slot of the node whose end made it ready.
    pub(super) async fn push(&mut self, mut node: BoxFuture<'static, T>) {
        // Polled with the loop's own context; once in `going`, it is polled again with the
        // set's, which registers the wake-up that counts.
        match std::future::poll_fn(|cx| Poll::Ready(node.as_mut().poll(cx))).await {
            Poll::Ready(done) => self.ended.push_back(done),
            Poll::Pending => self.going.push(node),
        }
    }

    /// The next node to end.
    pub(super) async fn next(&mut self) -> Option<T> {
        match self.ended.pop_front() {
            Some(done) => Some(done),
            None => self.going.next().await,
        }
    }
}
