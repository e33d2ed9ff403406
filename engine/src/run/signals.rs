//! How a run answers Ctrl-C, SIGTERM and SIGHUP.

use tokio_util::sync::CancellationToken;

use crate::report::say;
use crate::report::{Event, EventSink};
use crate::run::options::EXIT_INTERRUPTED;
use crate::step::{Abandon, restore_terminal};

/// The signals that end a run or a shell: Ctrl-C, SIGTERM and SIGHUP.
pub(super) struct Stops {
    #[cfg(unix)]
    each: [tokio::signal::unix::Signal; 3],
}

impl Stops {
    /// Listens for them from now on; `None` when they cannot be watched.
    pub(super) fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let each = [
                signal(SignalKind::interrupt()).ok()?,
                signal(SignalKind::terminate()).ok()?,
                signal(SignalKind::hangup()).ok()?,
            ];
            Some(Self { each })
        }
        #[cfg(not(unix))]
        {
            Some(Self {})
        }
    }

    /// Waits for the next one; `false` when none can come any more.
    pub(super) async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.each;
            tokio::select! {
                got = int.recv() => got.is_some(),
                got = term.recv() => got.is_some(),
                got = hup.recv() => got.is_some(),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

/// `work`, or `None` when Ctrl-C, SIGTERM or SIGHUP comes first (`stops` is `None` when they
/// cannot be watched: `work` then runs to its end). For what a run does before its steps
/// start (hashing its inputs, connecting, resolving images): a daemon or a server that does
/// not answer cannot hold the run past the signal.
pub(super) async fn until_stopped<T>(
    stops: &mut Option<Stops>,
    work: impl Future<Output = T>,
) -> Option<T> {
    match stops {
        Some(stops) => tokio::select! {
            done = work => Some(done),
            true = stops.next() => None,
        },
        None => Some(work.await),
    }
}

/// What a run stopped by a signal before its steps started says, and its exit code: nothing
/// of it was left.
pub(super) fn stopped_early() -> u8 {
    say!("tanto: interrupted before any step started; nothing ran");
    EXIT_INTERRUPTED
}

/// Cancels the run on its first Ctrl-C, SIGTERM or SIGHUP (watched by `stops`, listening
/// since the run began): steps stop, a `-i` shell that is
/// open closes (`interrupted`), their containers are removed, and the run exits 130 within the
/// bounded waits of its cleanup. A second signal restores the terminal and exits 130 at once,
/// undoing only what needs no daemon ([`Abandon`]); the containers end with this process
/// (their keep-alive) and the next run removes the rest.
pub(super) fn watch_signals(
    stops: Option<Stops>,
    cancel: CancellationToken,
    interrupted: CancellationToken,
    abandon: Abandon,
    events: EventSink,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut stops) = first(stops).await else {
            return;
        };
        // Through the views, so the live tree prints it between two frames.
        events.send(Event::RunNote {
            message:
                "interrupted; stopping steps and removing their containers (again to exit at once)"
                    .into(),
        });
        interrupted.cancel();
        cancel.cancel();
        if !stops.next().await {
            return;
        }
        say!(
            "\ntanto: interrupted again; exiting now: the steps' containers end with tanto; services and the run's network stay up until the next run removes them"
        );
        restore_terminal();
        abandon.now();
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    })
}

/// Cancels `interrupted` on the first Ctrl-C, SIGTERM or SIGHUP while `--out` writes the
/// outputs, which is after the run's own watcher (which speaks through the views) has stopped;
/// a second exits 130 at once. Either way each file `--out` wrote is whole or as it was, since
/// each is renamed into place.
pub(super) fn watch_export(
    stops: Option<Stops>,
    interrupted: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut stops) = first(stops).await else {
            return;
        };
        interrupted.cancel();
        if stops.next().await {
            say!(
                "\ntanto: interrupted again; exiting now: each file --out wrote is whole or as it was"
            );
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
}

/// Waits for the first signal `stops` watches, and returns them for the next; `None` when
/// none can come (they are not watched, or cannot be any more).
async fn first(stops: Option<Stops>) -> Option<Stops> {
    let mut stops = stops?;
    stops.next().await.then_some(stops)
}
