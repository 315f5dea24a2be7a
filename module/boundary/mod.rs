// SPDX-License-Identifier: GPL-2.0

//! The boundary: the only code of the module with `unsafe`, `bindings::` or
//! `extern "C"`, and where the differences between kernel series live.
//!
//! Each file wraps one kind of kernel object in a typed handle that states
//! its invariants, so the rest of the module is safe Rust: the proc file as
//! a `#[vtable]` trait (`proc_file`), module parameters (`params`), KVM's
//! VMs and memslots (`vm`), the VMM's memory and its page walks (`memory`),
//! a mutex whose wait can be killed (`sync`), the room a closed file
//! leaves for the next one (`spare`), the caller's credentials (`cred`),
//! the tick count (`clock`), and the kernel internals found at load time
//! where the kernel does not export them (`symbols`).  What differs
//! between the kernel series is in `compat`.  What crosses from C is plain
//! facts (`ffi`, mirroring `shim/shim.h` with its layouts asserted); what
//! to do with them is decided above this layer.

pub(crate) mod clock;
pub(crate) mod compat;
pub(crate) mod cred;
mod ffi;
pub(crate) mod memory;
pub(crate) mod params;
pub(crate) mod proc_file;
pub(crate) mod spare;
pub(crate) mod symbols;
pub(crate) mod sync;
pub(crate) mod vm;

/// What every allocation a request makes asks for: a failure is that
/// call's `ENOMEM`, which the caller may try again (nothing is lost), not a
/// warning with a stack trace in the kernel log.
pub(crate) fn gfp_request() -> kernel::alloc::Flags {
    kernel::alloc::flags::GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN
}
