// SPDX-License-Identifier: GPL-2.0

//! A range or `all`: the VM's pages walked a batch (`walk::BATCH` entries,
//! `walk::FRAMES` frames) at a time, consecutive pages merged into runs
//! (`tools/proto/src/runs.rs` says when), short runs told in frame lists
//! (`tools/proto/src/list.rs`) unless the line asked for `runs=plain`, and
//! one summary line logged at the end (as `log.rs` allows).

use crate::boundary::memory::WalkEntry;
use crate::boundary::vm::Vm;
use crate::facts::{frame_reply, page_reply, translation, SlotFacts};
use crate::log::log_line;
use crate::out::Out;
use crate::reply::{Reply, Translation};
use crate::request::{Options, Reason, Span, GFN_LIMIT, PAGE_SHIFT};
use crate::runs::{Merge, Runs};
use crate::walk::{self, Scratch, WalkError, Walked};
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
    gfn: u64,
    end: u64,
    /// Pages walked but not yet told, as one run.
    runs: Runs,
    /// `runs=plain`: runs only go up, each told on its own.
    plain: bool,
    tally: Tally,
}

impl Pages {
    /// `pages` pages from guest frame `gfn`, asked for by the token at
    /// `span`, in plain runs when `plain`.
    pub(crate) fn range(span: Span, gfn: u64, pages: u64, plain: bool) -> Pages {
        Pages {
            span,
            all: false,
            gfn,
            end: gfn + pages,
            runs: Runs::merging(if plain { Merge::Up } else { Merge::Either }),
            plain,
            tally: Tally::default(),
        }
    }

    /// Every memslot of the VM, asked for by the token at `span`.
    pub(crate) fn all(span: Span, plain: bool) -> Pages {
        Pages {
            all: true,
            end: GFN_LIMIT,
            ..Pages::range(span, 0, 0, plain)
        }
    }

    /// Walks one batch; returns whether the job is done.  `vm` is `None`
    /// when the line's VM is gone.
    pub(crate) fn step(
        &mut self,
        vm: Option<&Vm>,
        pid: u32,
        opts: Options,
        scratch: &mut Option<KBox<Scratch>>,
        out: &mut Out<'_>,
    ) -> Result<bool> {
        if self.gfn >= self.end {
            return self.finish(pid, out);
        }
        let Some(vm) = vm else {
            self.give_up(pid, Reason::NoVm, out)?;
            return Ok(false);
        };
        self.walk(vm, pid, opts, walk::scratch(scratch)?, out)?;
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
                gpa: self.gfn << PAGE_SHIFT,
                pid: Some(pid),
                pages: self.end - self.gfn,
            }
        };
        self.runs.push(gone, |r| out.emit_run(r, self.plain))?;
        self.tally.failed += 1;
        self.gfn = self.end;
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
            frame_reply(self.runs.next_reply(), first, slot, self.gfn, pfn);
            self.runs.take(|r| out.emit_run(r, true))?;
            self.tally.mapped += 1;
            self.gfn = self.gfn.saturating_add(1).min(self.end);
        }
        Ok(())
    }

    /// Walks one batch from `self.gfn`.
    fn walk(
        &mut self,
        vm: &Vm,
        pid: u32,
        opts: Options,
        scratch: &mut Scratch,
        out: &mut Out<'_>,
    ) -> Result {
        match walk::walk(
            vm,
            opts.as_id,
            self.gfn,
            self.end - self.gfn,
            opts.fault,
            scratch,
        ) {
            Ok(Walked {
                slot,
                entries,
                frames,
            }) => {
                let start = self.gfn;
                // The translation of the page of the entry that starts a
                // stretch of single pages with the same facts (base pages
                // the walk could not tell by frame, KSM ones say: an entry
                // each), whose replies differ only by frame.
                let mut first: Option<(&WalkEntry, Translation)> = None;
                let mut i = 0;
                while let Some(entry) = entries.get(i) {
                    if let Some((page, frames)) = entry.stretch(frames) {
                        // A stretch of base pages told by frame: in one
                        // loop, or (`runs=plain`) a page at a time.
                        let t = translation(&page, &slot, self.gfn, 0, pid);
                        if self.plain {
                            self.take_frames(&t, &slot, frames, out)?;
                        } else {
                            let (taken, told) =
                                out.take_stretch(&mut self.runs, &t, &slot, self.gfn, frames);
                            self.tally.mapped += taken;
                            self.gfn = self.gfn.saturating_add(taken).min(self.end);
                            told?;
                        }
                        first = None;
                        i += 1;
                        continue;
                    }
                    match &first {
                        Some((e, t)) if entry.same_page_facts(e) && !self.plain => {
                            // The rest of the stretch, read once: every page of
                            // it is taken unless `told` says why not.
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
                                self.gfn,
                                buf.get(..n).unwrap_or(&[]),
                            );
                            self.tally.mapped += taken;
                            self.gfn = self.gfn.saturating_add(taken).min(self.end);
                            told?;
                            i += taken as usize;
                            continue;
                        }
                        Some((e, t)) if entry.same_page_facts(e) => {
                            frame_reply(self.runs.next_reply(), t, &slot, self.gfn, entry.pfn())
                        }
                        _ => {
                            let reply = self.runs.next_reply();
                            page_reply(reply, &entry.facts(), &slot, self.gfn, 0, pid, opts.fault);
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
                    self.gfn = self.gfn.saturating_add(n).min(self.end);
                    i += 1;
                }
                // A walk covers at least the page at `gfn`; never stall.
                if self.gfn == start {
                    self.gfn += 1;
                }
            }
            Err(WalkError::NoSlot { next }) => {
                let hole_end = match next {
                    Some(s) if s.base_gfn > self.gfn => s.base_gfn.min(self.end),
                    // A memslot came since the walk looked: on to the next page.
                    Some(_) => self.gfn + 1,
                    None => self.end,
                };
                if !self.all {
                    // `all` skips what lies between memslots without counting it.
                    let hole = Reply::AddrErr {
                        reason: Reason::NoMemslot,
                        gpa: self.gfn << PAGE_SHIFT,
                        pid: Some(pid),
                        pages: hole_end - self.gfn,
                    };
                    self.runs.push(hole, |r| out.emit_run(r, self.plain))?;
                    self.tally.holes += hole_end - self.gfn;
                }
                self.gfn = hole_end;
            }
            Err(WalkError::MmGone) => self.give_up(pid, Reason::NoMm, out)?,
            Err(WalkError::Failed(e)) => return Err(e),
        }
        Ok(())
    }
}
