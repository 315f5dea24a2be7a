// SPDX-License-Identifier: GPL-2.0
//! Unit tests of `facts::page_reply` and `facts::no_page_reason`: the one
//! place where what a kernel page walk says about guest pages becomes a
//! reply, shared by the module and the host tools.  They pin down the
//! precedence of the kinds (gmem > dax > pfnmap > hugetlb > thp > base),
//! of the sharing (zero > ksm), of the reasons a page is missing (no VMA,
//! guest_memfd, pfnmap, no memory, fault, not present), the addresses
//! (gpa, hva from the memslot, phys from the frame, all keeping the page
//! offset), the folio order cap and the page count; every reply built is
//! also checked to print as a line that parses back to itself, and to be
//! built in place whatever the reply held before.

use gfn_proto::facts::{frame_reply, no_page_reason, page_reply, PageFacts, SlotFacts, PAGE_SIZE};
use gfn_proto::reply::{parse_line, Kind, MapLevel, Reply, Share, Step, Translation};
use gfn_proto::request::Reason;
use gfn_proto::runs::BLANK;
use proptest::prelude::*;

/// A memslot as a VMM could set one up.
const SLOT: SlotFacts = SlotFacts {
    base_gfn: 0x10_0000,
    npages: 0x4_0000,
    hva: 0x7f12_3450_0000,
    flags: 0,
    id: 3,
    as_id: 1,
};

const PID: u32 = 4242;

/// A present base page at frame `pfn`.
fn base(pfn: u64) -> PageFacts {
    PageFacts {
        pfn,
        pages: 1,
        present: true,
        nid: 1,
        level: MapLevel::Pte,
        ..PageFacts::default()
    }
}

/// What was in a reply before `page_reply` built over it: a run of an
/// earlier entry, so a field it forgot to set would show.
const STALE: Reply = Reply::Ok(Translation {
    phys: 0xdead_0000,
    kind: Kind::Hugetlb,
    gpa: 0xbeef_0000,
    hva: 0xcafe_0000,
    pid: 1,
    size: 1 << 30,
    order: 18,
    node: 7,
    slot: 99,
    as_id: 1,
    share: Share::Ksm,
    map: MapLevel::Pud,
    pages: 1000,
    step: Step::Down,
});

/// `page_reply` into a fresh reply, checked to be the same when built over
/// stale ones and to print as a line that parses back to itself.
fn build(page: &PageFacts, slot: &SlotFacts, gfn: u64, offset: u64, fault: bool) -> Reply {
    let mut r = BLANK;
    page_reply(&mut r, page, slot, gfn, offset, PID, fault);
    for stale in [STALE, r] {
        let mut again = stale;
        page_reply(&mut again, page, slot, gfn, offset, PID, fault);
        assert_eq!(again, r, "built over {stale:?}");
    }
    let line = r.to_string();
    assert_eq!(parse_line(&line), Ok(r), "{line}");
    r
}

fn ok(r: Reply) -> Translation {
    match r {
        Reply::Ok(t) => t,
        r => panic!("not a translation: {r:?}"),
    }
}

/// Sets one flag of a page's facts.
type SetFlag = fn(&mut PageFacts);

/// The five flags that decide a present page's kind, highest first.
const KIND_FLAGS: [(SetFlag, Kind); 5] = [
    (|p| p.gmem = true, Kind::Gmem),
    (|p| p.devmap = true, Kind::Dax),
    (|p| p.pfnmap = true, Kind::Pfnmap),
    (|p| p.hugetlb = true, Kind::Hugetlb),
    (|p| p.large = true, Kind::Thp),
];

#[test]
fn kind_goes_by_precedence() {
    // Every subset of the flags: the highest one set decides.
    for mask in 0u32..32 {
        let mut page = base(0x1234);
        for (bit, (set, _)) in KIND_FLAGS.iter().enumerate() {
            if mask & 1 << bit != 0 {
                set(&mut page);
            }
        }
        let want = KIND_FLAGS
            .iter()
            .enumerate()
            .find(|(bit, _)| mask & 1 << bit != 0)
            .map_or(Kind::Base, |(_, (_, k))| *k);
        let t = ok(build(&page, &SLOT, SLOT.base_gfn, 0, false));
        assert_eq!(t.kind, want, "flags {mask:05b}");
        // The kind flags say nothing about sharing.
        assert_eq!(t.share, Share::None, "flags {mask:05b}");
    }
}

