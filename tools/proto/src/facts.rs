// SPDX-License-Identifier: GPL-2.0

//! What a page walk says about guest pages, and what that means as a reply.
//!
//! The module's page walks report plain facts (a frame, a folio's shape, a
//! page-table level, whether anything is mapped); [`page_reply`] is where
//! those facts become a translation, or the reason there is none.  It is
//! the same code in the module and in the host tests.

use crate::reply::{Kind, MapLevel, Reply, Share, Step, Translation};
use crate::request::{Reason, PAGE_SHIFT};

/// Bytes in a base page.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Largest folio order a reply tells: `size` is `PAGE_SIZE << order`, which
/// must not overflow.
const MAX_ORDER: u32 = 51;

/// What one entry of a page walk says about `pages` consecutive guest
/// pages: the same facts for each, and host frames `pfn..` when present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFacts {
    /// Host frame of the first page (when `present`).
    pub pfn: u64,
    /// Guest pages the entry covers (at least one is told).
    pub pages: u32,
    /// Frames are mapped there (a folio's, or a special mapping's).
    pub present: bool,
    /// Nothing is there, and no VMA either.
    pub no_vma: bool,
    /// `VM_IO | VM_PFNMAP` memory: frames told by the mapping alone.
    pub pfnmap: bool,
    /// A private page of a guest_memfd memslot, read from the guest_memfd.
    pub gmem: bool,
    /// Device memory with struct pages (fsdax, device-dax).
    pub devmap: bool,
    /// The folio is a hugetlbfs page.
    pub hugetlb: bool,
    /// The folio has more than one page.
    pub large: bool,
    /// The shared zero page, or the huge zero page.
    pub zero: bool,
    /// A KSM page.
    pub ksm: bool,
    /// Faulting it in failed for want of memory (`ENOMEM` from gup).
    pub no_memory: bool,
    /// Frames are mapped there, but with no page the walk may read: no
    /// struct page, or a special entry outside `VM_PFNMAP` memory
    /// (`VM_MIXEDMAP`).  Told as [`Reason::Pfnmap`], without the frames.
    pub no_page: bool,
    /// NUMA node of the frames (`u32::MAX`: not known).
    pub nid: u32,
    /// Order of the folio, or of the mapping for frames without one.
    pub order: u32,
    /// How the VMM's page tables map the pages.
    pub level: MapLevel,
}

// `MapLevel` is made by reply.rs's `named!`, which derives no `Default`.
#[allow(clippy::derivable_impls)]
impl Default for MapLevel {
    fn default() -> MapLevel {
        MapLevel::None
    }
}

/// A memslot, as the VMM set it up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotFacts {
    /// First guest frame.
    pub base_gfn: u64,
    /// Guest pages in it.
    pub npages: u64,
    /// Host virtual address of `base_gfn` (`userspace_addr`).
    pub hva: u64,
    /// `KVM_MEM_*` flags.
    pub flags: u32,
    /// Memslot id.
    pub id: u16,
    /// Address space.
    pub as_id: u16,
}

impl SlotFacts {
    /// `KVM_MEM_GUEST_MEMFD`: private pages live in a guest_memfd.
    pub const GUEST_MEMFD: u32 = 1 << 2;

    /// Guest frame number just past the memslot.
    pub fn end(&self) -> u64 {
        self.base_gfn.saturating_add(self.npages)
    }

    /// Whether the memslot holds guest frame `gfn`.
    pub fn holds(&self, gfn: u64) -> bool {
        self.base_gfn <= gfn && gfn < self.end()
    }

    /// Whether some of its pages may be private, in a guest_memfd.
    pub fn has_gmem(&self) -> bool {
        self.flags & Self::GUEST_MEMFD != 0
    }

    /// Host virtual address of guest frame `gfn` of the memslot.
    pub fn hva_of(&self, gfn: u64) -> u64 {
        self.hva
            .wrapping_add(gfn.wrapping_sub(self.base_gfn) << PAGE_SHIFT)
    }
}

