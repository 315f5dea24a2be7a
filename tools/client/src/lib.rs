// SPDX-License-Identifier: GPL-2.0
//! gfn-client: what the gfn_to_pfn tools share.  Talking to
//! `/proc/gfn_to_pfn` ([`query`]), the JSON form of a reply ([`json`]),
//! reading `/proc/<pid>/pagemap` ([`pagemap`]) and host physical memory
//! ([`phys`]: /dev/mem or /proc/kcore).  The protocol itself is
//! `gfn-proto`, the same source the kernel module compiles.
//!
//! Replies reach callers one at a time, a frame list's pages one reply
//! each; a run's host frames may go down as well as up
//! ([`Translation::step`]), so page `i` of a run is
//! [`Translation::page`]`(i)` (or its frame [`Translation::phys_of`]`(i)`),
//! never `phys + i * 4096`.

pub mod elf;
pub mod explain;
pub mod json;
pub mod metrics;
pub mod names;
pub mod pagemap;
pub mod phys;
pub mod query;
pub mod stats;
pub mod svg;
pub mod units;
pub mod watch;

pub use gfn_proto::reply::{Kind, KvmMaps, Reply, Step, Translation};
pub use gfn_proto::request::{self, Reason, MAX_WRITE};
pub use query::{
    binary_request, query, query_bin_each, query_each, requests, ClientError, PROC_PATH,
};