#[test]
fn share_goes_by_precedence() {
    for (zero, ksm, want) in [
        (false, false, Share::None),
        (false, true, Share::Ksm),
        (true, false, Share::Zero),
        (true, true, Share::Zero),
    ] {
        for large in [false, true] {
            let page = PageFacts {
                zero,
                ksm,
                large,
                ..base(0x42)
            };
            let t = ok(build(&page, &SLOT, SLOT.base_gfn, 0, false));
            assert_eq!(t.share, want, "zero {zero} ksm {ksm}");
            // Sharing says nothing about the kind.
            assert_eq!(t.kind, if large { Kind::Thp } else { Kind::Base });
        }
    }
}

/// The reason, as the order documented in `no_page_reason` gives it.
fn reason_by_order(no_vma: bool, gmem: bool, pfnmap: bool, no_memory: bool, fault: bool) -> Reason {
    [
        (no_vma, Reason::NoVma),
        (gmem, Reason::NotPresent),
        (pfnmap, Reason::Pfnmap),
        (no_memory, Reason::NoMem),
        (fault, Reason::NoPage),
    ]
    .into_iter()
    .find(|(set, _)| *set)
    .map_or(Reason::NotPresent, |(_, r)| r)
}

#[test]
fn missing_page_reason_goes_by_order() {
    // Every subset of what decides the reason, and of what must not.
    for mask in 0u32..1 << 10 {
        let bit = |b: u32| mask & 1 << b != 0;
        let page = PageFacts {
            pfn: 0x5555,
            pages: 3,
            present: false,
            no_vma: bit(0),
            gmem: bit(1),
            pfnmap: bit(2),
            no_memory: bit(3),
            devmap: bit(5),
            hugetlb: bit(6),
            large: bit(7),
            zero: bit(8),
            ksm: bit(9),
            no_page: false,
            nid: 1,
            order: 9,
            level: MapLevel::Pmd,
        };
        let fault = bit(4);
        let want = reason_by_order(bit(0), bit(1), bit(2), bit(3), fault);
        assert_eq!(no_page_reason(&page, fault), want, "flags {mask:010b}");
        let gfn = SLOT.base_gfn + 17;
        assert_eq!(
            build(&page, &SLOT, gfn, 0, fault),
            Reply::AddrErr {
                reason: want,
                gpa: gfn * PAGE_SIZE,
                pid: Some(PID),
                pages: 3,
            },
            "flags {mask:010b}"
        );
    }
}

#[test]
fn missing_page_keeps_the_offset_and_counts_at_least_one_page() {
    let page = PageFacts {
        pages: 0,
        ..PageFacts::default()
    };
    assert_eq!(
        build(&page, &SLOT, 0x12345, 0xabc, true),
        Reply::AddrErr {
            reason: Reason::NoPage,
            gpa: 0x1234_5abc,
            pid: Some(PID),
            pages: 1,
        }
    );
}

#[test]
fn present_decides_a_translation_whatever_else_is_said() {
    // A walk that found frames tells them: the reasons for missing pages
    // only matter when nothing is present.
    let page = PageFacts {
        no_vma: true,
        no_memory: true,
        ..base(0x99)
    };
    let t = ok(build(&page, &SLOT, SLOT.base_gfn, 0, true));
    assert_eq!((t.kind, t.phys), (Kind::Base, 0x99 * PAGE_SIZE));
}

/// Frames a walk found mapped without a page it may read (no struct page,
/// or a special entry outside `VM_PFNMAP` memory) are told as pfnmap
/// memory the walk could not tell, whatever their frame, node, order and
/// level, and whatever the mode: the reply the module gave when its walk
/// reported them not present, with the pfnmap flag.
#[test]
fn frames_without_a_page_are_told_as_pfnmap_memory() {
    for fault in [false, true] {
        for &level in MapLevel::ALL {
            let page = PageFacts {
                no_page: true,
                pages: 7,
                nid: u32::MAX,
                order: 9,
                level,
                ..base(0xfe000)
            };
            assert!(!page.told());
            let gfn = SLOT.base_gfn + 5;
            let want = Reply::AddrErr {
                reason: Reason::Pfnmap,
                gpa: gfn * PAGE_SIZE + 0x10,
                pid: Some(PID),
                pages: 7,
            };
            assert_eq!(build(&page, &SLOT, gfn, 0x10, fault), want);
            // As the walk told them before it gave their frames.
            let before = PageFacts {
                present: false,
                no_page: false,
                pfnmap: true,
                ..page
            };
            assert_eq!(build(&before, &SLOT, gfn, 0x10, fault), want);
        }
    }
}

