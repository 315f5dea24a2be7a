// SPDX-License-Identifier: GPL-2.0

//! How guest pages are walked: through the memslot that holds them, a
//! batch at a time, by the path their memory needs.  A memslot's private
//! guest_memfd pages are read from the guest_memfd; the rest from the
//! VMM's page tables, without touching anything, or (`mode=fault`) after
//! faulting them in.  One walk is bounded: `BATCH` entries and `FRAMES`
//! frames of base pages, and at most `NOFAULT_SPAN` pages of page tables
//! or `BATCH` pages faulted in.  A walk of the page tables hands a
//! stretch of base pages over as one entry and their frames
//! ([`WalkEntry::stretch`]), not an entry a page.

use crate::boundary::memory::{self, WalkEntry};
use crate::boundary::spare::Spare;
use crate::boundary::vm::Vm;
use crate::facts::SlotFacts;
use crate::fault;
use kernel::prelude::*;

/// Most entries one walk fills, and most pages one walk that faults pages
/// in covers: one mmap lock hold, one batch of scratch.
pub(crate) const BATCH: usize = 512;

/// Most frames of base pages one walk hands over: a walk of base pages is
/// sized by its frames (8 bytes a page), not by entries (32 bytes, and a
/// stretch of base pages on one node is one).
pub(crate) const FRAMES: usize = 2048;

/// Most pages one walk that only reads page tables covers: 1 GiB, so
/// untouched memory and huge pages cost a walk per GiB, not per 2 MiB; the
/// work of one such walk is bounded by its `BATCH` entries and, for holes,
/// by the page tables of 1 GiB.
pub(crate) const NOFAULT_SPAN: u64 = 1 << 18;

/// What a walk found at a guest frame.
pub(crate) enum Found<'a> {
    /// Pages of the memslot that holds it.
    Pages(Walked<'a>),
    /// No memslot holds it; `next` is the first frame of the first one
    /// above it, if any (one at or below it means a memslot came
    /// meanwhile).
    NoSlot { next: Option<u64> },
    /// The VMM's address space is gone: it is exiting.
    MmGone,
}

/// Room for one walk: entries, the frames of stretches of base pages, and
/// page references faulting takes.
pub(crate) struct Scratch {
    refs: KVec<usize>,
    out: KVec<WalkEntry>,
    frames: KVVec<u64>,
}

impl Scratch {
    /// Room for a batch.
    pub(crate) fn new() -> Result<Scratch> {
        let flags = crate::boundary::gfp_request();
        Ok(Scratch {
            refs: KVec::from_elem(0, BATCH, flags)?,
            out: KVec::from_elem(WalkEntry::default(), BATCH, flags)?,
            frames: KVVec::from_elem(0, FRAMES, flags)?,
        })
    }
}

/// What one walk found: the memslot, entries each covering consecutive
/// pages with the same facts, and the frames of those that are stretches
/// of base pages ([`WalkEntry::stretch`]).
pub(crate) struct Walked<'a> {
    pub(crate) slot: SlotFacts,
    pub(crate) entries: &'a [WalkEntry],
    pub(crate) frames: &'a [u64],
}

/// An open file's room for walks: allocated by its first walk, or taken
/// over from a file closed before (the module keeps one spare,
/// `boundary/spare.rs`), and given back as the spare when the file goes.
pub(crate) struct Room(Option<KBox<Scratch>>);

/// The room of the last file closed, for the next one that walks.
static SPARE: Spare<Scratch> = Spare::new();

impl Room {
    /// None yet.
    pub(crate) const fn new() -> Room {
        Room(None)
    }

    /// The room, taken over or allocated on first use.
    pub(crate) fn get(&mut self) -> Result<&mut Scratch> {
        if self.0.is_none() {
            self.0 = Some(match SPARE.take() {
                Some(s) => s,
                None => KBox::new(Scratch::new()?, crate::boundary::gfp_request())?,
            });
        }
        self.0.as_deref_mut().ok_or(ENOMEM)
    }

    /// Frees the spare: when the module goes.
    pub(crate) fn free_spare() {
        SPARE.free();
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        SPARE.give_back(&mut self.0);
    }
}

/// Walks up to `want` pages (at least one) from guest frame `gfn` of
/// address space `as_id`, within the memslot that holds `gfn`.  Fails with
/// `EINTR` on a fatal signal (looked at before each walk), or with what
/// the walk failed with.
pub(crate) fn walk<'a>(
    vm: &Vm,
    as_id: u8,
    gfn: u64,
    want: u64,
    fault: bool,
    scratch: &'a mut Scratch,
) -> Result<Found<'a>> {
    let Scratch { refs, out, frames } = scratch;
    walk_in(vm, as_id, gfn, want, fault, refs, out, frames)
}

