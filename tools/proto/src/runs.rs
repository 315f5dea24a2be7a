// SPDX-License-Identifier: GPL-2.0

//! Runs: consecutive pages of a map told as one reply.
//!
//! A map's pages come as entries of page walks, a batch at a time; an entry
//! whose reply continues the reply before it (see [`continues`]) is added
//! to it, so a run is told once, whatever batches or walks it spans.
//! Replies are built in place and never moved: moving one is a `memcpy`,
//! which costs by the byte where copies go a byte at a time (`rep movsb`
//! under emulation), and a map of scattered base pages has one per page.

use crate::facts::PAGE_SIZE;
use crate::reply::{Reply, Share};

/// What a reply is before one is built in it; never told.
pub const BLANK: Reply = Reply::Vm {
    pid: 0,
    slots: 0,
    memory: 0,
};

/// The run being gathered, and where the next reply is built.
pub struct Runs {
    /// `runs[cur]`, when `pending`: pages gathered but not yet told, as
    /// one reply; `runs[cur ^ 1]`: where the next reply is built.
    runs: [Reply; 2],
    cur: usize,
    pending: bool,
}

impl Default for Runs {
    fn default() -> Runs {
        Runs::new()
    }
}

impl Runs {
    /// No run yet.
    pub const fn new() -> Runs {
        Runs {
            runs: [BLANK; 2],
            cur: 0,
            pending: false,
        }
    }

    /// Where the next reply is built, before [`Runs::take`] adds it.
    pub fn next_reply(&mut self) -> &mut Reply {
        &mut self.runs[(self.cur ^ 1) & 1]
    }

    /// Adds the reply built in [`Runs::next_reply`] to the run, when it continues
    /// it, or tells the run (through `tell`) and starts a new one with it.
    /// When `tell` fails nothing has changed, and the same reply may be
    /// taken again.
    pub fn take<E>(&mut self, tell: impl FnOnce(&Reply) -> Result<(), E>) -> Result<(), E> {
        let [a, b] = &mut self.runs;
        let (run, next) = if self.cur == 0 { (a, &*b) } else { (b, &*a) };
        if self.pending {
            if continues(run, next) {
                grow(run, next);
                return Ok(());
            }
            tell(run)?;
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

/// Whether `next` continues the run `run`: the same facts, and guest, host
/// virtual and host physical addresses that go on where the run ends.
/// Zero pages never merge: every one of them is the same host page, so a
/// run of them would claim frames that are not theirs.
pub fn continues(run: &Reply, next: &Reply) -> bool {
    match (run, next) {
        (Reply::Ok(r), Reply::Ok(n)) => {
            let step = r.pages.wrapping_mul(PAGE_SIZE);
            r.share != Share::Zero
                && n.gpa == r.gpa.wrapping_add(step)
                && n.hva == r.hva.wrapping_add(step)
                && n.phys == r.phys.wrapping_add(step)
                && (
                    n.kind, n.size, n.node, n.slot, n.as_id, n.share, n.map, n.pid,
                ) == (
                    r.kind, r.size, r.node, r.slot, r.as_id, r.share, r.map, r.pid,
                )
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