impl PageFacts {
    /// Whether [`page_reply`] tells the pages as a translation (frames
    /// mapped, with pages the walk read), rather than why there is none.
    pub fn told(&self) -> bool {
        self.present && !self.no_page
    }
}

/// What the host side of a reply is: the kind of memory, its sharing.
fn kind(page: &PageFacts) -> Kind {
    if page.gmem {
        Kind::Gmem
    } else if page.devmap {
        Kind::Dax
    } else if page.pfnmap {
        Kind::Pfnmap
    } else if page.hugetlb {
        Kind::Hugetlb
    } else if page.large {
        Kind::Thp
    } else {
        Kind::Base
    }
}

fn share(page: &PageFacts) -> Share {
    if page.zero {
        Share::Zero
    } else if page.ksm {
        Share::Ksm
    } else {
        Share::None
    }
}

/// Builds in `reply` the reply for `page`, an entry of a walk of `slot`
/// from guest frame `gfn`, for the VMM `pid`; `offset` is the byte offset
/// of the address asked for within its page (0 for ranges), `fault`
/// whether pages were faulted in.  In place: a map builds one per entry
/// (see [`crate::runs`]).
pub fn page_reply(
    reply: &mut Reply,
    page: &PageFacts,
    slot: &SlotFacts,
    gfn: u64,
    offset: u64,
    pid: u32,
    fault: bool,
) {
    let pages = u64::from(page.pages.max(1));
    let gpa = (gfn << PAGE_SHIFT) | offset;
    if !page.told() {
        *reply = Reply::AddrErr {
            reason: no_page_reason(page, fault),
            gpa,
            pid: Some(pid),
            pages,
        };
        return;
    }
    *reply = Reply::Ok(translation(page, slot, gfn, offset, pid));
}

/// The translation `page_reply` builds for a page that is present (the
/// first of a stretch of base pages, say), whatever `page.present` says.
pub fn translation(
    page: &PageFacts,
    slot: &SlotFacts,
    gfn: u64,
    offset: u64,
    pid: u32,
) -> Translation {
    let pages = u64::from(page.pages.max(1));
    let gpa = (gfn << PAGE_SHIFT) | offset;
    let order = page.order.min(MAX_ORDER);
    Translation {
        phys: (page.pfn << PAGE_SHIFT) | offset,
        kind: kind(page),
        gpa,
        hva: slot.hva_of(gfn).wrapping_add(offset),
        pid,
        size: PAGE_SIZE << order,
        order: order as u8,
        node: page.nid,
        slot: slot.id,
        as_id: slot.as_id as u8,
        share: share(page),
        map: page.level,
        pages,
        step: Step::Up,
    }
}

/// Builds in `reply` the reply of the page at guest frame `gfn` of `slot`
/// on host frame `pfn`, whose facts are those of the page `first` tells (a
/// one-page translation [`page_reply`] built for a range, in the same
/// memslot): [`page_reply`]'s reply, without reading the facts again.  A
/// map of scattered base pages has a walk entry per page, most with the
/// facts of the one before.
pub fn frame_reply(reply: &mut Reply, first: &Translation, slot: &SlotFacts, gfn: u64, pfn: u64) {
    *reply = Reply::Ok(Translation {
        phys: pfn << PAGE_SHIFT,
        gpa: gfn << PAGE_SHIFT,
        hva: slot.hva_of(gfn),
        pages: 1,
        step: Step::Up,
        ..*first
    });
}

/// Why a page walk found no page it tells: what the VMA says first, then
/// what faulting it in said.
pub fn no_page_reason(page: &PageFacts, fault: bool) -> Reason {
    if page.no_vma {
        Reason::NoVma
    } else if page.gmem {
        // Never allocated in the guest_memfd; no mode allocates there.
        Reason::NotPresent
    } else if page.pfnmap || page.no_page {
        Reason::Pfnmap
    } else if page.no_memory {
        Reason::NoMem
    } else if fault {
        Reason::NoPage
    } else {
        // Without faulting, a page the walk finds unmapped is not there.
        Reason::NotPresent
    }
}