/// [`walk`], with the room given as slices (a single address needs one
/// entry, and no frames).
#[allow(clippy::too_many_arguments)]
pub(crate) fn walk_in<'a>(
    vm: &Vm,
    as_id: u8,
    gfn: u64,
    want: u64,
    fault: bool,
    refs: &mut [usize],
    out: &'a mut [WalkEntry],
    frames: &'a mut [u64],
) -> Result<Found<'a>> {
    // A map or a reverse lookup is many walks in one system call: each
    // ends it on a fatal signal.
    if memory::fatal_signal_pending() {
        return Err(EINTR);
    }
    let slot = match vm.slot_from(as_id, gfn) {
        Some(slot) if slot.holds(gfn) => slot,
        next => {
            return Ok(Found::NoSlot {
                next: next.map(|s| s.base_gfn),
            })
        }
    };
    let max = out.len().min(BATCH);
    let span = if fault {
        refs.len().min(max) as u64
    } else {
        NOFAULT_SPAN
    };
    // At least the page at `gfn`, at most to the memslot's end.
    let mut nr = want.clamp(1, span.max(1)).min(slot.end() - gfn) as u32;
    if slot.has_gmem() {
        // A batch is pages of one memory attribute.
        let (run, private) = vm.private_run(gfn, nr.min(max as u32));
        if private {
            return Ok(walk_private(vm, slot, as_id, gfn, run, &mut out[..max]));
        }
        nr = run;
    }
    let entries = {
        let Some(mut mm) = vm.mm() else {
            return Ok(Found::MmGone);
        };
        let hva = slot.hva_of(gfn);
        if fault {
            let n = nr as usize;
            fault::fault_in(&mut mm, hva, &mut refs[..n], &mut out[..n])?
        } else {
            mm.read_lock()?
                .walk(hva, nr, &mut out[..max], &mut *frames)?
        }
    };
    // A map or a reverse lookup is many walks in one system call.
    memory::resched();
    Ok(Found::Pages(Walked {
        slot,
        entries,
        frames,
    }))
}

/// Describes up to `nr` private pages from `gfn` of `slot` from its
/// guest_memfd, within the guest_memfd memslot that holds `gfn` now.
fn walk_private<'a>(
    vm: &Vm,
    slot: SlotFacts,
    as_id: u8,
    gfn: u64,
    nr: u32,
    out: &'a mut [WalkEntry],
) -> Found<'a> {
    let Some(gmem) = vm.gmem_slot(as_id, gfn) else {
        // It went since `slot` was read: what holds `gfn` now, if anything,
        // is for the next walk.
        return Found::NoSlot {
            next: vm.slot_from(as_id, gfn).map(|s| s.base_gfn),
        };
    };
    // Within the memslot as this lookup found it, which may have changed
    // since `slot` was read.
    let left = gmem
        .base_gfn
        .saturating_add(gmem.npages)
        .saturating_sub(gfn);
    let nr = u32::try_from(left).map_or(nr, |left| nr.min(left)).max(1);
    let entries = match &gmem.file {
        Some(file) => file.walk(gmem.pgoff + gfn.saturating_sub(gmem.base_gfn), nr, out),
        // A guest_memfd being closed has no pages left to tell: they read
        // as never allocated.
        None => match out.first_mut() {
            Some(first) => {
                *first = WalkEntry::gmem_unallocated(nr);
                &out[..1]
            }
            None => &[],
        },
    };
    Found::Pages(Walked {
        slot,
        entries,
        frames: &[],
    })
}

/// Where a walk over the memslots of an address space stands: the next
/// guest frame to walk, up to an end.  What lies between memslots is
/// skipped whole, and a walk that describes nothing moves past its first
/// page, so a cursor never stalls.
pub(crate) struct Cursor {
    pub(crate) as_id: u8,
    gfn: u64,
    end: u64,
}

/// What one step of a [`Cursor`] met.
pub(crate) enum Met<'a> {
    /// Pages of a memslot from the cursor's frame on, which the caller
    /// tells and moves the cursor past ([`Cursor::advance`]).
    Pages(Walked<'a>),
    /// No memslot holds the `pages` frames from the cursor's on (to the
    /// next memslot, or the end), which the caller moves the cursor past.
    Hole { gfn: u64, pages: u64 },
    /// The VMM's address space is gone: it is exiting.
    MmGone,
}

impl Cursor {
    /// Frames `gfn..end` of address space `as_id`.
    pub(crate) fn new(as_id: u8, gfn: u64, end: u64) -> Cursor {
        Cursor { as_id, gfn, end }
    }

    /// The next frame to walk.
    pub(crate) fn gfn(&self) -> u64 {
        self.gfn
    }

    /// Frames left to walk.
    pub(crate) fn left(&self) -> u64 {
        self.end.saturating_sub(self.gfn)
    }

    /// Whether every frame has been walked.
    pub(crate) fn done(&self) -> bool {
        self.gfn >= self.end
    }

    /// Moves past `n` frames (at most to the end).
    pub(crate) fn advance(&mut self, n: u64) {
        self.gfn = self.gfn.saturating_add(n).min(self.end);
    }

    /// Moves to the end: nothing is left to walk.
    pub(crate) fn finish(&mut self) {
        self.gfn = self.end;
    }

    /// Moves to address space `as_id`, frames `gfn..end`.
    pub(crate) fn restart(&mut self, as_id: u8, gfn: u64, end: u64) {
        *self = Cursor::new(as_id, gfn, end);
    }

    /// Walks a batch from the cursor (see [`walk`]).
    pub(crate) fn walk<'a>(
        &mut self,
        vm: &Vm,
        fault: bool,
        scratch: &'a mut Scratch,
    ) -> Result<Met<'a>> {
        let gfn = self.gfn;
        Ok(
            match walk(vm, self.as_id, gfn, self.left(), fault, scratch)? {
                Found::Pages(walked) => {
                    if walked.entries.is_empty() {
                        // Every entry covers a page or more: never stall.
                        self.advance(1);
                    }
                    Met::Pages(walked)
                }
                Found::NoSlot { next } => {
                    let end = match next {
                        Some(base) if base > gfn => base.min(self.end),
                        // A memslot came since the walk looked: on to the next
                        // page.
                        Some(_) => gfn + 1,
                        None => self.end,
                    };
                    Met::Hole {
                        gfn,
                        pages: end - gfn,
                    }
                }
                Found::MmGone => Met::MmGone,
            },
        )
    }
}
