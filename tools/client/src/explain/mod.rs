// SPDX-License-Identifier: GPL-2.0
//! Why a VM is not huge: for each memslot, how much of it KVM could map by
//! 2 MiB and 1 GiB pages and what keeps the rest from it, from facts the
//! module and the host give.
//!
//! KVM maps a guest page huge at a level only where all of these hold
//! (x86's `kvm_mmu_hugepage_adjust` and the memslot's `lpage_info`): the
//! huge page lies whole in the memslot, the memslot's guest and host
//! addresses agree modulo its size, the memslot does not log dirty pages,
//! and the host maps the memory at least that huge (the VMM's page tables:
//! `map=`; a guest_memfd: its folio).  Each whole aligned huge page of a
//! memslot gets the first reason of that list that keeps it small, then
//! what the host says of its own mapping: not present, MADV_NOHUGEPAGE,
//! not THP-eligible, base pages although eligible, a huge folio mapped by
//! PTEs, a huge host page smaller than the level.  Where a reason of the
//! slot's own (congruence, dirty logging) keeps pages small, what the host
//! would still keep small of them is told as well (`behind`): fixing the
//! slot alone may not be enough.  What the module cannot
//! see per page (KVM's own mapping, the NX-huge-page splits) is told from
//! KVM's per-VM counts beside it.

mod host;
mod report;

pub use host::{chosen, parse_smaps, Host, Pool, Vma};
pub use report::VmReport;

use crate::units::size;
use gfn_proto::reply::{Kind, MapLevel, Reply};
use gfn_proto::request::Reason as MapError;
use serde::Serialize;

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;

/// The levels explained: name, bytes, the host mapping level that maps it.
const LEVELS: [(&str, u64, MapLevel); 2] = [
    ("2m", 2 << 20, MapLevel::Pmd),
    ("1g", 1 << 30, MapLevel::Pud),
];

/// `KVM_MEM_LOG_DIRTY_PAGES`.
pub const LOG_DIRTY_PAGES: u32 = 1;

/// A memslot, as `slots` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub as_id: u8,
    pub id: u16,
    pub gpa: u64,
    pub size: u64,
    pub hva: u64,
    pub flags: u32,
}

/// Why part of a memslot cannot be mapped huge at a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Not in a whole aligned huge page of guest memory inside the slot.
    Edge,
    /// The slot's guest and host addresses differ modulo the level.
    Incongruent,
    /// The slot logs dirty pages: KVM maps it by 4 KiB pages.
    DirtyLog,
    /// Some of its pages have no host page (never touched, reclaimed).
    NotPresent,
    /// Some of its pages have no host mapping at all (no VMA).
    Unmapped,
    /// The VMM advised MADV_NOHUGEPAGE.
    Nohugepage,
    /// The host's THP policy does not allow THPs there.
    NotEligible,
    /// THP-eligible, but backed by base pages.
    BasePages,
    /// A huge folio that the host maps by PTEs.
    PteMapped,
    /// The host maps it huge, but by pages smaller than the level.
    HostSmaller,
}

impl Reason {
    /// The reason's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Edge => "edge",
            Reason::Incongruent => "incongruent",
            Reason::DirtyLog => "dirty-log",
            Reason::NotPresent => "not-present",
            Reason::Unmapped => "unmapped",
            Reason::Nohugepage => "nohugepage",
            Reason::NotEligible => "not-eligible",
            Reason::BasePages => "base-pages",
            Reason::PteMapped => "pte-mapped",
            Reason::HostSmaller => "host-smaller",
        }
    }
}

/// Bytes of a slot kept from a level for one reason, and the facts why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Because {
    pub reason: Reason,
    pub bytes: u64,
    pub detail: String,
}

/// One level of a slot: how much could be huge, what keeps the rest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelReport {
    pub level: &'static str,
    /// Bytes KVM could map at this level: nothing keeps them from it.
    pub huge: u64,
    pub reasons: Vec<Because>,
    /// What the host would still keep small of the bytes a reason of the
    /// slot's own (`incongruent`, `dirty-log`) keeps small: nothing when
    /// the host maps them huge.  Bytes kept small by both of the slot's
    /// reasons are counted under each.
    pub behind: Vec<Because>,
}

