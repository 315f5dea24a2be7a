// SPDX-License-Identifier: GPL-2.0

//! Runs: consecutive pages of a map told as one reply.
//!
//! A map's pages come as entries of page walks, a batch at a time; an entry
//! whose reply continues the reply before it (see [`continues`]) is added
//! to it, so a run is told once, whatever batches or walks it spans.
//! Replies are built in place and never moved: moving one is a `memcpy`,
//! which costs by the byte where copies go a byte at a time (`rep movsb`
//! under emulation), and a map of scattered base pages has one per page.

use crate::facts::{frame_reply, SlotFacts, PAGE_SIZE};
use crate::reply::{Reply, Share, Step, Translation};
use crate::request::PAGE_SHIFT;
use crate::window::{stretch_bytes, Store, Window};

/// How the run gathered so far is told, chosen for the whole map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Merge {
    /// Host frames may go up or down by one a page (`step=-1`).
    #[default]
    Either,
    /// Only up, as before runs could step down (`runs=plain`).
    Up,
}

/// What a reply is before one is built in it; never told.
pub const BLANK: Reply = Reply::Vm {
    pid: 0,
    slots: 0,
    memory: 0,
    kvm: None,
};

/// The run being gathered, and where the next reply is built.
pub struct Runs {
    /// `runs[cur]`, when `pending`: pages gathered but not yet told, as
    /// one reply; `runs[cur ^ 1]`: where the next reply is built.
    runs: [Reply; 2],
    cur: usize,
    pending: bool,
    merge: Merge,
}

impl Default for Runs {
    fn default() -> Runs {
        Runs::new()
    }
}

impl Runs {
    /// No run yet; runs step either way.
    pub const fn new() -> Runs {
        Runs::merging(Merge::Either)
    }

    /// No run yet; runs merge as `merge` says.
    pub const fn merging(merge: Merge) -> Runs {
        Runs {
            runs: [BLANK; 2],
            cur: 0,
            pending: false,
            merge,
        }
    }

    /// Where the next reply is built, before [`Runs::take`] adds it.
    pub fn next_reply(&mut self) -> &mut Reply {
        &mut self.runs[(self.cur ^ 1) & 1]
    }

    /// Adds the reply built in [`Runs::next_reply`] to the run, when it continues
    /// it, or tells the run (through `tell`) and starts a new one with it.
    /// Pages join runs one at a time, as if every entry were a page: an
    /// entry of ascending frames whose first page steps down from the run
    /// gives that page to the run and starts the next run with the rest.
    /// When `tell` fails nothing has changed, and the same reply may be
    /// taken again.
    pub fn take<E>(&mut self, tell: impl FnOnce(&Reply) -> Result<(), E>) -> Result<(), E> {
        let [a, b] = &mut self.runs;
        let (run, next) = if self.cur == 0 { (a, b) } else { (b, a) };
        if self.pending {
            if let Some(step) = continues(run, next) {
                if step == Step::Up || self.merge == Merge::Either {
                    grow(run, next, step);
                    return Ok(());
                }
            }
            match (&mut *run, &mut *next) {
                (Reply::Ok(r), Reply::Ok(n)) if self.merge == Merge::Either && n.pages > 1 => {
                    let first = Reply::Ok(n.page(0));
                    if continues(&Reply::Ok(*r), &first) == Some(Step::Down) {
                        let before = *r;
                        r.pages += 1;
                        r.step = Step::Down;
                        if let Err(e) = tell(run) {
                            *run = Reply::Ok(before);
                            return Err(e);
                        }
                        *n = n.page(1).with_pages(n.pages - 1);
                    } else {
                        tell(run)?;
                    }
                }
                _ => tell(run)?,
            }
        }
        self.cur ^= 1;
        self.pending = true;
        Ok(())
    }

    /// Builds `next` in place of the next reply and takes it.
    pub fn push<E>(
        &mut self,
        next: Reply,
        tell: impl FnOnce(&Reply) -> Result<(), E>,
    ) -> Result<(), E> {
        *self.next_reply() = next;
        self.take(tell)
    }

    /// The reply most recently taken: the run it joined, or started.
    pub fn last(&self) -> Option<&Reply> {
        self.pending.then(|| &self.runs[self.cur & 1])
    }

