// SPDX-License-Identifier: GPL-2.0

//! A range or `all`: the VM's pages walked a batch (`walk::BATCH` entries,
//! `walk::FRAMES` frames) at a time, consecutive pages merged into runs
//! (`tools/proto/src/runs.rs` says when), short runs told in frame lists
//! (`tools/proto/src/list.rs`) unless the line asked for `runs=plain`, and
//! one summary line logged at the end (as `log.rs` allows).

use crate::boundary::memory::WalkEntry;
use crate::facts::{frame_reply, page_reply, translation, SlotFacts};
use crate::job::Cx;
use crate::log::log_line;
use crate::out::Out;
use crate::reply::{Reply, Translation};
use crate::request::{Reason, Span, GFN_LIMIT, PAGE_SHIFT};
use crate::runs::{Merge, Runs};
use crate::walk::{Cursor, Met, Walked};
use kernel::prelude::*;

/// How many pages of a range or `all` ended up how, for the log.
#[derive(Default)]
struct Tally {
    mapped: u64,
    absent: u64,
    failed: u64,
    holes: u64,
}

impl Tally {
    /// Counts `n` pages told as `reply`.
    fn count(&mut self, reply: &Reply, n: u64) {
        match reply {
            Reply::Ok(_) => self.mapped += n,
            Reply::AddrErr {
                reason: Reason::NotPresent,
                ..
            } => self.absent += n,
            _ => self.failed += n,
        }
    }
}

/// A range or `all` being walked.
pub(crate) struct Pages {
    span: Span,
    /// `all`: walk every memslot, skipping what lies between them.
    all: bool,
    /// The pages left to walk, in the line's address space.
    at: Cursor,
    /// Pages walked but not yet told, as one run.
    runs: Runs,
    /// `runs=plain`: runs only go up, each told on its own.
    plain: bool,
    tally: Tally,
}

impl Pages {
    /// `pages` pages from guest frame `gfn` of address space `as_id`,
    /// asked for by the token at `span`, in plain runs when `plain`.
    pub(crate) fn range(span: Span, as_id: u8, gfn: u64, pages: u64, plain: bool) -> Pages {
        Pages {
            span,
            all: false,
            at: Cursor::new(as_id, gfn, gfn + pages),
            runs: Runs::merging(if plain { Merge::Up } else { Merge::Either }),
            plain,
            tally: Tally::default(),
        }
    }

    /// Every memslot of address space `as_id`, asked for by the token at
    /// `span`.
    pub(crate) fn all(span: Span, as_id: u8, plain: bool) -> Pages {
        Pages {
            all: true,
            ..Pages::range(span, as_id, 0, GFN_LIMIT, plain)
        }
    }

