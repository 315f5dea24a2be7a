//! Progress of a long map on stderr: pages walked and the rate, rewritten
//! in place, once a map has taken longer than a second, and only when
//! stderr is a terminal (a pipe or a file gets nothing, so scripts and
//! logs see only the answer).

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
    /// A map of `what` ("pid 4242") starting now.
    pub fn new(what: &str) -> Progress {
        let after = std::env::var("GFN_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis);
        Progress {
            on: std::io::stderr().is_terminal(),
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
        let gib = (self.pages * 4096) as f64 / f64::from(1u32 << 30);
        // \r and erase-line: the line is rewritten where it stands.
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[Kmapping {}: {} pages ({gib:.2} GiB) walked in {secs:.1} s, {rate} pages/s",
            self.what, self.pages
        );
        let _ = err.flush();
    }

    /// The map has ended: the last figures stay on their own line.
    pub fn done(&self) {
        if self.shown.is_some() {
            self.line(Instant::now());
            eprintln!();
        }
    }
}