#[test]
fn addresses_come_from_the_memslot_and_the_frame() {
    for (gfn, offset) in [
        (SLOT.base_gfn, 0),
        (SLOT.base_gfn + 1, 0),
        (SLOT.base_gfn + 511, 0xfff),
        (SLOT.end() - 1, 0x10),
        (SLOT.base_gfn + 0x1234, 0x800),
    ] {
        let pfn = 0xa_bcde;
        let t = ok(build(&base(pfn), &SLOT, gfn, offset, false));
        assert_eq!(t.gpa, gfn * PAGE_SIZE + offset);
        assert_eq!(t.hva, SLOT.hva + (gfn - SLOT.base_gfn) * PAGE_SIZE + offset);
        assert_eq!(t.hva, SLOT.hva_of(gfn) + offset);
        assert_eq!(t.phys, pfn * PAGE_SIZE + offset);
        assert_eq!(t.gpa & 0xfff, offset);
        assert_eq!((t.pid, t.slot, t.as_id), (PID, SLOT.id, 1));
    }
}

#[test]
fn facts_are_carried_over() {
    for level in MapLevel::ALL {
        for nid in [0, 1, 63, u32::MAX] {
            let page = PageFacts {
                nid,
                level: *level,
                ..base(7)
            };
            let t = ok(build(&page, &SLOT, SLOT.base_gfn, 0, false));
            assert_eq!((t.node, t.map), (nid, *level));
        }
    }
}

#[test]
fn order_is_capped_and_size_follows_it() {
    for (order, want) in [
        (0, 0),
        (1, 1),
        (9, 9),
        (18, 18),
        (50, 50),
        (51, 51),
        (52, 51),
        (63, 51),
        (64, 51),
        (200, 51),
        (u32::MAX, 51),
    ] {
        let page = PageFacts {
            order,
            large: order > 0,
            ..base(0x200)
        };
        let t = ok(build(&page, &SLOT, SLOT.base_gfn, 0, false));
        assert_eq!(u32::from(t.order), want, "order {order}");
        assert_eq!(t.size, PAGE_SIZE << want, "order {order}");
        assert_ne!(t.size, 0, "order {order}");
    }
}

#[test]
fn pages_are_at_least_one() {
    for (pages, want) in [
        (0, 1),
        (1, 1),
        (2, 2),
        (512, 512),
        (u32::MAX, u64::from(u32::MAX)),
    ] {
        let t = ok(build(
            &PageFacts { pages, ..base(1) },
            &SLOT,
            SLOT.base_gfn,
            0,
            false,
        ));
        assert_eq!(t.pages, want, "pages {pages}");
    }
}

#[test]
fn gmem_private_page_as_a_walk_tells_it() {
    let slot = SlotFacts {
        flags: SlotFacts::GUEST_MEMFD,
        ..SLOT
    };
    assert!(slot.has_gmem() && !SLOT.has_gmem());
    let page = PageFacts {
        gmem: true,
        large: true,
        order: 9,
        level: MapLevel::None,
        pages: 512,
        ..base(0x8_0000)
    };
    let t = ok(build(&page, &slot, slot.base_gfn + 512, 0, false));
    assert_eq!(
        (t.kind, t.map, t.size, t.order, t.pages),
        (Kind::Gmem, MapLevel::None, 2 << 20, 9, 512)
    );
}

#[test]
fn slot_bounds() {
    assert_eq!(SLOT.end(), SLOT.base_gfn + SLOT.npages);
    assert!(SLOT.holds(SLOT.base_gfn) && SLOT.holds(SLOT.end() - 1));
    assert!(!SLOT.holds(SLOT.base_gfn - 1) && !SLOT.holds(SLOT.end()));
    let top = SlotFacts {
        base_gfn: u64::MAX - 1,
        npages: 10,
        ..SLOT
    };
    assert_eq!(top.end(), u64::MAX);
}

