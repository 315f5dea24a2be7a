// SPDX-License-Identifier: GPL-2.0

//! A mutex whose wait a fatal signal ends (`mutex_lock_killable`), for the
//! state of an open file: a reader killed while another task of its file
//! faults pages in must not wait for it.  The kernel crate's `Mutex` has no
//! killable lock on 6.12, and the C calls are macros under lockdep, so the
//! shim makes them (`shim/mutex.c`).

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

use super::ffi;

/// Data of type `T`, reached by one task at a time.
///
/// # Invariants
///
/// `lock` is an initialised `struct mutex`, and `data` is reached only by
/// the task that holds it, through a [`Guard`].
#[pin_data]
pub(crate) struct KillableMutex<T> {
    #[pin]
    lock: Opaque<bindings::mutex>,
    data: UnsafeCell<T>,
}

// SAFETY: the data moves with the mutex, so `T: Send` is all moving needs.
unsafe impl<T: Send> Send for KillableMutex<T> {}
// SAFETY: the lock hands the data to one task at a time, so sharing the
// mutex shares `T` only in the way `Send` allows, as `kernel::sync::Mutex`.
unsafe impl<T: Send> Sync for KillableMutex<T> {}

impl<T> KillableMutex<T> {
    /// A mutex holding `data`, initialised in place (a `struct mutex`
    /// must not move).
    pub(crate) fn new(data: T) -> impl PinInit<Self> {
        pin_init!(Self {
            lock <- Opaque::ffi_init(|slot: *mut bindings::mutex| {
                // SAFETY: `slot` is the pinned, uninitialised `struct mutex`
                // that `mutex_init` initialises.
                unsafe { ffi::gfn_mutex_init(slot) }
            }),
            data: UnsafeCell::new(data),
        })
    }

    /// Waits for the data; `EINTR` when a fatal signal ends the wait.
    pub(crate) fn lock(&self) -> Result<Guard<'_, T>> {
        // SAFETY: `self.lock` is initialised (type invariant) and pinned.
        let ret = unsafe { ffi::gfn_mutex_lock_killable(self.lock.get()) };
        if ret != 0 {
            return Err(EINTR);
        }
        // INVARIANT: this task holds the lock until the guard drops.
        Ok(Guard {
            mutex: self,
            _not_send: PhantomData,
        })
    }
}

/// The data, while this task holds the lock.
///
/// # Invariants
///
/// This task holds `mutex`'s lock, until `drop`.
pub(crate) struct Guard<'a, T> {
    mutex: &'a KillableMutex<T>,
    /// A mutex is released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the lock is held (type invariant), so no other task
        // reaches the data.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held (type invariant), and the guard is
        // borrowed exclusively.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this task holds the lock (type invariant).
        unsafe { ffi::gfn_mutex_unlock(self.mutex.lock.get()) }
    }
}