    /// Takes a stretch of pages with the facts of `first` (a one-page
    /// translation of the memslot `slot`, from `page_reply`) but each its
    /// own frame: page `i` is guest frame `gfn + i` on host frame
    /// `frames[i]`, as [`frame_reply`] builds it.  Told into `window` with
    /// [`Window::emit_run`]: the same bytes as taking each page's reply
    /// with [`Runs::take`] (`tests/stretch.rs` holds it to them), with
    /// less work a page.  The window is grown once for the stretch
    /// ([`Window::reserve`]); a run of frames that go up or down by one is
    /// found by comparing frames alone and joins its run at once; a page
    /// whose frame goes on no run adds the page before it to the open
    /// frame list without building a reply.  Only runs merging either way
    /// of pages that are not the zero page are told apart by frame alone;
    /// others take the pages one by one.  Returns the pages taken, and the
    /// error of the page that could not be (it may be taken again, from
    /// its reply built again).
    pub fn take_stretch<S: Store>(
        &mut self,
        window: &mut Window<S>,
        bin: bool,
        first: &Translation,
        slot: &SlotFacts,
        gfn: u64,
        frames: &[u64],
    ) -> (u64, Result<(), S::Error>) {
        if let Err(e) = window.reserve(stretch_bytes(frames.len(), bin)) {
            return (0, Err(e));
        }
        let by_frame = self.merge == Merge::Either && first.share != Share::Zero;
        let mut taken = 0;
        // Whether the open list is known to have `first`'s facts and to end
        // at the pending run: since a page joined it by the short path, and
        // nothing else was told.  A binary list's count is then written
        // once, before anything else is told.
        let mut known = false;
        let mut failed = None;
        while let Some(&pfn) = frames.get(taken) {
            // Past the stretch's first page, the pending run holds the page
            // before, with `first`'s facts (pages of other facts or gaps go
            // through `take` below).
            if let (true, true, Reply::Ok(r)) = (by_frame, taken > 0, &mut self.runs[self.cur & 1])
            {
                let last = (r.phys_of(r.pages - 1)) >> PAGE_SHIFT;
                let up = pfn == last.wrapping_add(1) && (r.pages == 1 || r.step == Step::Up);
                let down = pfn == last.wrapping_sub(1) && (r.pages == 1 || r.step == Step::Down);
                if up || down {
                    // The run goes on as far as the frames do.
                    let rest = frames.get(taken + 1..).unwrap_or(&[]);
                    let mut prev = pfn;
                    let more = rest
                        .iter()
                        .take_while(|&&f| {
                            let on = if up {
                                f == prev.wrapping_add(1)
                            } else {
                                f == prev.wrapping_sub(1)
                            };
                            prev = f;
                            on
                        })
                        .count();
                    r.pages += 1 + more as u64;
                    r.step = if up { Step::Up } else { Step::Down };
                    taken += 1 + more;
                    continue;
                }
                if r.pages == 1
                    && ((known && window.extends_open(r.gpa, bin)) || window.joins_open(r, bin))
                {
                    // The page before ends its run of one, which joins the
                    // open list, and so does each page after it whose
                    // frame the next does not go on from, as far as the
                    // list has room: `k` pages in all.  The page after
                    // them starts the next run.
                    let rest = frames.get(taken..).unwrap_or(&[]);
                    let k = match window.list_unrun(last, rest, bin) {
                        Ok(k) => k,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    known = true;
                    let next = rest.get(k - 1).copied().unwrap_or(pfn);
                    let d = (k as u64).wrapping_mul(PAGE_SIZE);
                    r.phys = next << PAGE_SHIFT;
                    r.gpa = r.gpa.wrapping_add(d);
                    r.hva = r.hva.wrapping_add(d);
                    taken += k;
                    continue;
                }
            }
            if known {
                window.count_frames();
                known = false;
            }
            frame_reply(self.next_reply(), first, slot, gfn + taken as u64, pfn);
            if let Err(e) = self.take(|r| window.emit_run(r, bin)) {
                failed = Some(e);
                break;
            }
            taken += 1;
        }
        if known {
            window.count_frames();
        }
        (taken as u64, failed.map_or(Ok(()), Err))
    }

    /// Tells the run gathered, if any; after it nothing is pending.  When
    /// `tell` fails the run stays, to be told again.
    pub fn flush<E>(&mut self, tell: impl FnOnce(&Reply) -> Result<(), E>) -> Result<(), E> {
        if self.pending {
            tell(&self.runs[self.cur & 1])?;
            self.pending = false;
        }
        Ok(())
    }
}

/// Whether `next` continues the run `run`, and which way the frames of
/// the two go: the same facts, and guest and host virtual addresses that
/// go on where the run ends, host frames that go on up or down by one
/// page.  A run of one page goes either way; a longer one only its own
/// way.  Zero pages never merge: every one of them is the same host page,
/// so a run of them would claim frames that are not theirs.  Error runs
/// go `Up`.
pub fn continues(run: &Reply, next: &Reply) -> Option<Step> {
    match (run, next) {
        (Reply::Ok(r), Reply::Ok(n)) => {
            let step = r.pages.wrapping_mul(PAGE_SIZE);
            let same = r.share != Share::Zero
                && n.gpa == r.gpa.wrapping_add(step)
                && n.hva == r.hva.wrapping_add(step)
                && (
                    n.kind, n.size, n.node, n.slot, n.as_id, n.share, n.map, n.pid,
                ) == (
                    r.kind, r.size, r.node, r.slot, r.as_id, r.share, r.map, r.pid,
                );
            // Which way each goes, if it is long enough to go one way.
            let way = |t: &crate::reply::Translation| (t.pages > 1).then_some(t.step);
            let can = |s: Step| same && way(r).unwrap_or(s) == s && way(n).unwrap_or(s) == s;
            if can(Step::Up) && n.phys == r.phys.wrapping_add(step) {
                Some(Step::Up)
            } else if can(Step::Down) && n.phys == r.phys.wrapping_sub(step) {
                Some(Step::Down)
            } else {
                None
            }
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
        ) => (reason == n_reason
            && pid == n_pid
            && *n_gpa == gpa.wrapping_add(pages.wrapping_mul(PAGE_SIZE)))
        .then_some(Step::Up),
        _ => None,
    }
}

/// Adds the pages of `next`, which continues `run` going `step`, to `run`.
fn grow(run: &mut Reply, next: &Reply, step: Step) {
    let n = match next {
        Reply::Ok(t) => t.pages,
        Reply::AddrErr { pages, .. } => *pages,
        _ => 1,
    };
    match run {
        Reply::Ok(t) => {
            t.pages += n;
            t.step = step;
        }
        Reply::AddrErr { pages, .. } => *pages += n,
        _ => {}
    }
}

/// The runs of `frames` (the frames of consecutive guest pages) that go up
/// by one a page, cut to the frames in `lo..hi`: as `(index, frame,
/// pages)`, the first page's index in `frames`, its frame, and the pages of
/// the run in `lo..hi`.  What a reverse lookup tells of a stretch of base
/// pages: each such run as one reply, as if the walk had made an entry of
/// it.
pub fn ascending_within(frames: &[u64], lo: u64, hi: u64) -> AscendingWithin<'_> {
    AscendingWithin {
        frames,
        at: 0,
        lo,
        hi,
    }
}

/// The iterator of [`ascending_within`].
pub struct AscendingWithin<'a> {
    frames: &'a [u64],
    at: usize,
    lo: u64,
    hi: u64,
}

impl Iterator for AscendingWithin<'_> {
    type Item = (usize, u64, u64);

    fn next(&mut self) -> Option<(usize, u64, u64)> {
        let (lo, hi) = (self.lo, self.hi);
        let rest = self.frames.get(self.at..)?;
        let skip = rest.iter().position(|&f| lo <= f && f < hi)?;
        let at = self.at + skip;
        let first = *self.frames.get(at)?;
        let mut prev = first;
        let pages = 1 + self
            .frames
            .get(at + 1..)
            .unwrap_or(&[])
            .iter()
            .take_while(|&&f| {
                let on = f == prev.wrapping_add(1) && f < hi;
                prev = f;
                on
            })
            .count();
        self.at = at + pages;
        Some((at, first, pages as u64))
    }
}
