// SPDX-License-Identifier: GPL-2.0

//! A single guest physical address: translated at once, and logged in the
//! seed's words.

use crate::boundary::memory::WalkEntry;
use crate::facts::{page_reply, PAGE_SIZE};
use crate::job::Cx;
use crate::log::{self, log_line, What};
use crate::reply::{Kind, Reply};
use crate::request::{Reason, PAGE_SHIFT};
use crate::runs::BLANK;
use crate::walk::{self, Found, Walked};
use kernel::prelude::*;

/// A single address: a job of one step.
pub(crate) struct Single {
    gpa: u64,
}

impl Single {
    /// Translates guest physical address `gpa`.
    pub(crate) fn new(gpa: u64) -> Single {
        Single { gpa }
    }

    /// Translates the address, logs the outcome in the seed's words and
    /// tells it; the job is then done.  `EINTR` (a fatal signal) or
    /// `ENOMEM` (the reply cannot be told): the next call tries again.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        let reply = self.translate(cx)?;
        cx.out.emit(&reply)?;
        Ok(true)
    }

    /// The address's reply, logged.
    fn translate(&self, cx: &mut Cx<'_, '_>) -> Result<Reply> {
        let gpa = self.gpa;
        let Some(vm) = cx.vm else {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, Reason::NoVm.as_str());
            return Ok(Reply::AddrErr {
                reason: Reason::NoVm,
                gpa,
                pid: cx.opts.pid,
                pages: 1,
            });
        };
        let (pid, opts) = (cx.pid, cx.opts);
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
        let reason = match walked {
            Ok(Found::Pages(Walked {
                slot,
                entries: [entry],
                ..
            })) => {
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
                log_outcome(gpa, pid, &reply);
                return Ok(reply);
            }
            Ok(Found::Pages(_)) => Reason::NoPage,
            Ok(Found::NoSlot { .. }) => Reason::NoMemslot,
            Ok(Found::MmGone) => Reason::NoMm,
            Err(e) if e == EINTR => return Err(e),
            Err(e) => {
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
        let reply = Reply::AddrErr {
            reason,
            gpa,
            pid: Some(pid),
            pages: 1,
        };
        log_outcome(gpa, pid, &reply);
        Ok(reply)
    }
}

/// Logs a single address's reply as the seed did: two lines for a page,
/// let through or held back together.
fn log_outcome(gpa: u64, pid: u32, reply: &Reply) {
    match reply {
        Reply::Ok(t) => {
            if !log::allow(What::Address, 2) {
                return;
            }
            pr_info!("exact phys addr for gpa {:#x}: {:#x}\n", gpa, t.phys);
            match t.kind {
                Kind::Base => pr_info!("page is not huge page\n"),
                Kind::Thp => pr_info!("page is THP, size {} KiB\n", t.size >> 10),
                Kind::Hugetlb => pr_info!("page is hugetlb page, size {} KiB\n", t.size >> 10),
                Kind::Pfnmap => pr_info!("page is PFNMAP memory (no struct page)\n"),
                Kind::Gmem => pr_info!("page is private guest_memfd memory\n"),
                Kind::Dax => pr_info!("page is DAX device memory\n"),
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
