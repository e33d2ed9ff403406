//! How a transfer of the shared cache moves: a ByteStream call is given up after a time
//! without progress, not after a time in all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// When a transfer last moved: a call watched by it times out after a timeout without
/// progress, however long it takes in all, so a large blob that keeps moving is never cut
/// short and a stalled one is noticed at once.
pub(super) struct Progress {
    start: tokio::time::Instant,
    /// When it last moved, in milliseconds after `start`.
    last: AtomicU64,
}

impl Progress {
    /// Progress that starts now.
    pub(super) fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// The transfer moved: the time without progress starts again.
    pub(super) fn moved(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    /// When `idle` without progress runs out.
    fn deadline(&self, idle: Duration) -> tokio::time::Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }

    /// What `fut` ends with, or `None` once `idle` passes without progress.
    pub(super) async fn within<F: std::future::Future>(
        &self,
        idle: Duration,
        fut: F,
    ) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        loop {
            let deadline = self.deadline(idle);
            tokio::select! {
                out = &mut fut => return Some(out),
                () = tokio::time::sleep_until(deadline) => {
                    if self.deadline(idle) <= tokio::time::Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_transfer_times_out_without_progress_not_for_its_length() {
        let idle = Duration::from_secs(2);
        // Moving every second for a minute: it may take as long as it keeps moving.
        let progress = Progress::new();
        let moving = async {
            for _ in 0..60 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                progress.moved();
            }
        };
        let started = tokio::time::Instant::now();
        assert_eq!(progress.within(idle, moving).await, Some(()));
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        // Moving for 5 s, then stalled: given up 2 s after it last moved.
        let progress = Progress::new();
        let stalling = async {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                progress.moved();
            }
            std::future::pending::<()>().await;
        };
        let started = tokio::time::Instant::now();
        assert_eq!(progress.within(idle, stalling).await, None);
        assert_eq!(started.elapsed(), Duration::from_secs(7));
    }
}
