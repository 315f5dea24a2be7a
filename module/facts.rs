// SPDX-License-Identifier: GPL-2.0

//! What the shim's facts about a page mean as a reply: one entry of a page
//! walk (a run of pages with the same facts) becomes a translation, or the
//! reason none could be made.

use crate::reply::{Kind, MapLevel, Reply, Share, Translation};
use crate::request::{Reason, PAGE_SHIFT};
use crate::shim::{self, ShimPage, ShimSlot};
use kernel::prelude::*;

/// Bytes in a base page.
pub(crate) const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// What a reply is before [`page_reply`] builds one in it; never printed.
pub(crate) const BLANK: Reply = Reply::Vm {
    pid: 0,
    slots: 0,
    memory: 0,
};

/// Builds in `reply` the reply for one entry the shim walked (`page.pages`
/// pages from guest frame `gfn`); `offset` is the byte offset of the
/// address asked for within the page (0 for ranges).  In place, as a map
/// builds one per entry (see `map.rs`).
pub(crate) fn page_reply(
    reply: &mut Reply,
    page: &ShimPage,
    slot: &ShimSlot,
    gfn: u64,
    offset: u64,
    pid: u32,
    fault: bool,
) {
    if page.err != 0 {
        *reply = Reply::AddrErr {
            reason: no_page_reason(page, fault),
            gpa: (gfn << PAGE_SHIFT) | offset,
            pid: Some(pid),
            pages: page.pages.max(1).into(),
        };
        return;
    }
    let kind = if page.flags & shim::PAGE_GMEM != 0 {
        Kind::Gmem
    } else if page.flags & shim::PAGE_DEVMAP != 0 {
        Kind::Dax
    } else if page.flags & shim::PAGE_PFNMAP != 0 {
        Kind::Pfnmap
    } else if page.flags & shim::PAGE_HUGETLB != 0 {
        Kind::Hugetlb
    } else if page.flags & shim::PAGE_LARGE != 0 {
        Kind::Thp
    } else {
        Kind::Base
    };
    let share = if page.flags & shim::PAGE_ZERO != 0 {
        Share::Zero
    } else if page.flags & shim::PAGE_KSM != 0 {
        Share::Ksm
    } else {
        Share::None
    };
    let order = page.order.min(51);
    let map = match page.level {
        shim::LEVEL_PUD => MapLevel::Pud,
        shim::LEVEL_PMD => MapLevel::Pmd,
        shim::LEVEL_PTE => MapLevel::Pte,
        _ => MapLevel::None,
    };
    *reply = Reply::Ok(Translation {
        phys: (page.pfn << PAGE_SHIFT) | offset,
        kind,
        gpa: (gfn << PAGE_SHIFT) | offset,
        hva: slot
            .hva
            .wrapping_add(gfn.wrapping_sub(slot.base_gfn) << PAGE_SHIFT)
            .wrapping_add(offset),
        pid,
        size: PAGE_SIZE << order,
        order: order as u8,
        node: page.nid,
        slot: slot.id,
        as_id: slot.as_id as u8,
        share,
        map,
        pages: page.pages.max(1).into(),
    });
}

/// Why the shim found no page: what the VMA says first, then gup's error.
fn no_page_reason(page: &ShimPage, fault: bool) -> Reason {
    if page.flags & shim::PAGE_NO_VMA != 0 {
        Reason::NoVma
    } else if page.flags & shim::PAGE_GMEM != 0 {
        // Never allocated in the guest_memfd; no mode allocates there.
        Reason::NotPresent
    } else if page.flags & shim::PAGE_PFNMAP != 0 {
        Reason::Pfnmap
    } else if page.err == ENOMEM.to_errno() {
        Reason::NoMem
    } else if fault {
        Reason::NoPage
    } else {
        // Without faulting, a page the walk finds unmapped is not there.
        Reason::NotPresent
    }
}
