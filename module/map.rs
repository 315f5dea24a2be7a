// SPDX-License-Identifier: GPL-2.0

//! A range or `all`: the VM's pages walked a batch (`shim::BATCH` entries)
//! at a time, consecutive pages with the same facts merged into one run,
//! and one summary line logged at the end (as `log.rs` allows).

use crate::facts::{page_reply, BLANK, PAGE_SIZE};
use crate::log::log_line;
use crate::out::Out;
use crate::reply::{Reply, Share};
use crate::request::{Options, Reason, Span, GFN_LIMIT, PAGE_SHIFT};
use crate::shim::{self, Scratch, Vm};
use kernel::error::code::ESRCH;
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
    /// `runs[cur]`, when `pending`: pages walked but not yet printed, as
    /// one reply; `runs[cur ^ 1]`: where the next entry's reply is built.
    /// Replies are built in place and never moved: moving one is a
    /// `memcpy`, which costs by the byte where copies go a byte at a time
    /// (see `out.rs`), and a map of scattered base pages has one per page.
    runs: [Reply; 2],
    cur: usize,
    pending: bool,
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
            runs: [BLANK; 2],
            cur: 0,
            pending: false,
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
        let scratch = match scratch {
            Some(s) => s,
            None => scratch.insert(KBox::new(Scratch::new()?, shim::gfp_request())?),
        };
        self.walk(vm, pid, opts, scratch, out)?;
        Ok(false)
    }

    /// Where the reply of the next page (or run of pages) is built, before
    /// [`Pages::take_next`] adds it.
    fn next_slot(&mut self) -> &mut Reply {
        &mut self.runs[(self.cur ^ 1) & 1]
    }

    /// Adds the reply built in [`Pages::next_slot`] to the pending run, or
    /// prints the run and makes the new reply the pending one.  On error
    /// nothing has changed.
    fn take_next(&mut self, out: &mut Out<'_>) -> Result {
        let [a, b] = &mut self.runs;
        let (run, next) = if self.cur == 0 { (a, &*b) } else { (b, &*a) };
        if self.pending {
            if continues(run, next) {
                grow(run, next);
                return Ok(());
            }
            out.emit(run)?;
        }
        self.cur ^= 1;
        self.pending = true;
        Ok(())
    }

    /// Adds `next`, one page or run of pages, as [`Pages::take_next`] does.
    fn push(&mut self, next: Reply, out: &mut Out<'_>) -> Result {
        *self.next_slot() = next;
        self.take_next(out)
    }

    /// Ends the job: prints the last run and logs the summary.
    fn finish(&mut self, pid: u32, out: &mut Out<'_>) -> Result<bool> {
        if self.pending {
            out.emit(&self.runs[self.cur & 1])?;
            self.pending = false;
        }
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
        self.push(gone, out)?;
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
        let Scratch { pages, out: facts } = scratch;
        match vm.walk(
            opts.as_id,
            self.gfn,
            self.end - self.gfn,
            !opts.fault,
            &mut pages[..],
            &mut facts[..],
        ) {
            Ok((slot, walked)) => {
                let start = self.gfn;
                for page in walked {
                    let next = (self.cur ^ 1) & 1;
                    page_reply(
                        &mut self.runs[next],
                        page,
                        &slot,
                        self.gfn,
                        0,
                        pid,
                        opts.fault,
                    );
                    let n = u64::from(page.pages.max(1));
                    self.take_next(out)?;
                    // Counted once it is taken: a failed step is taken again.
                    self.tally.count(&self.runs[next], n);
                    self.gfn = self.gfn.saturating_add(n).min(self.end);
                }
                // The shim walks at least the page holding `gfn`; never stall.
                if self.gfn == start {
                    self.gfn += 1;
                }
            }
            Err(e) if shim::is_no_slot(e) => {
                let hole_end = match vm.slot_find(opts.as_id, self.gfn) {
                    Some(s) if s.base_gfn > self.gfn => s.base_gfn.min(self.end),
                    // A memslot appeared since the walk: look again.
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
                    self.push(hole, out)?;
                    self.tally.holes += hole_end - self.gfn;
                }
                self.gfn = hole_end;
            }
            Err(e) if e == ESRCH => self.give_up(pid, Reason::NoMm, out)?,
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Whether `next` continues the run `run`: the same facts, and guest, host
/// virtual and host physical addresses that go on where the run ends.
/// Zero pages never merge: every one of them maps the same host page.
fn continues(run: &Reply, next: &Reply) -> bool {
    match (run, next) {
        (Reply::Ok(r), Reply::Ok(n)) => {
            let step = r.pages.wrapping_mul(PAGE_SIZE);
            r.share != Share::Zero
                && n.gpa == r.gpa.wrapping_add(step)
                && n.hva == r.hva.wrapping_add(step)
                && n.phys == r.phys.wrapping_add(step)
                && (n.kind, n.size, n.node, n.slot, n.as_id, n.share, n.map)
                    == (r.kind, r.size, r.node, r.slot, r.as_id, r.share, r.map)
        }
        (
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            },
            Reply::AddrErr {
                reason: n_reason,
                gpa: n_gpa,
                pid: n_pid,
                ..
            },
        ) => {
            reason == n_reason
                && pid == n_pid
                && *n_gpa == gpa.wrapping_add(pages.wrapping_mul(PAGE_SIZE))
        }
        _ => false,
    }
}

/// Adds the pages of `next`, which continues `run`, to `run`.
fn grow(run: &mut Reply, next: &Reply) {
    let n = match next {
        Reply::Ok(t) => t.pages,
        Reply::AddrErr { pages, .. } => *pages,
        _ => 1,
    };
    match run {
        Reply::Ok(t) => t.pages += n,
        Reply::AddrErr { pages, .. } => *pages += n,
        _ => {}
    }
}
