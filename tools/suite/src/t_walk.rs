// SPDX-License-Identifier: GPL-2.0
//! The default (no-fault) probe reads the VMM's page tables and touches
//! nothing: pages marked idle stay idle, as idle page tracking reports; and
//! it says how each page is mapped, so a THP split into PTEs is still an
//! order-9 THP (kpageflags) but `map=pte` (smaps no longer counts it as
//! AnonHugePages).

use crate::check::ensure;
use crate::facility;
use crate::module::{ask, translate};
use crate::oracle;
use crate::pages::{check_slot, per_page, Page};
use crate::runner::Outcome;
use crate::vmm::Vmm;
use gfn_client::pagemap;
use gfn_proto::reply::{Kind, MapLevel};

const GPA: u64 = 0x4000_0000;

/// A THP whose PMD an mprotect inside it split: its pages are `kind=thp
/// order=9 map=pte`, the untouched THP next to it `map=pmd`.
pub fn pte_mapped_thp() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        &format!("thp:4M@{GPA:#x}"),
        "--mprotect",
        &format!("{:#x}", GPA + 0x1000),
    ])?;
    let map = per_page(&ask(&format!("{GPA:#x}+1024 pid={}", vmm.pid))?)?;
    // Frames, kinds and levels against pagemap, kpageflags and smaps.
    check_slot(&vmm, &vmm.slots[0], &map)?;
    for (i, page) in map.values().enumerate() {
        let want = if i < 512 {
            MapLevel::Pte
        } else {
            MapLevel::Pmd
        };
        ensure(
            matches!(page, Page::Ok(t) if t.kind == Kind::Thp && t.order == 9 && t.map == want),
            || format!("page {i}: {page:?}, want an order-9 THP mapped {want:?}"),
        )?;
    }
    let one = translate(&format!("{:#x} {}", GPA + 0x1234, vmm.pid))?;
    ensure(one.map == MapLevel::Pte && one.kind == Kind::Thp, || {
        format!("single address in the split THP: {one:?}")
    })?;
    vmm.stop()
}

/// Frames of the VMM's slots marked idle stay idle through a whole-VM map
/// and single-address lookups in the default mode (gup's FOLL_TOUCH would
/// mark every one accessed).
pub fn probe_keeps_pages_idle() -> Result<(), Outcome> {
    facility::page_idle()?;
    let vmm = Vmm::start(&[
        "--slot",
        &format!("anon:2M@{GPA:#x}"),
        "--slot",
        &format!("thp:4M@{:#x}", GPA + (2 << 20)),
    ])?;
    let mut pfns = Vec::new();
    for slot in &vmm.slots {
        let entries = pagemap::entries(vmm.pid, slot.hva, (slot.size / 4096) as usize)
            .map_err(|e| format!("pagemap: {e}"))?;
        pfns.extend(entries.iter().filter(|e| e.present).map(|e| e.pfn));
    }
    oracle::idle_mark(&pfns)?;
    // Only frames on an LRU list can be idle (a THP's head frame stands
    // for it); these are the ones the test watches.
    let marked: Vec<u64> = pfns
        .iter()
        .zip(oracle::idle(&pfns)?)
        .filter_map(|(pfn, idle)| idle.then_some(*pfn))
        .collect();
    ensure(marked.len() >= 256, || {
        format!(
            "only {} of {} frames could be marked idle",
            marked.len(),
            pfns.len()
        )
    })?;

    let map = per_page(&ask(&format!("all pid={}", vmm.pid))?)?;
    for slot in &vmm.slots {
        check_slot(&vmm, slot, &map)?;
    }
    for off in [0x80, 0x3_f000, 0x20_0040, 0x5f_f000] {
        translate(&format!("{:#x} {}", GPA + off, vmm.pid))?;
    }
    let still = oracle::idle(&marked)?;
    let touched = still.iter().filter(|idle| !**idle).count();
    ensure(touched == 0, || {
        format!(
            "{touched} of {} idle frames were accessed by the probe",
            marked.len()
        )
    })?;
    println!("     {} frames stayed idle through the probe", marked.len());
    Ok(vmm.stop()?)
}
