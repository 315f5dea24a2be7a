// SPDX-License-Identifier: GPL-2.0

//! The VMM's memory: its address space referenced ([`Mm`]), its mmap lock
//! held as a lifetime ([`MmapReadGuard`]), and the entries page walks fill
//! ([`WalkEntry`]), whose facts cross as plain values
//! ([`crate::facts::PageFacts`]).

use super::ffi::{self, MmStruct, Page};
use crate::facts::PageFacts;
use crate::reply::MapLevel;
use core::ptr::NonNull;
use kernel::error::code::EINTR;
use kernel::error::Error;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// One entry of a page walk: consecutive guest pages with the same facts.
#[repr(transparent)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WalkEntry(ffi::WalkEntry);

impl WalkEntry {
    /// The entries of `out`, for the shim to fill.
    pub(super) fn raw(out: &mut [WalkEntry]) -> *mut ffi::WalkEntry {
        // `WalkEntry` is `repr(transparent)` over the C struct.
        out.as_mut_ptr().cast()
    }

    /// `pages` private pages of a guest_memfd that holds none of them:
    /// what a walk of the guest_memfd tells of pages never allocated.
    pub(crate) fn gmem_unallocated(pages: u32) -> WalkEntry {
        WalkEntry(ffi::WalkEntry {
            pages,
            flags: ffi::PAGE_GMEM,
            ..ffi::WalkEntry::default()
        })
    }

    /// Guest pages the entry covers (at least one).
    pub(crate) fn pages(&self) -> u32 {
        self.0.pages.max(1)
    }

    /// Whether the entry is one present page whose facts, its frame aside,
    /// are `other`'s, also one present page.
    pub(crate) fn same_page_facts(&self, other: &WalkEntry) -> bool {
        let (a, b) = (&self.0, &other.0);
        a.pages == 1
            && b.pages == 1
            && a.flags & ffi::PAGE_PRESENT != 0
            && (a.flags, a.nid, a.order, a.level, a.gup_err)
                == (b.flags, b.nid, b.order, b.level, b.gup_err)
    }

    /// Records on a page faulting could not get what gup said (an errno, or
    /// 0 when it got nothing without one).
    pub(crate) fn set_fault_error(&mut self, errno: i32) {
        self.0.gup_err = errno;
    }

    /// The host frame of the entry's first page (when present).
    pub(crate) fn pfn(&self) -> u64 {
        self.0.pfn
    }

    /// A stretch of base pages told by frame: the facts of its first page
    /// (one page, on the first frame) and the frames of all its pages, in
    /// `frames`, the walk's frames; `None` for any other entry.
    pub(crate) fn stretch<'f>(&self, frames: &'f [u64]) -> Option<(PageFacts, &'f [u64])> {
        if self.0.flags & ffi::PAGE_FRAMES == 0 {
            return None;
        }
        let at = usize::try_from(self.0.pfn).ok()?;
        let mine = frames.get(at..at.checked_add(self.0.pages as usize)?)?;
        let first = PageFacts {
            pfn: *mine.first()?,
            pages: 1,
            present: true,
            ..self.facts()
        };
        Some((first, mine))
    }

    /// What the entry says, as plain values; a stretch told by frame
    /// (see [`WalkEntry::stretch`]) says nothing present here.
    pub(crate) fn facts(&self) -> PageFacts {
        let e = &self.0;
        let has = |bit: u32| e.flags & bit != 0;
        PageFacts {
            pfn: e.pfn,
            pages: e.pages,
            present: has(ffi::PAGE_PRESENT) && !has(ffi::PAGE_FRAMES),
            no_vma: has(ffi::PAGE_NO_VMA),
            pfnmap: has(ffi::PAGE_PFNMAP),
            gmem: has(ffi::PAGE_GMEM),
            devmap: has(ffi::PAGE_DEVMAP),
            hugetlb: has(ffi::PAGE_HUGETLB),
            large: has(ffi::PAGE_LARGE),
            zero: has(ffi::PAGE_ZERO),
            ksm: has(ffi::PAGE_KSM),
            no_page: has(ffi::PAGE_NO_PAGE),
            no_memory: e.gup_err == ENOMEM.to_errno(),
            nid: e.nid,
            order: e.order,
            level: match e.level {
                ffi::LEVEL_PUD => MapLevel::Pud,
                ffi::LEVEL_PMD => MapLevel::Pmd,
                ffi::LEVEL_PTE => MapLevel::Pte,
                _ => MapLevel::None,
            },
        }
    }
}

/// A referenced address space (`mmget`): its page tables stay.
///
/// # Invariants
///
/// `mm` holds a reference taken by `mmget_not_zero`, dropped by `drop`.
pub(crate) struct Mm {
    mm: NonNull<MmStruct>,
}

