// SPDX-License-Identifier: GPL-2.0

//! What goes to the kernel log, and how much of it.
//!
//! Single addresses are logged in the seed's words and a range or `all`
//! gets one summary line, as the `log` module parameter allows (`all`,
//! `summary`, `none`).  Lines are rate-limited for the whole module: at
//! most `BURST` in each `INTERVAL_MS`, so one write of thousands of
//! addresses cannot flood a serial console; an address's two lines are let
//! through or held back together, and the first line let through after
//! lines were held back is preceded by one saying how many.  Writing the
//! parameter starts a new interval (so a test, or an administrator who
//! just turned logging on, sees the next lines).  The interval is counted
//! in ticks, as `printk_ratelimit()` counts it: this runs for every
//! address asked, logged or not.

use crate::boundary::clock::{jiffies, ms_to_jiffies};
use crate::boundary::params::gfn_log_param;
use crate::log_level::Level;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;

/// The level set now, and how many times the parameter was written.
fn level_now() -> (Level, u32) {
    let (index, writes) = gfn_log_param.get();
    (Level::at(index), writes)
}

/// Log lines allowed per interval.
const BURST: u64 = 40;
/// The rate-limit interval: 5 s, as printk_ratelimit's.
const INTERVAL_MS: u32 = 5000;

/// What a log line is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// A single address (or a token or line that failed).
    Address,
    /// The summary of a range or `all`.
    Summary,
}

/// Start of the current interval (jiffies); none yet while `WRITES` is
/// `u32::MAX` (which the parameter's count of writes does not reach).
static WINDOW: AtomicUsize = AtomicUsize::new(0);
/// Lines let through in the current interval.
static USED: AtomicU64 = AtomicU64::new(0);
/// Lines held back since the last one let through.
static HELD: AtomicU64 = AtomicU64::new(0);
/// Writes to the parameter seen by the last line considered; `u32::MAX`
/// before the first.
static WRITES: AtomicU32 = AtomicU32::new(u32::MAX);

/// Whether `lines` lines about `what` may be logged now: all of them, or
/// none (counted as held back).  Call once per group of lines.
/// Concurrent callers may let a line or two more through; none is lost
/// from the count of held-back lines.
pub(crate) fn allow(what: What, lines: u64) -> bool {
    let (level, writes) = level_now();
    let allowed = match level {
        Level::All => true,
        Level::Summary => what == What::Summary,
        Level::None => false,
    };
    if !allowed {
        return false;
    }
    let now = jiffies();
    let start = WINDOW.load(Ordering::Relaxed);
    // A new interval when the parameter was written since (or this is the
    // first line), or the interval is over.
    let rewritten = WRITES.load(Ordering::Relaxed) != writes
        && WRITES.swap(writes, Ordering::Relaxed) != writes;
    if (rewritten || now.wrapping_sub(start) >= ms_to_jiffies(INTERVAL_MS))
        && WINDOW
            .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        USED.store(0, Ordering::Relaxed);
    }
    if USED.fetch_add(lines, Ordering::Relaxed) + lines > BURST {
        HELD.fetch_add(lines, Ordering::Relaxed);
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
        if $crate::log::allow($crate::log::What::$what, 1) {
            pr_info!($($arg)*);
        }
    };
}
pub(crate) use log_line;
