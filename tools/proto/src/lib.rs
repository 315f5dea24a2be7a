// SPDX-License-Identifier: GPL-2.0

//! gfn-proto: the `/proc/gfn_to_pfn` protocol, shared by the kernel module
//! and the userspace tools.
//!
//! `request.rs`, `reply.rs` and `record.rs` are compiled into the module as they are
//! (`#[path]` modules of its crate root), so they use only `core`, never
//! allocate and never panic on input.

#![no_std]

#[cfg(test)]
extern crate std;

pub mod record;
pub mod reply;
pub mod request;

#[cfg(test)]
mod tests;