impl Mm {
    /// Owns the reference `mm`.
    ///
    /// # Safety
    ///
    /// `mm` must hold an `mmget` reference, which the new `Mm` owns.
    pub(super) unsafe fn from_raw(mm: NonNull<MmStruct>) -> Mm {
        // INVARIANT: by the contract.
        Mm { mm }
    }

    /// Takes the mmap lock for reading; `EINTR` when a fatal signal ends
    /// the wait.
    pub(crate) fn read_lock(&self) -> Result<MmapReadGuard<'_>> {
        // SAFETY: `self.mm` is referenced (type invariant).
        if unsafe { ffi::gfn_mmap_read_lock_killable(self.mm.as_ptr()) } != 0 {
            return Err(EINTR);
        }
        // INVARIANT: the lock was just taken.
        Ok(MmapReadGuard { mm: self })
    }

    /// Faults in the pages at `hva` for reading, as many as `refs` has
    /// room for (its values mean nothing: it is where the page references
    /// are taken, and dropped before this returns), taking and dropping the
    /// mmap lock itself (faulting may drop it while it waits): what gup
    /// said, the pages from `hva` on it faulted in or its error, as it is.
    /// `&mut self`: no [`MmapReadGuard`] of this `Mm` is alive, since the
    /// shim takes the lock.
    pub(crate) fn fault_in(&mut self, hva: u64, refs: &mut [usize]) -> Result<u32> {
        let nr = u32::try_from(refs.len()).unwrap_or(u32::MAX);
        // SAFETY: `self.mm` is referenced (type invariant); `refs` has room
        // for `nr` page pointers; the shim drops every page reference it
        // takes.
        let got = unsafe {
            ffi::gfn_fault_in(
                self.mm.as_ptr(),
                hva as usize,
                nr,
                refs.as_mut_ptr().cast::<*mut Page>(),
            )
        };
        match u32::try_from(got) {
            Ok(got) => Ok(got),
            Err(_) => Err(Error::from_errno(got as c_int)),
        }
    }
}

impl Drop for Mm {
    fn drop(&mut self) {
        // SAFETY: `self.mm` holds the reference (type invariant), dropped
        // once here.
        unsafe { ffi::gfn_mm_put(self.mm.as_ptr()) }
    }
}

/// The mmap lock of an [`Mm`], held for reading.
///
/// # Invariants
///
/// This task holds `mm`'s mmap lock for reading, until `drop`.
pub(crate) struct MmapReadGuard<'a> {
    mm: &'a Mm,
}

impl MmapReadGuard<'_> {
    /// Describes the `nr` pages at `hva` from the page tables into `out`
    /// (as many entries as it holds) and, for stretches of base pages,
    /// `frames` (as many frames as it holds; none, and no stretches, when
    /// it is empty), touching nothing; returns the entries filled, which
    /// cover fewer than `nr` pages when `out` or `frames` filled up.
    pub(crate) fn walk<'a>(
        &self,
        hva: u64,
        nr: u32,
        out: &'a mut [WalkEntry],
        frames: &mut [u64],
    ) -> Result<&'a [WalkEntry]> {
        let max = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let max_frames = u32::try_from(frames.len()).unwrap_or(u32::MAX);
        // SAFETY: the mmap lock is held (type invariant); `out` holds `max`
        // entries and `frames` `max_frames` frames, all the shim writes
        // (none when `max_frames` is 0).
        let n = unsafe {
            ffi::gfn_page_walk(
                self.mm.mm.as_ptr(),
                hva as usize,
                nr,
                WalkEntry::raw(out),
                max,
                frames.as_mut_ptr(),
                max_frames,
            )
        };
        entries(n, out)
    }
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held (type invariant), released once here.
        unsafe { ffi::gfn_mmap_read_unlock(self.mm.mm.as_ptr()) }
    }
}

/// The first `n` entries of `out`, or the error `n` is.
fn entries(n: kernel::ffi::c_long, out: &[WalkEntry]) -> Result<&[WalkEntry]> {
    match usize::try_from(n) {
        Ok(n) => Ok(&out[..n.min(out.len())]),
        Err(_) => Err(Error::from_errno(n as c_int)),
    }
}

/// Lets other tasks run, between the walks of a long call.
pub(crate) fn resched() {
    // SAFETY: `cond_resched` may sleep; no lock of this code is held
    // across it (its callers hold no guard).
    unsafe { ffi::gfn_resched() }
}

/// Whether a fatal signal is pending for this task: a long call's cue to
/// end (with `EINTR`, its caller decides).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: `fatal_signal_pending(current)` only reads this task's state.
    unsafe { ffi::gfn_fatal_signal_pending() }
}