impl Reason {
    /// Whether the reason is the memslot's own, whatever the host does.
    pub fn of_the_slot(self) -> bool {
        matches!(self, Reason::Incongruent | Reason::DirtyLog)
    }
}

/// Adds `n` bytes kept small for `reason` to `list`.
fn add(list: &mut Vec<Because>, reason: Reason, n: u64, detail: String) {
    if n == 0 {
        return;
    }
    match list.iter_mut().find(|b| b.reason == reason) {
        Some(b) => b.bytes += n,
        None => list.push(Because {
            reason,
            bytes: n,
            detail,
        }),
    }
}

/// What `explain` tells of a memslot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlotReport {
    #[serde(rename = "as")]
    pub as_id: u8,
    pub id: u16,
    pub gpa: u64,
    pub size: u64,
    pub hva: u64,
    pub flags: u32,
    /// The host backing seen, by bytes: "thp order 9 pmd".
    pub backing: Vec<(String, u64)>,
    pub levels: Vec<LevelReport>,
    /// Facts of the host beside it (hugetlb pools).
    pub notes: Vec<String>,
}

/// What the host says of one huge page's worth of a slot's memory.
#[derive(Clone, Copy, Debug, Default)]
struct Chunk {
    /// Pages translated.
    present: u64,
    /// Pages the host maps at least at the chunk's level.
    huge: u64,
    /// Pages in folios at least that huge but mapped smaller.
    pte_mapped: u64,
    /// Pages the host maps huge, but smaller than the level.
    smaller: u64,
    /// Present pages in hugetlb pages.
    hugetlb: u64,
    /// Present pages of kinds THP policy does not decide (hugetlb,
    /// pfnmap, guest_memfd, DAX).
    other: u64,
    /// Pages with no host mapping (`no-vma`).
    unmapped: u64,
}

/// A slot's explanation, built from its pages as they stream by (memory
/// per slot: a few words per huge page of it).
pub struct Explainer {
    slot: Slot,
    /// Per level: the whole aligned huge pages of the slot, first at
    /// `first[level]`.
    chunks: [Vec<Chunk>; 2],
    first: [u64; 2],
    /// Bytes by (kind, folio order, mapping level), in the order seen.
    backing: Vec<((Kind, u8, MapLevel), u64)>,
}

