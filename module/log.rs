// SPDX-License-Identifier: GPL-2.0

//! What goes to the kernel log, and how much of it.
//!
//! Single addresses are logged in the seed's words and a range or `all`
//! gets one summary line, as the `log` module parameter allows (`all`,
//! `summary`, `none`).  Lines are rate-limited for the whole module: at
//! most `BURST` in each `INTERVAL_NS`, so one write of thousands of
//! addresses cannot flood a serial console; the first line let through
//! after lines were held back is preceded by one saying how many.  Writing
//! the parameter starts a new interval (so a test, or an administrator
//! who just turned logging on, sees the next lines).

use crate::boundary::compat::now_ns;
use crate::boundary::params::gfn_log_param;
use crate::log_level::Level;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// The level set now, and how many times the parameter was written.
fn level_now() -> (Level, u32) {
    let (index, writes) = gfn_log_param.get();
    (Level::at(index), writes)
}

/// Log lines allowed per interval.
const BURST: u64 = 40;
/// The rate-limit interval: 5 s, as printk_ratelimit's.
const INTERVAL_NS: i64 = 5_000_000_000;

/// What a log line is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// A single address (or a token or line that failed).
    Address,
    /// The summary of a range or `all`.
    Summary,
}

/// Start of the current interval (ktime ns).
static WINDOW: AtomicI64 = AtomicI64::new(i64::MIN);
/// Lines let through in the current interval.
static USED: AtomicU64 = AtomicU64::new(0);
/// Lines held back since the last one let through.
static HELD: AtomicU64 = AtomicU64::new(0);
/// Writes to the parameter seen so far.
static WRITES: AtomicU32 = AtomicU32::new(0);

/// Whether a line about `what` may be logged now.  Call once per line.
/// Concurrent callers may let a line or two more through; none is lost
/// from the count of held-back lines.
pub(crate) fn allow(what: What) -> bool {
    let (level, writes) = level_now();
    let allowed = match level {
        Level::All => true,
        Level::Summary => what == What::Summary,
        Level::None => false,
    };
    if !allowed {
        return false;
    }
    let now = now_ns();
    let start = WINDOW.load(Ordering::Relaxed);
    let rewritten = WRITES.swap(writes, Ordering::Relaxed) != writes;
    if (rewritten || now.saturating_sub(start) >= INTERVAL_NS)
        && WINDOW
            .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        USED.store(0, Ordering::Relaxed);
    }
    if USED.fetch_add(1, Ordering::Relaxed) >= BURST {
        HELD.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let held = HELD.swap(0, Ordering::Relaxed);
    if held > 0 {
        pr_info!("{} log lines suppressed (rate limit)\n", held);
    }
    true
}

/// `log_line!(Address|Summary, fmt, args...)`: `pr_info!` when [`allow`]
/// lets the line through.
macro_rules! log_line {
    ($what:ident, $($arg:tt)*) => {
        if $crate::log::allow($crate::log::What::$what) {
            pr_info!($($arg)*);
        }
    };
}
pub(crate) use log_line;