    /// Walks one batch; returns whether the job is done.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        if self.at.done() {
            return self.finish(cx.pid, &mut cx.out);
        }
        let Some(vm) = cx.vm else {
            self.give_up(cx.pid, Reason::NoVm, &mut cx.out)?;
            return Ok(false);
        };
        let (pid, fault) = (cx.pid, cx.opts.fault);
        match self.at.walk(vm, fault, cx.scratch.get()?)? {
            Met::Pages(walked) => self.tell(walked, pid, fault, &mut cx.out)?,
            Met::Hole { gfn, pages } => {
                // `all` skips what lies between memslots without counting it.
                if !self.all {
                    let hole = Reply::AddrErr {
                        reason: Reason::NoMemslot,
                        gpa: gfn << PAGE_SHIFT,
                        pid: Some(pid),
                        pages,
                    };
                    let plain = self.plain;
                    self.runs.push(hole, |r| cx.out.emit_run(r, plain))?;
                    self.tally.holes += pages;
                }
                self.at.advance(pages);
            }
            Met::MmGone => self.give_up(pid, Reason::NoMm, &mut cx.out)?,
        }
        Ok(false)
    }

    /// Ends the job: prints the last run and logs the summary.
    fn finish(&mut self, pid: u32, out: &mut Out<'_>) -> Result<bool> {
        self.runs.flush(|r| out.emit_run(r, self.plain))?;
        let t = &self.tally;
        if self.all && t.mapped + t.absent + t.failed == 0 {
            out.emit(&Reply::TokenErr {
                reason: Reason::NoMemslot,
                span: self.span,
            })?;
        }
        log_line!(Summary,
            "{} at offset {} (pid {}): {} pages mapped, {} not present, {} failed, {} outside memslots\n",
            if self.all { "all" } else { "range" },
            self.span.offset,
            pid,
            t.mapped,
            t.absent,
            t.failed,
            t.holes
        );
        Ok(true)
    }

    /// Ends early, the VM or its memory being gone: the pages not yet told
    /// get `reason` (a range), or the request does (`all`, whose remaining
    /// memslots are no longer known).
    fn give_up(&mut self, pid: u32, reason: Reason, out: &mut Out<'_>) -> Result {
        let gone = if self.all {
            Reply::TokenErr {
                reason,
                span: self.span,
            }
        } else {
            Reply::AddrErr {
                reason,
                gpa: self.at.gfn() << PAGE_SHIFT,
                pid: Some(pid),
                pages: self.at.left(),
            }
        };
        self.runs.push(gone, |r| out.emit_run(r, self.plain))?;
        self.tally.failed += 1;
        self.at.finish();
        Ok(())
    }

    /// Takes the pages of a stretch on `frames`, with `first`'s facts, one
    /// at a time (`runs=plain`).
    fn take_frames(
        &mut self,
        first: &Translation,
        slot: &SlotFacts,
        frames: &[u64],
        out: &mut Out<'_>,
    ) -> Result {
        for &pfn in frames {
            frame_reply(self.runs.next_reply(), first, slot, self.at.gfn(), pfn);
            self.runs.take(|r| out.emit_run(r, true))?;
            self.tally.mapped += 1;
            self.at.advance(1);
        }
        Ok(())
    }

    /// Tells the pages of one walk, from the cursor on, moving it past
    /// each page told (a failed step is taken again from there).
    fn tell(&mut self, walked: Walked<'_>, pid: u32, fault: bool, out: &mut Out<'_>) -> Result {
        let Walked {
            slot,
            entries,
            frames,
        } = walked;
        // The translation of the page of the entry that starts a stretch of
        // single pages with the same facts (base pages the walk could not
        // tell by frame, KSM ones say: an entry each), whose replies differ
        // only by frame.
        let mut first: Option<(&WalkEntry, Translation)> = None;
        let mut i = 0;
        while let Some(entry) = entries.get(i) {
            let gfn = self.at.gfn();
            if let Some((page, frames)) = entry.stretch(frames) {
                // A stretch of base pages told by frame: in one loop, or
                // (`runs=plain`) a page at a time.
                let t = translation(&page, &slot, gfn, 0, pid);
                if self.plain {
                    self.take_frames(&t, &slot, frames, out)?;
                } else {
                    let (taken, told) = out.take_stretch(&mut self.runs, &t, &slot, gfn, frames);
                    self.tally.mapped += taken;
                    self.at.advance(taken);
                    told?;
                }
                first = None;
                i += 1;
                continue;
            }
            match &first {
                Some((e, t)) if entry.same_page_facts(e) && !self.plain => {
                    // The rest of the stretch, read once: every page of it
                    // is taken unless `told` says why not.
                    let mut buf = [0u64; 64];
                    let n = entries
                        .get(i..)
                        .unwrap_or(&[])
                        .iter()
                        .take_while(|x| x.same_page_facts(e))
                        .zip(buf.iter_mut())
                        .map(|(x, b)| *b = x.pfn())
                        .count();
                    let (taken, told) = out.take_stretch(
                        &mut self.runs,
                        t,
                        &slot,
                        gfn,
                        buf.get(..n).unwrap_or(&[]),
                    );
                    self.tally.mapped += taken;
                    self.at.advance(taken);
                    told?;
                    i += taken as usize;
                    continue;
                }
                Some((e, t)) if entry.same_page_facts(e) => {
                    frame_reply(self.runs.next_reply(), t, &slot, gfn, entry.pfn())
                }
                _ => {
                    let reply = self.runs.next_reply();
                    page_reply(reply, &entry.facts(), &slot, gfn, 0, pid, fault);
                    first = match reply {
                        Reply::Ok(t) if t.pages == 1 => Some((entry, *t)),
                        _ => None,
                    };
                }
            }
            let n = u64::from(entry.pages());
            self.runs.take(|r| out.emit_run(r, self.plain))?;
            // Counted once it is taken: a failed step is taken again.
            if let Some(taken) = self.runs.last() {
                self.tally.count(taken, n);
            }
            self.at.advance(n);
            i += 1;
        }
        Ok(())
    }
}
