// SPDX-License-Identifier: GPL-2.0
//! Progress of a long map on stderr: pages walked and the rate, rewritten
//! in place (cut to the terminal's width, so it never wraps), once a map
//! has taken longer than a second, and only when stderr is a terminal (a
//! pipe or a file gets nothing, so scripts and logs see only the answer).
//! The last figures stay, on a line of their own, when the map ends, also
//! by an error.

use gfn_client::units::size;
use gfn_client::Reply;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is rewritten.
const EVERY: Duration = Duration::from_millis(200);

/// The progress line of one map.
pub struct Progress {
    /// Whether to show anything at all (stderr is a terminal).
    on: bool,
    /// Quiet until the map has taken this long: `GFN_PROGRESS_AFTER_MS`,
    /// 1000 by default (the tests set 0).
    after: Duration,
    start: Instant,
    /// When the line was last written; `None` before the first time.
    shown: Option<Instant>,
    pages: u64,
    what: String,
}

impl Progress {
    /// A map of `what` ("pid 4242") starting now; `shown`: whether it may
    /// show (not while the map itself is printed to the same terminal,
    /// whose lines it would break).
    pub fn new(what: &str, shown: bool) -> Progress {
        let after = std::env::var("GFN_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis);
        Progress {
            on: shown && std::io::stderr().is_terminal(),
            after,
            start: Instant::now(),
            shown: None,
            pages: 0,
            what: what.to_string(),
        }
    }

    /// Counts a reply's pages; rewrites the line when it is time to.
    pub fn add(&mut self, reply: &Reply) {
        self.pages += match reply {
            Reply::Ok(t) => t.pages,
            Reply::AddrErr { pages, .. } => *pages,
            _ => 0,
        };
        if !self.on {
            return;
        }
        let now = Instant::now();
        let due = match self.shown {
            None => now - self.start >= self.after,
            Some(at) => now - at >= EVERY,
        };
        if due {
            self.shown = Some(now);
            self.line(now);
        }
    }

    fn line(&self, now: Instant) {
        let secs = (now - self.start).as_secs_f64();
        let rate = if secs > 0.0 {
            (self.pages as f64 / secs) as u64
        } else {
            0
        };
        let mut text = format!(
            "mapping {}: {} pages walked, {}, {secs:.1} s, {rate} pages/s",
            self.what,
            self.pages,
            size(self.pages * 4096)
        );
        text.truncate(width().saturating_sub(1));
        // \r and erase-line: the line is rewritten where it stands.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{text}");
        let _ = err.flush();
    }

    /// The map has ended: the last figures stay on their own line (once).
    pub fn done(&mut self) {
        if self.shown.take().is_some() {
            self.line(Instant::now());
            eprintln!();
        }
    }
}

impl Drop for Progress {
    /// A map that ends by an error ends its line too, before the error.
    fn drop(&mut self) {
        self.done();
    }
}

/// Columns of the terminal on stderr (80 when it does not say).
fn width() -> usize {
    // SAFETY: an all-zero winsize is a valid value for the ioctl to fill.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into `ws`; a descriptor that
    // is not a terminal only makes it fail.
    let rc = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}
