// SPDX-License-Identifier: GPL-2.0

//! gfn_to_pfn: where does a KVM guest's memory physically live?
//!
//! Guest physical addresses written to `/proc/gfn_to_pfn` are translated,
//! through the VM's memslots and the VMM's page tables, into host physical
//! addresses.  Each translation is logged and returned as a reply that is
//! read back from the same open file.  The request grammar and the reply
//! format are shared with the userspace tools (`tools/proto`), so host tests
//! exercise the exact parser that runs here.

use kernel::prelude::*;

// Shared with the userspace tools, where these items are the public API;
// here some of them (the reply parser, say) have no use.
#[allow(unreachable_pub, dead_code)]
#[path = "tools/proto/src/request.rs"]
mod request;

#[allow(unreachable_pub, dead_code)]
#[path = "tools/proto/src/reply.rs"]
mod reply;

#[allow(unreachable_pub, dead_code)]
#[path = "tools/proto/src/record.rs"]
mod record;

#[path = "module/shim.rs"]
mod shim;

#[path = "module/killable.rs"]
mod killable;

#[path = "module/log.rs"]
mod log;

#[path = "module/out.rs"]
mod out;

#[path = "module/facts.rs"]
mod facts;

#[path = "module/single.rs"]
mod single;

#[path = "module/map.rs"]
mod map;

#[path = "module/listing.rs"]
mod listing;

#[path = "module/reverse.rs"]
mod reverse;

#[path = "module/answer.rs"]
mod answer;

#[path = "module/proc_file.rs"]
mod proc_file;

module! {
    type: GfnToPfn,
    name: "gfn_to_pfn",
    author: "gfn_to_pfn developers",
    description: "Translate KVM guest physical addresses to host physical addresses",
    license: "GPL",
}

struct GfnToPfn;

impl kernel::Module for GfnToPfn {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        proc_file::create()?;
        pr_info!(
            "ready: write guest physical addresses to /proc/{}\n",
            proc_file::NAME_STR
        );
        Ok(GfnToPfn)
    }
}

impl Drop for GfnToPfn {
    fn drop(&mut self) {
        // Waits for running callbacks and releases every file still open.
        proc_file::remove();
    }
}
