// SPDX-License-Identifier: GPL-2.0

//! gfn_to_pfn: where does a KVM guest's memory physically live?
//!
//! Guest physical addresses written to `/proc/gfn_to_pfn` are translated,
//! through the VM's memslots and the VMM's page tables, into host physical
//! addresses, and returned as a reply read back from the same open file
//! (single addresses also in the kernel log).
//!
//! Three layers: C for what Rust cannot reach (`shim/`, mechanism only);
//! one boundary (`boundary/`), the only code with `unsafe`, `bindings::` or
//! `extern "C"`, whose typed handles state their invariants; and safe logic
//! (the rest of this folder).  What decides a reply's content is shared with
//! the userspace tools (`tools/proto`), so host tests exercise the code that
//! runs here.

use kernel::prelude::*;

// Shared with the userspace tools, where these items are the public API;
// here some of them (the reply parser, say) have no use.
#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/request.rs"]
mod request;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/reply.rs"]
mod reply;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/reply_encode.rs"]
mod reply_encode;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/reply_parse.rs"]
mod reply_parse;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/record.rs"]
mod record;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/kallsyms.rs"]
mod kallsyms;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/list.rs"]
mod list;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/facts.rs"]
mod facts;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/runs.rs"]
mod runs;

#[allow(unreachable_pub, dead_code)]
#[path = "../tools/proto/src/window.rs"]
mod window;

mod answer;
mod boundary;
mod fault;
mod file;
mod job;
mod listing;
mod log;
mod log_level;
mod map;
mod out;
mod reverse;
mod single;
mod symbols;
mod text;
mod vms;
mod walk;

module! {
    type: GfnToPfn,
    name: "gfn_to_pfn",
    description: "Translate KVM guest physical addresses to host physical addresses",
    license: "GPL",
}

/// The module: its proc file, removed when the module goes.
struct GfnToPfn {
    file: Option<boundary::proc_file::Registration<file::OpenFile>>,
}

impl kernel::Module for GfnToPfn {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // First, so that a kernel that cannot give the module what it
        // needs refuses the load before anything is registered.
        symbols::resolve()?;
        let file = boundary::proc_file::Registration::new(file::NAME, file::MODE)?;
        pr_info!(
            "ready: write guest physical addresses to /proc/{}\n",
            file::NAME_STR
        );
        Ok(GfnToPfn { file: Some(file) })
    }
}

impl Drop for GfnToPfn {
    /// Removes the proc file (which closes the files still open: each
    /// leaves its room as the spare), then frees the room the last closed
    /// file left.
    fn drop(&mut self) {
        drop(self.file.take());
        out::Bytes::free_spare();
        walk::Room::free_spare();
        text::Text::free_spare();
    }
}