impl Slot {
    /// The memslot a `slot` reply tells, if it is one.
    pub fn of(reply: &Reply) -> Option<Slot> {
        match *reply {
            Reply::Slot {
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
                ..
            } => Some(Slot {
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Because {
    /// `reason: detail` (the bytes are the caller's to place).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

impl Explainer {
    /// Starts explaining `slot`.
    pub fn new(slot: Slot) -> Explainer {
        let mut first = [0; 2];
        let chunks = std::array::from_fn(|i| {
            let bytes = LEVELS[i].1;
            let start = slot.gpa.div_ceil(bytes) * bytes;
            let end = (slot.gpa + slot.size) / bytes * bytes;
            first[i] = start;
            vec![Chunk::default(); (end.saturating_sub(start) / bytes) as usize]
        });
        Explainer {
            slot,
            chunks,
            first,
            backing: Vec::new(),
        }
    }

    /// Counts one reply of a map of the slot's guest range.
    pub fn add(&mut self, reply: &Reply) {
        match reply {
            Reply::Ok(t) => {
                // Named once the map is told, not per reply (a base-page
                // map may be a reply per page).
                let key = (t.kind, t.order, t.map);
                let bytes = t.pages.saturating_mul(PAGE);
                match self.backing.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, b)) => *b = b.saturating_add(bytes),
                    None => self.backing.push((key, bytes)),
                }
                // A guest_memfd's pages are in no page table: its folio is
                // what KVM maps from.
                let host_level = match t.map {
                    MapLevel::None if t.kind == Kind::Gmem => level_of_order(t.order),
                    m => m,
                };
                self.spread(t.gpa, t.pages, |c, n, level| {
                    c.present += n;
                    if at_least(host_level, level) {
                        c.huge += n;
                    } else if t.order >= 9 && host_level == MapLevel::Pte {
                        c.pte_mapped += n;
                    } else if host_level != MapLevel::Pte && host_level != MapLevel::None
                        || t.order > 0
                    {
                        c.smaller += n;
                    }
                    if !matches!(t.kind, Kind::Base | Kind::Thp) {
                        c.other += n;
                    }
                    if t.kind == Kind::Hugetlb {
                        c.hugetlb += n;
                    }
                });
            }
            Reply::AddrErr {
                reason: MapError::NoVma,
                gpa,
                pages,
                ..
            } => self.spread(*gpa, *pages, |c, n, _| c.unmapped += n),
            _ => {}
        }
    }

    /// Hands `f` each whole aligned huge page, at each level, that pages
    /// `gpa..` (`pages` of them) fall in, with how many of them do.
    fn spread(&mut self, gpa: u64, pages: u64, mut f: impl FnMut(&mut Chunk, u64, MapLevel)) {
        for (i, &(_, bytes, level)) in LEVELS.iter().enumerate() {
            let start = gpa & !(PAGE - 1);
            let end = start.saturating_add(pages.saturating_mul(PAGE));
            let mut at = start.max(self.first[i]);
            while at < end {
                let idx = ((at - self.first[i]) / bytes) as usize;
                let Some(c) = self.chunks[i].get_mut(idx) else {
                    break;
                };
                let chunk_end = self.first[i] + (idx as u64 + 1) * bytes;
                f(c, (end.min(chunk_end) - at) / PAGE, level);
                at = chunk_end;
            }
        }
    }

    /// The explanation, with the VMM's mappings and the host's settings.
    pub fn finish(self, vmas: &[Vma], host: &Host) -> SlotReport {
        let s = self.slot;
        let mut levels = Vec::new();
        let mut hugetlb = 0;
        for (i, &(name, bytes, _)) in LEVELS.iter().enumerate() {
            let mut huge = 0;
            let mut reasons: Vec<Because> = Vec::new();
            let mut behind: Vec<Because> = Vec::new();
            let whole = self.chunks[i].len() as u64 * bytes;
            add(
                &mut reasons,
                Reason::Edge,
                s.size - whole,
                if whole == 0 {
                    format!(
                        "the slot holds no whole {} of guest memory aligned to {}",
                        size(bytes),
                        size(bytes)
                    )
                } else {
                    format!(
                        "at the slot's ends, outside its whole {}-aligned guest pages",
                        size(bytes)
                    )
                },
            );
            let skew = s.hva.wrapping_sub(s.gpa) & (bytes - 1);
            let mut of_the_slot = Vec::new();
            if skew != 0 {
                of_the_slot.push((
                    Reason::Incongruent,
                    format!(
                        "host address {:#x} is {} off the {} alignment of guest address {:#x}: \
                         KVM maps a guest page huge only where both agree modulo its size",
                        s.hva,
                        size(skew.min(bytes - skew)),
                        size(bytes),
                        s.gpa
                    ),
                ));
            }
            if s.flags & LOG_DIRTY_PAGES != 0 {
                of_the_slot.push((
                    Reason::DirtyLog,
                    "dirty logging is on (KVM_MEM_LOG_DIRTY_PAGES): KVM maps what the guest \
                     faults in by 4 KiB pages"
                        .to_string(),
                ));
            }
            for (idx, c) in self.chunks[i].iter().enumerate() {
                let gpa = self.first[i] + idx as u64 * bytes;
                let hva = s.hva + (gpa - s.gpa);
                if i == 0 {
                    hugetlb += c.hugetlb;
                }
                let host_side = on_the_host(c, bytes, vma_at(vmas, hva), host);
                for (reason, detail) in &of_the_slot {
                    add(&mut reasons, *reason, bytes, detail.clone());
                }
                match (of_the_slot.is_empty(), host_side) {
                    (false, Some((reason, detail))) => add(&mut behind, reason, bytes, detail),
                    (false, None) => {}
                    (true, Some((reason, detail))) => add(&mut reasons, reason, bytes, detail),
                    (true, None) => huge += bytes,
                }
            }
            levels.push(LevelReport {
                level: name,
                huge,
                reasons,
                behind,
            });
        }
        let mut notes = Vec::new();
        let in_hugetlb = vma_at(vmas, s.hva).is_some_and(|v| v.has("ht"));
        if hugetlb > 0 || in_hugetlb {
            for p in &host.pools {
                notes.push(format!(
                    "hugetlb pool of {} pages: {} pages, {} free",
                    size(p.size),
                    p.total,
                    p.free
                ));
            }
        }
        SlotReport {
            as_id: s.as_id,
            id: s.id,
            gpa: s.gpa,
            size: s.size,
            hva: s.hva,
            flags: s.flags,
            backing: self
                .backing
                .into_iter()
                .map(|((kind, order, map), n)| {
                    (
                        format!("{} order {order} {}", kind.as_str(), map.as_str()),
                        n,
                    )
                })
                .collect(),
            levels,
            notes,
        }
    }
}

/// Why the host keeps a whole aligned huge page of `bytes` small, with
/// the facts of its pages (`c`), the VMM's mapping there and the host's
/// settings; `None` when the host maps all of it at least that huge.
fn on_the_host(c: &Chunk, bytes: u64, vma: Option<&Vma>, host: &Host) -> Option<(Reason, String)> {
    let pages = bytes / PAGE;
    if c.huge == pages {
        return None;
    }
    // Memory that only base pages back, where the THP policy allows none:
    // the policy, whether or not all of it is present.
    let base_only = c.huge == 0 && c.pte_mapped == 0 && c.smaller == 0 && c.other == 0;
    if let Some(why) = thp_policy(vma, host).filter(|_| base_only) {
        return Some(why);
    }
    Some(if c.unmapped > 0 {
        (
            Reason::Unmapped,
            "part of it has no host mapping (no VMA of the VMM at its host address)".to_string(),
        )
    } else if c.present < pages {
        (
            Reason::NotPresent,
            "not all of it is present on the host (never touched, reclaimed or swapped out)"
                .to_string(),
        )
    } else if c.pte_mapped > 0 {
        (
            Reason::PteMapped,
            "huge folios (2 MiB or more) that the VMM's page tables map by PTEs \
             (split by mprotect, a partial munmap or mremap)"
                .to_string(),
        )
    } else if c.smaller > 0 {
        (
            Reason::HostSmaller,
            format!(
                "the host backs or maps it by pages smaller than {} but more than 4 KiB \
                 (huge pages of a smaller size, multi-size THPs)",
                size(bytes)
            ),
        )
    } else {
        let setting = host.thp_defrag.clone().unwrap_or_else(|| "unknown".into());
        (
            Reason::BasePages,
            format!(
                "THP-eligible, but in base pages: no THP was allocated at fault \
                 (defrag={setting}) and khugepaged has not collapsed it"
            ),
        )
    })
}

/// The page-table level that maps a folio of `order` whole.
fn level_of_order(order: u8) -> MapLevel {
    match order {
        18.. => MapLevel::Pud,
        9.. => MapLevel::Pmd,
        _ => MapLevel::Pte,
    }
}

/// Whether `have` maps at least as huge as `want`.
fn at_least(have: MapLevel, want: MapLevel) -> bool {
    let rank = |m: MapLevel| match m {
        MapLevel::None => 0,
        MapLevel::Pte => 1,
        MapLevel::Pmd => 2,
        MapLevel::Pud => 3,
    };
    rank(have) >= rank(want)
}

/// The VMM's mapping that holds `hva`.
fn vma_at(vmas: &[Vma], hva: u64) -> Option<&Vma> {
    vmas.iter().find(|v| v.start <= hva && hva < v.end)
}

/// Why the host's THP policy allows no THPs in `vma`, if it does not.
fn thp_policy(vma: Option<&Vma>, host: &Host) -> Option<(Reason, String)> {
    let setting = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let enabled = setting(&host.thp_enabled);
    let v = vma?;
    Some(if v.has("nh") {
        (
            Reason::Nohugepage,
            "the VMM advised MADV_NOHUGEPAGE on this memory: the host backs it by base pages"
                .to_string(),
        )
    } else if v.thp_eligible == Some(false) && v.has("sh") {
        // Shared memory (shmem, memfd) has its own THP policy.
        (
            Reason::NotEligible,
            format!(
                "not THP-eligible (smaps THPeligible 0): shared memory, whose THPs \
                 shmem_enabled={} decides",
                setting(&host.shmem_enabled)
            ),
        )
    } else if v.thp_eligible == Some(false) {
        (
            Reason::NotEligible,
            format!(
                "not THP-eligible (smaps THPeligible 0): THP enabled={enabled}{}",
                if enabled == "madvise" && !v.has("hg") {
                    " and the VMM did not advise MADV_HUGEPAGE"
                } else {
                    ""
                }
            ),
        )
    } else {
        return None;
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    use gfn_proto::reply::Translation;

    pub(super) const MIB: u64 = 1 << 20;

    /// An `ok` run of `pages` pages from `gpa`.
    pub(super) fn run(gpa: u64, pages: u64, kind: Kind, order: u8, map: MapLevel) -> Reply {
        Reply::Ok(Translation {
            phys: 0x1_0000_0000,
            kind,
            gpa,
            hva: 0,
            pid: 1,
            size: PAGE << order,
            order,
            node: 0,
            slot: 0,
            as_id: 0,
            share: gfn_proto::reply::Share::None,
            map,
            pages,
            step: gfn_proto::reply::Step::Up,
        })
    }

    pub(super) fn slot(gpa: u64, size: u64, hva: u64, flags: u32) -> Slot {
        Slot {
            as_id: 0,
            id: 0,
            gpa,
            size,
            hva,
            flags,
        }
    }

    fn vma(start: u64, end: u64, eligible: bool, flags: &str) -> Vma {
        Vma {
            start,
            end,
            thp_eligible: Some(eligible),
            flags: flags.split_whitespace().map(str::to_string).collect(),
        }
    }

    pub(super) fn host() -> Host {
        Host {
            thp_enabled: Some("madvise".into()),
            thp_defrag: Some("madvise".into()),
            shmem_enabled: Some("never".into()),
            pools: vec![Pool {
                size: 2 * MIB,
                total: 8,
                free: 3,
            }],
            nx_huge_pages: Some("N".into()),
        }
    }

    /// The slot explained from `runs`, with `vmas`.
    pub(super) fn explain(s: Slot, runs: &[Reply], vmas: &[Vma]) -> SlotReport {
        let mut e = Explainer::new(s);
        for r in runs {
            e.add(r);
        }
        e.finish(vmas, &host())
    }

    fn reasons(l: &LevelReport) -> Vec<(Reason, u64)> {
        l.reasons.iter().map(|b| (b.reason, b.bytes)).collect()
    }

    #[test]
    fn a_fully_huge_slot_is_huge_at_2m() {
        let s = slot(0x4000_0000, 8 * MIB, 0x7f00_0000_0000, 0);
        let r = explain(
            s,
            &[run(0x4000_0000, 2048, Kind::Thp, 9, MapLevel::Pmd)],
            &[vma(0x7f00_0000_0000, 0x7f00_0080_0000, true, "rd wr hg")],
        );
        assert_eq!(r.levels[0].huge, 8 * MIB);
        assert!(r.levels[0].reasons.is_empty());
        // Smaller than a gigabyte: no 1g page lies whole in it.
        assert_eq!(reasons(&r.levels[1]), [(Reason::Edge, 8 * MIB)]);
        assert_eq!(r.backing, [("thp order 9 pmd".to_string(), 8 * MIB)]);
    }

    #[test]
    fn a_host_address_4k_off_is_incongruent() {
        let s = slot(0x20_0000, 4 * MIB, 0x7f00_0020_1000, 0);
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Thp, 9, MapLevel::Pmd)],
            &[vma(0x7f00_0020_0000, 0x7f00_0080_0000, true, "rd wr hg")],
        );
        assert_eq!(r.levels[0].huge, 0);
        assert_eq!(reasons(&r.levels[0]), [(Reason::Incongruent, 4 * MIB)]);
        // Nothing on the host would keep it small.
        assert!(r.levels[0].behind.is_empty());
        // Shared memory without shmem THPs 4 KiB off, as QEMU's memfd RAM:
        // behind the alignment, the policy.
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Base, 0, MapLevel::Pte)],
            &[vma(0x7f00_0020_0000, 0x7f00_0080_0000, false, "rd wr sh")],
        );
        assert_eq!(reasons(&r.levels[0]), [(Reason::Incongruent, 4 * MIB)]);
        assert_eq!(
            r.levels[0]
                .behind
                .iter()
                .map(|b| (b.reason, b.bytes))
                .collect::<Vec<_>>(),
            [(Reason::NotEligible, 4 * MIB)]
        );
        let d = &r.levels[0].reasons[0].detail;
        assert!(
            d.contains("0x7f0000201000 is 4 KiB off the 2 MiB alignment of guest address 0x200000"),
            "{d}"
        );
    }

    #[test]
    fn dirty_logging_keeps_a_huge_backed_slot_small() {
        let s = slot(0x20_0000, 4 * MIB, 0x7f00_0020_0000, LOG_DIRTY_PAGES);
        let r = explain(s, &[run(0x20_0000, 1024, Kind::Thp, 9, MapLevel::Pmd)], &[]);
        assert_eq!(reasons(&r.levels[0]), [(Reason::DirtyLog, 4 * MIB)]);
        assert!(r.levels[0].behind.is_empty());
        // Half of it not present: behind the dirty logging.
        let r = explain(s, &[run(0x20_0000, 512, Kind::Thp, 9, MapLevel::Pmd)], &[]);
        assert_eq!(
            r.levels[0]
                .behind
                .iter()
                .map(|b| (b.reason, b.bytes))
                .collect::<Vec<_>>(),
            [(Reason::NotPresent, 2 * MIB)]
        );
    }

    #[test]
    fn nohugepage_memory_is_base_pages() {
        let s = slot(0x20_0000, 4 * MIB, 0x7f00_0020_0000, 0);
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Base, 0, MapLevel::Pte)],
            &[vma(0x7f00_0020_0000, 0x7f00_0060_0000, false, "rd wr nh")],
        );
        assert_eq!(reasons(&r.levels[0]), [(Reason::Nohugepage, 4 * MIB)]);
        // Without the advice, and not eligible: the policy says why.
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Base, 0, MapLevel::Pte)],
            &[vma(0x7f00_0020_0000, 0x7f00_0060_0000, false, "rd wr")],
        );
        assert_eq!(reasons(&r.levels[0]), [(Reason::NotEligible, 4 * MIB)]);
        assert!(r.levels[0].reasons[0]
            .detail
            .contains("enabled=madvise and the VMM did not advise"));
        // Shared memory: its own policy.
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Base, 0, MapLevel::Pte)],
            &[vma(
                0x7f00_0020_0000,
                0x7f00_0060_0000,
                false,
                "rd wr sh mr mw me ms",
            )],
        );
        assert!(r.levels[0].reasons[0]
            .detail
            .contains("shmem_enabled=never"));
        // Eligible but base pages.
        let r = explain(
            s,
            &[run(0x20_0000, 1024, Kind::Base, 0, MapLevel::Pte)],
            &[vma(0x7f00_0020_0000, 0x7f00_0060_0000, true, "rd wr hg")],
        );
        assert_eq!(reasons(&r.levels[0]), [(Reason::BasePages, 4 * MIB)]);
    }

    #[test]
    fn hugetlb_is_huge_at_2m_and_smaller_at_1g() {
        let s = slot(0x4000_0000, 1 << 30, 0x7f00_4000_0000, 0);
        let r = explain(
            s,
            &[run(0x4000_0000, 1 << 18, Kind::Hugetlb, 9, MapLevel::Pmd)],
            &[vma(0x7f00_4000_0000, 0x7f00_8000_0000, false, "rd wr ht")],
        );
        assert_eq!(r.levels[0].huge, 1 << 30);
        assert_eq!(reasons(&r.levels[1]), [(Reason::HostSmaller, 1 << 30)]);
        assert_eq!(r.notes, ["hugetlb pool of 2 MiB pages: 8 pages, 3 free"]);
    }

    #[test]
    fn missing_and_split_pages_and_ends() {
        // 1 MiB before the first 2 MiB boundary, then 4 MiB: one 2 MiB with
        // a page missing, one a THP mapped by PTEs.
        let s = slot(0x10_0000, 5 * MIB, 0x7f00_0010_0000, 0);
        let r = explain(
            s,
            &[
                run(0x10_0000, 256, Kind::Base, 0, MapLevel::Pte),
                run(0x20_0000, 511, Kind::Thp, 9, MapLevel::Pmd),
                run(0x40_0000, 512, Kind::Thp, 9, MapLevel::Pte),
            ],
            &[],
        );
        assert_eq!(
            reasons(&r.levels[0]),
            [
                (Reason::Edge, MIB),
                (Reason::NotPresent, 2 * MIB),
                (Reason::PteMapped, 2 * MIB)
            ]
        );
        assert_eq!(r.levels[0].huge, 0);
    }

    #[test]
    fn gmem_folios_count_as_their_order() {
        let s = slot(0x20_0000, 2 * MIB, 0x7f00_0020_0000, 0);
        let r = explain(
            s,
            &[run(0x20_0000, 512, Kind::Gmem, 9, MapLevel::None)],
            &[],
        );
        assert_eq!(r.levels[0].huge, 2 * MIB);
    }

    #[test]
    fn the_policy_comes_before_pages_missing() {
        // Half present, on MADV_NOHUGEPAGE memory: touching the rest would
        // not make it huge.
        let s = slot(0x20_0000, 2 * MIB, 0x7f00_0020_0000, 0);
        let nh = [vma(0x7f00_0020_0000, 0x7f00_0040_0000, false, "rd wr nh")];
        let r = explain(s, &[run(0x20_0000, 256, Kind::Base, 0, MapLevel::Pte)], &nh);
        assert_eq!(reasons(&r.levels[0]), [(Reason::Nohugepage, 2 * MIB)]);
        // Eligible memory half present: missing pages it is.
        let hg = [vma(0x7f00_0020_0000, 0x7f00_0040_0000, true, "rd wr hg")];
        let r = explain(s, &[run(0x20_0000, 256, Kind::Base, 0, MapLevel::Pte)], &hg);
        assert_eq!(reasons(&r.levels[0]), [(Reason::NotPresent, 2 * MIB)]);
        // Pages with no VMA at all.
        let mut e = Explainer::new(s);
        e.add(&run(0x20_0000, 256, Kind::Base, 0, MapLevel::Pte));
        e.add(&Reply::AddrErr {
            reason: MapError::NoVma,
            gpa: 0x30_0000,
            pid: Some(1),
            pages: 256,
        });
        let r = e.finish(&hg, &host());
        assert_eq!(reasons(&r.levels[0]), [(Reason::Unmapped, 2 * MIB)]);
    }

    #[test]
    fn small_and_split_folios_are_not_base_pages() {
        // At 1g: a THP mapped by PTEs is a split huge folio, not base pages.
        let s = slot(0x4000_0000, 1 << 30, 0x7f00_4000_0000, 0);
        let r = explain(
            s,
            &[run(0x4000_0000, 1 << 18, Kind::Thp, 9, MapLevel::Pte)],
            &[],
        );
        assert_eq!(reasons(&r.levels[1]), [(Reason::PteMapped, 1 << 30)]);
        // At 2m: multi-size THPs of order 4 are smaller pages.
        let s = slot(0x20_0000, 2 * MIB, 0x7f00_0020_0000, 0);
        let r = explain(s, &[run(0x20_0000, 512, Kind::Thp, 4, MapLevel::Pte)], &[]);
        assert_eq!(reasons(&r.levels[0]), [(Reason::HostSmaller, 2 * MIB)]);
    }

    #[test]
    fn both_of_the_slots_own_reasons_are_told() {
        let s = slot(0x20_0000, 2 * MIB, 0x7f00_0020_1000, LOG_DIRTY_PAGES);
        let r = explain(s, &[run(0x20_0000, 512, Kind::Thp, 9, MapLevel::Pmd)], &[]);
        assert_eq!(
            reasons(&r.levels[0]),
            [(Reason::Incongruent, 2 * MIB), (Reason::DirtyLog, 2 * MIB)]
        );
    }
}
