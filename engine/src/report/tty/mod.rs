//! The terminal view: the whole run as a live tree of its steps (waiting, running with their
//! last lines, cached, done, failed), under a header with counts and the time so far.
//!
//! The picture is drawn by [`tree::Board`], a pure function of the events, and redrawn in
//! place ten times a second by [`screen::Screen`] with `console`'s cursor commands; the frame
//! never outgrows the terminal (the board folds what does not fit).

mod screen;
mod tree;

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use console::Term;

use crate::graph::Plan;
use crate::report::{Event, Stamped, View, shown};
use screen::Screen;

pub(crate) use tree::Board;

/// The narrowest terminal the tree is drawn on; a narrower one gets the plain view.
pub(crate) const MIN_WIDTH: usize = 40;

/// Draws the run on a terminal.
pub struct TtyView {
    board: Arc<Mutex<Board>>,
    screen: Arc<Mutex<Screen>>,
    ticker: Option<(JoinHandle<()>, Arc<Mutex<bool>>)>,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Draws `board` as it is now, sized to the terminal on standard error.
fn draw(board: &Mutex<Board>, screen: &Mutex<Screen>) {
    let (rows, cols) = Term::stderr().size();
    let frame = board.lock().unwrap_or_else(PoisonError::into_inner).render(
        now_us(),
        usize::from(cols),
        usize::from(rows),
    );
    screen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .draw(frame);
}

impl TtyView {
    /// A view of `plan`'s run drawing on standard error.
    pub fn new(plan: &Plan) -> Self {
        let board = Arc::new(Mutex::new(Board::new(plan, true)));
        let screen = Arc::new(Mutex::new(Screen::stderr()));
        // Running steps' times and spinners move between events too.
        let stop = Arc::new(Mutex::new(false));
        let ticker = {
            let (board, screen, stopped) =
                (Arc::clone(&board), Arc::clone(&screen), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("tanto-tty".into())
                .spawn(move || {
                    while !*stopped.lock().unwrap_or_else(PoisonError::into_inner) {
                        draw(&board, &screen);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
                .ok()
                .map(|handle| (handle, stop))
        };
        Self {
            board,
            screen,
            ticker,
        }
    }
}

impl View for TtyView {
    fn event(&mut self, stamped: &Stamped) {
        if let Event::RunNote { message } = &stamped.event {
            // Above the tree, between two of its frames.
            self.screen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .println(&format!("tanto: {}", shown(message)));
            return;
        }
        self.board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(stamped.ts_us, &stamped.event);
    }

    fn finish(&mut self) {
        if let Some((handle, stop)) = self.ticker.take() {
            *stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
            let _ = handle.join();
        }
        // The last picture stays on screen, above the summary.
        draw(&self.board, &self.screen);
        self.screen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish();
    }
}