/// Any facts a walk could report: frames below 2^52 (phys fits), nodes as
/// the kernel numbers them or unknown, any flags, order and level.
fn facts() -> impl Strategy<Value = PageFacts> {
    (
        (0u64..1 << 40, 0u32..1024, any::<[bool; 11]>()),
        (
            prop_oneof![0u32..4, Just(u32::MAX)],
            prop_oneof![0u32..20, any::<u32>()],
            proptest::sample::select(MapLevel::ALL.to_vec()),
        ),
    )
        .prop_map(|((pfn, pages, f), (nid, order, level))| PageFacts {
            pfn,
            pages,
            present: f[0],
            no_vma: f[1],
            pfnmap: f[2],
            gmem: f[3],
            devmap: f[4],
            hugetlb: f[5],
            large: f[6],
            zero: f[7],
            ksm: f[8],
            no_memory: f[9],
            no_page: f[10],
            nid,
            order,
            level,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// A page with the facts of a page before it (its frame and place
    /// aside) gets from `frame_reply` exactly the reply `page_reply` builds
    /// for it, whatever reply was there before: the module builds a map's
    /// scattered base pages so.
    #[test]
    fn frame_replies_are_page_replies(
        page in facts(),
        gfn_off in 0u64..0x4_0000,
        later in 0u64..0x4_0000,
        pfn in 0u64..(1 << 40),
    ) {
        let page = PageFacts { pages: 1, present: true, no_page: false, ..page };
        let gfn = SLOT.base_gfn + gfn_off;
        let Reply::Ok(first) = build(&page, &SLOT, gfn, 0, false) else {
            return Err(TestCaseError::fail("not a translation"));
        };
        let at = SLOT.base_gfn + later;
        let want = build(&PageFacts { pfn, ..page }, &SLOT, at, 0, false);
        for stale in [STALE, BLANK, want] {
            let mut got = stale;
            frame_reply(&mut got, &first, &SLOT, at, pfn);
            prop_assert_eq!(got, want);
        }
    }

    /// Whatever the facts, the reply is what the rules above say, and it
    /// prints as a line that parses back to itself.
    #[test]
    fn any_facts_make_a_reply_that_round_trips(
        page in facts(),
        gfn_off in 0u64..0x4_0000,
        offset in 0u64..4096,
        fault in any::<bool>(),
    ) {
        let gfn = SLOT.base_gfn + gfn_off;
        let r = build(&page, &SLOT, gfn, offset, fault);
        let pages = u64::from(page.pages.max(1));
        if !page.present || page.no_page {
            prop_assert_eq!(r, Reply::AddrErr {
                reason: no_page_reason(&page, fault),
                gpa: gfn * PAGE_SIZE + offset,
                pid: Some(PID),
                pages,
            });
        } else {
            let t = ok(r);
            let order = page.order.min(51);
            prop_assert_eq!(t.pages, pages);
            prop_assert_eq!(u32::from(t.order), order);
            prop_assert_eq!(t.size, PAGE_SIZE << order);
            prop_assert_eq!(t.phys, page.pfn * PAGE_SIZE + offset);
            prop_assert_eq!(t.hva, SLOT.hva + gfn_off * PAGE_SIZE + offset);
            prop_assert_eq!(t.node, page.nid);
            prop_assert_eq!(t.map, page.level);
        }
    }
}

/// The binary record holds the node in 16 bits: a pfnmap frame's unknown
/// node (`u32::MAX`, which `page_reply` tells, as `Kind::Pfnmap`
/// documents) must come back from a record as not known, as the text line
/// says it, not as a node 65535 that does not exist (it did, before the
/// record kept 65535 for "not known").
#[test]
fn unknown_node_survives_a_binary_record() {
    let page = PageFacts {
        pfnmap: true,
        nid: u32::MAX,
        ..base(0xfe000)
    };
    let r = build(&page, &SLOT, SLOT.base_gfn, 0, false);
    assert_eq!(Reply::from_record(&r.to_record()), Ok(r));
}

#[test]
fn known_nodes_survive_a_binary_record() {
    for page in [
        base(1),
        PageFacts {
            hugetlb: true,
            large: true,
            order: 18,
            level: MapLevel::Pud,
            pages: 1 << 18,
            ..base(1 << 18)
        },
        PageFacts {
            zero: true,
            ..base(0x1000)
        },
        PageFacts {
            present: false,
            no_vma: true,
            ..base(0)
        },
    ] {
        let r = build(&page, &SLOT, SLOT.base_gfn + 3, 0, false);
        assert_eq!(Reply::from_record(&r.to_record()), Ok(r));
    }
}
