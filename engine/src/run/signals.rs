//! How a run answers Ctrl-C, SIGTERM and SIGHUP.

use tokio_util::sync::CancellationToken;

use crate::report::say;
use crate::report::{Event, EventSink};
use crate::run::options::EXIT_INTERRUPTED;
use crate::step::Abandon;

/// Cancels the run on its first Ctrl-C, SIGTERM or SIGHUP: steps stop, their containers are
/// removed, and the run exits 130 within the bounded waits of its cleanup. A second signal
/// exits 130 at once, undoing only what needs no daemon ([`Abandon`]); the containers end
/// with this process (their keep-alive) and the next run removes the rest.
pub(super) fn watch_signals(
    cancel: CancellationToken,
    abandon: Abandon,
    events: EventSink,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            for first in [true, false] {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                if first {
                    // Through the views, so the live tree prints it between two frames.
                    events.send(Event::RunNote {
                        message: "interrupted; stopping steps and removing their containers (again to exit at once)".into(),
                    });
                    cancel.cancel();
                }
            }
        }
        #[cfg(not(unix))]
        {
            for first in [true, false] {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if first {
                    cancel.cancel();
                }
            }
        }
        say!(
            "\ntanto: interrupted again; exiting now: the containers end with tanto, and the next run removes what is left"
        );
        abandon.now();
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    })
}
