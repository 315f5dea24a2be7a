// SPDX-License-Identifier: GPL-2.0

//! A single guest physical address: translated at once, and logged in the
//! seed's words.

use crate::answer::{hold, line_vm, LineState};
use crate::facts::{page_reply, BLANK, PAGE_SIZE};
use crate::log::log_line;
use crate::reply::{Kind, Reply};
use crate::request::{Reason, PAGE_SHIFT};
use crate::shim::{self, ShimPage, Vm};
use kernel::error::code::ESRCH;
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
    let mut pages = [0usize; 1];
    let mut out = [ShimPage::default(); 1];
    let reply = match vm.walk(
        opts.as_id,
        gpa >> PAGE_SHIFT,
        1,
        !opts.fault,
        &mut pages,
        &mut out,
    ) {
        Ok((slot, [page])) => {
            let mut reply = BLANK;
            page_reply(
                &mut reply,
                page,
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
        Err(e) if e == EINTR => return Err(e),
        Err(e) => {
            let reason = if shim::is_no_slot(e) {
                Reason::NoMemslot
            } else if e == ESRCH {
                Reason::NoMm
            } else {
                Reason::NoPage
            };
            log_line!(
                Address,
                "gpa {:#x} (pid {}): {} (error {})\n",
                gpa,
                pid,
                reason.as_str(),
                e.to_errno()
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
