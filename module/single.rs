// SPDX-License-Identifier: GPL-2.0

//! A single guest physical address: translated at once, and logged in the
//! seed's words.

use crate::answer::{hold, line_vm, LineState};
use crate::boundary::memory::WalkEntry;
use crate::boundary::vm::Vm;
use crate::facts::{page_reply, PAGE_SIZE};
use crate::log::log_line;
use crate::reply::{Kind, Reply};
use crate::request::{Reason, PAGE_SHIFT};
use crate::runs::BLANK;
use crate::walk::{self, WalkError, Walked};
use kernel::prelude::*;

/// Translates one address and logs the outcome in the seed's words.
pub(crate) fn single(gpa: u64, st: &mut LineState, held: &mut Option<Vm>) -> Result<Reply> {
    let opts = match st.opts {
        Ok(opts) => opts,
        Err(reason) => {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, reason.as_str());
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: None,
                pages: 1,
            });
        }
    };
    let found = line_vm(&mut st.vm, opts.pid)?
        .and_then(|id| Ok((id.vmm_pid, hold(held, id).ok_or(Reason::NoVm)?)));
    let (vmm_pid, vm) = match found {
        Ok(found) => found,
        Err(reason) => {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, reason.as_str());
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: opts.pid,
                pages: 1,
            });
        }
    };
    let pid = opts.pid.unwrap_or(vmm_pid);
    let offset = gpa & (PAGE_SIZE - 1);
    let mut refs = [0usize; 1];
    let mut out = [WalkEntry::default(); 1];
    let walked = walk::walk_in(
        vm,
        opts.as_id,
        gpa >> PAGE_SHIFT,
        1,
        opts.fault,
        &mut refs,
        &mut out,
        &mut [],
    );
    let reply = match walked {
        Ok(Walked {
            slot,
            entries: [entry],
            ..
        }) => {
            let mut reply = BLANK;
            page_reply(
                &mut reply,
                &entry.facts(),
                &slot,
                gpa >> PAGE_SHIFT,
                offset,
                pid,
                opts.fault,
            );
            reply
        }
        Ok(_) => Reply::AddrErr {
            reason: Reason::NoPage,
            gpa,
            pid: Some(pid),
            pages: 1,
        },
        Err(WalkError::Failed(e)) if e == EINTR => return Err(e),
        Err(e) => {
            let reason = match e {
                WalkError::NoSlot { .. } => Reason::NoMemslot,
                WalkError::MmGone => Reason::NoMm,
                WalkError::Failed(e) => {
                    log_line!(
                        Address,
                        "gpa {:#x} (pid {}): error {}\n",
                        gpa,
                        pid,
                        e.to_errno()
                    );
                    Reason::NoPage
                }
            };
            log_line!(
                Address,
                "gpa {:#x} (pid {}): {}\n",
                gpa,
                pid,
                reason.as_str()
            );
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: Some(pid),
                pages: 1,
            });
        }
    };
    log_outcome(gpa, pid, &reply);
    Ok(reply)
}

/// Logs a single address's reply as the seed did.
fn log_outcome(gpa: u64, pid: u32, reply: &Reply) {
    match reply {
        Reply::Ok(t) => {
            log_line!(
                Address,
                "exact phys addr for gpa {:#x}: {:#x}\n",
                gpa,
                t.phys
            );
            match t.kind {
                Kind::Base => log_line!(Address, "page is not huge page\n"),
                Kind::Thp => log_line!(Address, "page is THP, size {} KiB\n", t.size >> 10),
                Kind::Hugetlb => {
                    log_line!(Address, "page is hugetlb page, size {} KiB\n", t.size >> 10)
                }
                Kind::Pfnmap => log_line!(Address, "page is PFNMAP memory (no struct page)\n"),
                Kind::Gmem => log_line!(Address, "page is private guest_memfd memory\n"),
                Kind::Dax => log_line!(Address, "page is DAX device memory\n"),
            }
        }
        Reply::AddrErr { reason, .. } => {
            log_line!(
                Address,
                "gpa {:#x} (pid {}): {}\n",
                gpa,
                pid,
                reason.as_str()
            )
        }
        _ => {}
    }
}
