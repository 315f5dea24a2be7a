// SPDX-License-Identifier: GPL-2.0

//! gfn-proto: the `/proc/gfn_to_pfn` protocol, shared by the kernel module
//! and the userspace tools.
//!
//! Every file here is compiled into the module as it is (`#[path]` modules
//! of its crate root), so they use only `core`, never allocate and never
//! panic on input: the grammar (`request.rs`), the reply formats
//! (`reply.rs`, written by `reply_encode.rs` and read by `reply_parse.rs`;
//! `record.rs`, `list.rs`), and what decides a reply's content from the
//! facts a page walk gives (`facts.rs`), how pages merge into runs
//! (`runs.rs`) and how a reply is produced and read a chunk at a time
//! (`window.rs`); and, for loading on a kernel without the patches'
//! exports, how `/proc/kallsyms` is read and a refused load explained
//! (`kallsyms.rs`).

#![no_std]

#[cfg(test)]
extern crate std;

pub mod facts;
pub mod kallsyms;
pub mod list;
pub mod record;
pub mod reply;
pub mod reply_encode;
pub mod reply_parse;
pub mod request;
pub mod runs;
pub mod window;

#[cfg(test)]
mod tests;
