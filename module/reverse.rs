// SPDX-License-Identifier: GPL-2.0

//! `hpa=`: which guest pages are given host pages.  Every VM (or the VMs
//! of the line's pid's process, when it has one) is walked whole, both
//! address spaces,
//! with the same page walk as a map, and each entry whose frames fall in
//! the host range asked for is told as a translation, clipped to it.  So a
//! frame many guest pages share (the zero page, a KSM page) is told once
//! per guest page, and a question costs a whole-VM map of every VM asked
//! (`make bench` prints what that costs).  `VM_PFNMAP` memory is searched
//! too: its frames are those its mapping maps.

use crate::boundary::vm::{self, VmFacts, VmId};
use crate::facts::{page_reply, PageFacts, SlotFacts};
use crate::job::Cx;
use crate::log::log_line;
use crate::out::Out;
use crate::reply::Reply;
use crate::request::{Reason, Span, GFN_LIMIT};
use crate::runs::{ascending_within, BLANK};
use crate::walk::{Cursor, Met, Walked};
use kernel::prelude::*;

/// An `hpa=` question being answered.
pub(crate) struct Reverse {
    span: Span,
    /// Host frames `lo..hi` are asked about.
    lo: u64,
    hi: u64,
    /// Byte offset of a single address in its page, kept in the replies.
    offset: u64,
    /// Only the VMs of this thread's process, when the line names one.
    pid: Option<u32>,
    /// That process, found when the VMs are listed (0: none).
    process: Option<u32>,
    /// The VMs, listed at the first step, and the next of them to walk.
    vms: Option<KVVec<VmFacts>>,
    next: usize,
    /// The VM being walked (never held between calls: see `VmId`), and
    /// where its walk stands: address space 0, then 1.
    cur: Option<VmId>,
    at: Cursor,
    /// Guest pages told so far.
    found: u64,
}

impl Reverse {
    /// Asks which guest pages are the `pages` host frames from `pfn` on,
    /// for the token at `span`.
    pub(crate) fn new(span: Span, pfn: u64, pages: u64, offset: u64, pid: Option<u32>) -> Reverse {
        Reverse {
            span,
            lo: pfn,
            hi: pfn.saturating_add(pages),
            offset,
            pid,
            process: None,
            vms: None,
            next: 0,
            cur: None,
            at: Cursor::new(0, 0, GFN_LIMIT),
            found: 0,
        }
    }

    /// Walks one batch of one VM, or moves on to the next VM; returns
    /// whether the question is answered.  The VM being walked is held in
    /// `cx.other`, found again once per call and kept for the rest of it.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        let vms = match &mut self.vms {
            Some(vms) => vms,
            None => {
                // A thread id names its process, as everywhere else.
                self.process = self.pid.map(|p| vm::process_of(p).map_or(0, |p| p.tgid));
                self.vms.insert(crate::vms::visible()?)
            }
        };
        let Some(id) = self.cur.as_ref() else {
            *cx.other = None;
            let Some(vm) = vms.get(self.next) else {
                return self.finish(&mut cx.out);
            };
            if self.process.map_or(true, |p| Some(p) == vm.vmm()) {
                // A VM gone since the listing is skipped.
                self.cur = crate::vms::of(vm);
                self.at.restart(0, 0, GFN_LIMIT);
            }
            self.next += 1;
            return Ok(false);
        };
        let pid = id.vmm_pid;
        if cx.other.is_none() {
            *cx.other = id.open();
        }
        let Some(vm) = cx.other.as_ref() else {
            self.cur = None;
            return Ok(false);
        };
        match self.at.walk(vm, false, cx.scratch.get()?)? {
            Met::Pages(Walked {
                slot,
                entries,
                frames,
            }) => {
                for entry in entries {
                    let gfn = self.at.gfn();
                    if let Some((page, frames)) = entry.stretch(frames) {
                        self.tell_stretch(&page, frames, &slot, gfn, pid, &mut cx.out)?;
                    } else {
                        let page = entry.facts();
                        if page.told() {
                            self.tell(&page, &slot, gfn, pid, &mut cx.out)?;
                        }
                    }
                    self.at.advance(u64::from(entry.pages()));
                }
            }
            Met::Hole { pages, .. } => {
                self.at.advance(pages);
                if self.at.done() && self.at.as_id == 0 {
                    self.at.restart(1, 0, GFN_LIMIT);
                } else if self.at.done() {
                    self.cur = None;
                }
            }
            // The VMM is exiting: its memory is no one's any more.
            Met::MmGone => self.cur = None,
        }
        Ok(false)
    }

    /// Tells the pages of a stretch of base pages (`page`'s facts, on
    /// `frames`, of `slot` from guest frame `gfn`) whose frames are asked
    /// about: those of each run of frames that go up by one as one reply,
    /// as if the walk had made an entry of it.  The cursor is at `gfn`.
    fn tell_stretch(
        &mut self,
        page: &PageFacts,
        frames: &[u64],
        slot: &SlotFacts,
        gfn: u64,
        pid: u32,
        out: &mut Out<'_>,
    ) -> Result {
        for (i, pfn, pages) in ascending_within(frames, self.lo, self.hi) {
            let run = PageFacts {
                pfn,
                pages: pages as u32,
                ..*page
            };
            if let Err(e) = self.tell(&run, slot, gfn + i as u64, pid, out) {
                // The next call walks again from this run.
                self.at.advance(i as u64);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Tells the part of `page` (an entry of `slot` at guest frame `gfn`)
    /// whose frames are asked about, if any.
    fn tell(
        &mut self,
        page: &PageFacts,
        slot: &SlotFacts,
        gfn: u64,
        pid: u32,
        out: &mut Out<'_>,
    ) -> Result {
        let n = u64::from(page.pages.max(1));
        let first = page.pfn.max(self.lo);
        let end = page.pfn.saturating_add(n).min(self.hi);
        if first >= end {
            return Ok(());
        }
        let skip = first - page.pfn;
        let part = PageFacts {
            pfn: first,
            pages: (end - first) as u32,
            ..*page
        };
        let mut reply = BLANK;
        page_reply(&mut reply, &part, slot, gfn + skip, self.offset, pid, false);
        out.emit(&reply)?;
        self.found += end - first;
        Ok(())
    }

    /// Ends the question: says so when no VM maps the frames, and logs.
    fn finish(&mut self, out: &mut Out<'_>) -> Result<bool> {
        if self.found == 0 {
            out.emit(&Reply::TokenErr {
                reason: Reason::NotGuestMemory,
                span: self.span,
            })?;
        }
        log_line!(
            Summary,
            "hpa at offset {}: {} guest pages found\n",
            self.span.offset,
            self.found
        );
        Ok(true)
    }
}
