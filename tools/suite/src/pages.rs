// SPDX-License-Identifier: GPL-2.0
//! A map reply expanded to one answer per guest page, and the check of a
//! memslot's pages against the VMM's pagemap and /proc/kpageflags.

use crate::oracle;
use crate::vmm::{Slot, Vmm};
use gfn_client::pagemap;
use gfn_proto::reply::{MapLevel, Reply, Share, Translation};
use gfn_proto::request::Reason;
use std::collections::BTreeMap;

/// What the module said about one guest page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Translated; the addresses are those of this page, `pages` is 1.
    Ok(Translation),
    Err(Reason),
}

/// `replies` with every run a reply per page (a run of errors too), other
/// replies as they are: what two forms of the same walk must agree on,
/// whatever runs and lists each made.
pub fn pages_of(replies: &[Reply]) -> Vec<Reply> {
    let mut out = Vec::new();
    for r in replies {
        match *r {
            Reply::Ok(t) if t.pages <= MAX_EXPAND => {
                out.extend((0..t.pages).map(|i| Reply::Ok(t.page(i))))
            }
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } if pages <= MAX_EXPAND => out.extend((0..pages).map(|i| Reply::AddrErr {
                reason,
                gpa: gpa + i * 4096,
                pid,
                pages: 1,
            })),
            other => out.push(other),
        }
    }
    out
}

/// Largest run this expands; larger ones are holes no test walks.
const MAX_EXPAND: u64 = 1 << 22;

/// Expands the run lines of `replies` into one entry per guest frame
/// number.  Fails on a line of another form, or on a page told twice.
pub fn per_page(replies: &[Reply]) -> Result<BTreeMap<u64, Page>, String> {
    let mut map = BTreeMap::new();
    let mut insert = |gfn: u64, page: Page| match map.insert(gfn, page) {
        None => Ok(()),
        Some(old) => Err(format!("gfn {gfn:#x} told twice: {old:?} and {page:?}")),
    };
    for r in replies {
        match *r {
            Reply::Ok(t) if t.pages <= MAX_EXPAND => {
                for i in 0..t.pages {
                    insert((t.gpa >> 12) + i, Page::Ok(t.page(i)))?;
                }
            }
            Reply::AddrErr {
                reason, gpa, pages, ..
            } if pages <= MAX_EXPAND => {
                for i in 0..pages {
                    insert((gpa >> 12) + i, Page::Err(reason))?;
                }
            }
            _ => return Err(format!("unexpected line in a map: {r}")),
        }
    }
    Ok(map)
}

/// How many pages of a slot were present and absent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub present: u64,
    pub absent: u64,
}

/// Checks every page of `slot` in `map` (a no-fault map of `vmm`'s VM)
/// against the VMM's pagemap, read in one go: a present page must be
/// reported with pagemap's frame, the VMM's host virtual address, the
/// slot's id and address space and kpageflags' kind; an absent one as
/// not present.
pub fn check_slot(vmm: &Vmm, slot: &Slot, map: &BTreeMap<u64, Page>) -> Result<Counts, String> {
    let n = (slot.size / 4096) as usize;
    let entries = pagemap::entries(vmm.pid, slot.hva, n)
        .map_err(|e| format!("pagemap of {}: {e}", vmm.pid))?;
    let mut counts = Counts::default();
    for (i, e) in entries.iter().enumerate() {
        let gfn = (slot.gpa >> 12) + i as u64;
        let hva = slot.hva + i as u64 * 4096;
        let what = map.get(&gfn);
        let bad = |why: &str| {
            Err(format!(
                "gfn {gfn:#x} (slot {}): {why}: module {what:?}, pagemap {e:?}",
                slot.id
            ))
        };
        match what {
            Some(Page::Ok(t)) if e.present => {
                counts.present += 1;
                if t.phys >> 12 != e.pfn {
                    return bad("frame differs");
                }
                if (t.hva, t.pid, t.slot, t.as_id) != (hva, vmm.pid, slot.id, slot.as_id) {
                    return bad("hva, pid, slot or address space differs");
                }
                if t.size != 4096 << t.order {
                    return bad("size is not 4 KiB << order");
                }
                if oracle::kind(e.pfn)? != t.kind {
                    return bad("kpageflags tells another kind");
                }
            }
            Some(Page::Err(Reason::NotPresent)) if !e.present => counts.absent += 1,
            _ => return bad("module and pagemap disagree"),
        }
    }
    check_levels(vmm, slot, map)?;
    Ok(counts)
}

/// Checks how the pages of `slot` in `map` are said to be mapped against
/// the VMM's smaps, per mapping: a hugetlb mapping maps every page at its
/// page size (`pmd` for 2 MiB, `pud` for 1 GiB); in any other, the pages
/// told `pmd` (the huge zero page aside) are exactly its AnonHugePages and
/// ShmemPmdMapped, the PMD-mapped THPs smaps counts, and the rest are
/// `pte`.
fn check_levels(vmm: &Vmm, slot: &Slot, map: &BTreeMap<u64, Page>) -> Result<(), String> {
    let end = slot.hva + slot.size;
    let vmas = oracle::smaps(vmm.pid, slot.hva, end)?;
    if vmas.iter().any(|v| v.start < slot.hva || v.end > end) {
        return Ok(()); // a mapping wider than the slot: smaps cannot tell
    }
    for v in &vmas {
        let first = (slot.gpa + (v.start - slot.hva)) >> 12;
        let pages = (v.end - v.start) >> 12;
        let mut told = [0u64; 3]; // pte, pmd (the huge zero page aside), pud
        for page in map.range(first..first + pages).map(|(_, p)| p) {
            match page {
                Page::Ok(t) if t.map == MapLevel::Pmd && t.share == Share::Zero => {}
                Page::Ok(t) => match t.map {
                    MapLevel::Pte => told[0] += 1,
                    MapLevel::Pmd => told[1] += 1,
                    MapLevel::Pud => told[2] += 1,
                    MapLevel::None => {}
                },
                Page::Err(_) => {}
            }
        }
        let page_kib = v.kib("KernelPageSize")?;
        let want = match page_kib {
            2048 => [0, told[1], 0],
            1_048_576 => [0, 0, told[2]],
            _ => {
                // PMD-mapped THPs: anonymous ones, and shmem's (memfd).
                let pmd = (v.kib("AnonHugePages")? + v.kib("ShmemPmdMapped").unwrap_or(0)) / 4;
                [(told[0] + told[1]).saturating_sub(pmd), pmd, 0]
            }
        };
        if told != want {
            return Err(format!(
                "slot {} mapping {:#x}-{:#x} (page size {page_kib} KiB): pages told pte/pmd/pud {told:?}, smaps says {want:?}",
                slot.id, v.start, v.end
            ));
        }
    }
    Ok(())
}

/// Resident KiB of the mapping holding `hva` in process `pid`, from
/// /proc/PID/smaps: counted by walking the page tables, so exact, and
/// blind to whatever else the VMM process does meanwhile.
pub fn rss_kib(pid: u32, hva: u64) -> Result<u64, String> {
    let vmas = oracle::smaps(pid, hva, hva + 1)?;
    let vma = vmas
        .first()
        .ok_or_else(|| format!("no mapping of {hva:#x} in {pid}'s smaps"))?;
    vma.kib("Rss")
}
