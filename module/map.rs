// SPDX-License-Identifier: GPL-2.0

//! A range or `all`: the VM's pages walked a batch (`walk::BATCH` entries)
//! at a time, consecutive pages merged into runs (`tools/proto/src/runs.rs`
//! says when), and one summary line logged at the end (as `log.rs` allows).

use crate::boundary::vm::Vm;
use crate::facts::page_reply;
use crate::log::log_line;
use crate::out::Out;
use crate::reply::Reply;
use crate::request::{Options, Reason, Span, GFN_LIMIT, PAGE_SHIFT};
use crate::runs::Runs;
use crate::walk::{self, Scratch, WalkError};
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
    tally: Tally,
}

impl Pages {
    /// `pages` pages from guest frame `gfn`, asked for by the token at `span`.
    pub(crate) fn range(span: Span, gfn: u64, pages: u64) -> Pages {
        Pages {
            span,
            all: false,
            gfn,
            end: gfn + pages,
            runs: Runs::new(),
            tally: Tally::default(),
        }
    }

    /// Every memslot of the VM, asked for by the token at `span`.
    pub(crate) fn all(span: Span) -> Pages {
        Pages {
            all: true,
            end: GFN_LIMIT,
            ..Pages::range(span, 0, 0)
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
        self.runs.flush(|r| out.emit(r))?;
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
        self.runs.push(gone, |r| out.emit(r))?;
        self.tally.failed += 1;
        self.gfn = self.end;
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
            Ok((slot, walked)) => {
                let start = self.gfn;
                for entry in walked {
                    page_reply(
                        self.runs.next_reply(),
                        &entry.facts(),
                        &slot,
                        self.gfn,
                        0,
                        pid,
                        opts.fault,
                    );
                    let n = u64::from(entry.pages());
                    self.runs.take(|r| out.emit(r))?;
                    // Counted once it is taken: a failed step is taken again.
                    if let Some(taken) = self.runs.last() {
                        self.tally.count(taken, n);
                    }
                    self.gfn = self.gfn.saturating_add(n).min(self.end);
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
                    self.runs.push(hole, |r| out.emit(r))?;
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
