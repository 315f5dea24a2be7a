// SPDX-License-Identifier: GPL-2.0

//! The kernel's tick count (`jiffies`), for the log's rate limit: a load
//! of one word, where reading the monotonic clock (`ktime_get()`) costs a
//! clock-source read on every line the module considers logging.

/// Ticks since boot (plus the kernel's initial offset); wraps, so compare
/// with `wrapping_sub`.
pub(crate) fn jiffies() -> usize {
    // SAFETY: `jiffies` is a word the timer tick updates; a volatile read
    // of it is how C reads it (it is declared `volatile`).
    unsafe { core::ptr::read_volatile(&raw const kernel::bindings::jiffies) }
}

/// Ticks in `ms` milliseconds, rounded up.
pub(crate) fn ms_to_jiffies(ms: u32) -> usize {
    // SAFETY: `__msecs_to_jiffies` only computes.
    unsafe { kernel::bindings::__msecs_to_jiffies(ms) }
}
