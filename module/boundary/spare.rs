// SPDX-License-Identifier: GPL-2.0

//! A spare: one boxed value kept for the module between open files, so a
//! file opened after another was closed takes over its room (reply bytes,
//! walk scratch) instead of allocating and zero-filling it again.  Opening
//! a file, asking and closing it is how most tools ask, and on a kernel
//! that zeroes every allocation (`init_on_alloc`, as distributions ship)
//! that first allocation cost more than a whole map of huge pages.
//!
//! One value at most, taken and given back without a lock; a value given
//! back while one is kept is freed.  What is kept is freed when the module
//! goes ([`Spare::free`]).

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

/// At most one `KBox<T>`, kept for whoever wants it next.
///
/// # Invariants
///
/// The pointer is null or came from [`KBox::into_raw`], and nothing else
/// owns what it points to: only [`Spare::take`] turns it back into a box,
/// after swapping it out.
pub(crate) struct Spare<T>(AtomicPtr<T>);

impl<T: Send> Spare<T> {
    /// Nothing kept.
    pub(crate) const fn new() -> Spare<T> {
        Spare(AtomicPtr::new(ptr::null_mut()))
    }

    /// The value kept, if any; nothing is kept after.
    pub(crate) fn take(&self) -> Option<KBox<T>> {
        let p = self.0.swap(ptr::null_mut(), Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer came from `KBox::into_raw` and was
        // swapped out, so this call alone owns it (type invariant).
        Some(unsafe { KBox::from_raw(p) })
    }

    /// Keeps `value` for the next [`Spare::take`], or frees it when a value
    /// is kept already.
    pub(crate) fn give(&self, value: KBox<T>) {
        let p = KBox::into_raw(value);
        if self
            .0
            .compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: `p` came from `KBox::into_raw` just above and was not
            // stored: this call still owns it.
            drop(unsafe { KBox::from_raw(p) });
        }
    }

    /// Keeps the value in `slot`, if any, as [`Spare::give`] does: what a
    /// holder's `Drop` calls.
    pub(crate) fn give_back(&self, slot: &mut Option<KBox<T>>) {
        if let Some(value) = slot.take() {
            self.give(value);
        }
    }

    /// Frees what is kept: when the module goes.
    pub(crate) fn free(&self) {
        drop(self.take());
    }
}
