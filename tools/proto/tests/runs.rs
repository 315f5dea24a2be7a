// SPDX-License-Identifier: GPL-2.0
//! Property tests of `runs::Runs`, which gathers the replies of a map's
//! walk entries into runs, checked against a page-by-page reference.
//!
//! A map of a whole VM tells one line (or record) per run of pages, so the
//! merge rule decides what every tool reading a map sees: merging too much
//! claims frames or facts that are not the pages', merging too little only
//! costs lines.  The tests lay out random guest memory (one or two
//! memslots, maybe a hole between them) whose facts make merges frequent:
//! frames that mostly go on up or down, sometimes jump, turn or repeat; base pages,
//! THPs, hugetlb, pfnmap, dax, guest_memfd, KSM, the shared zero page, the
//! huge zero folio mapped whole or by PTEs, and missing pages for every
//! reason.  They cut the pages into walk entries as a kernel walk could
//! (a leaf of the huge zero folio is one entry, other entries anywhere
//! frames and facts go on), feed them through `page_reply` and `Runs` as
//! the module's map does, and check that:
//!
//! - expanding every told run back into pages gives exactly the replies
//!   `page_reply` builds for the pages one at a time;
//! - runs are maximal: no told reply `continues` the one before, and the
//!   runs are those an independent statement of the rule gives;
//! - a run of zero pages is always one walk entry, never more pages than
//!   its folio has: every such page is the same host page (or the huge
//!   zero folio's), so merging them would claim frames that are not theirs;
//! - how the pages were cut into entries does not change what is told;
//! - a `tell` that fails (no memory for the reply window) loses nothing
//!   and tells nothing twice when the same reply is taken again.

mod common;

use common::Rng;
use gfn_proto::facts::{page_reply, PageFacts, SlotFacts, PAGE_SIZE};
use gfn_proto::reply::{MapLevel, Reply, Share, Step as Way, Translation};
use gfn_proto::request::{Reason, PID_MAX};
use gfn_proto::runs::{ascending_within, continues, Merge, Runs, BLANK};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The shared zero page: every guest page mapping it has this frame.
const ZERO_PFN: u64 = 0x1234;
/// First frame of the huge zero folio (512 frames).
const HUGE_ZERO_PFN: u64 = 0x40_0000;

/// How a page may share a walk entry with the page before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Join {
    /// When facts are the same and frames go on; a walk may also cut there.
    Free,
    /// Always with the pages of the same leaf (a huge zero folio mapped
    /// whole: one entry, whatever the batches).
    Leaf(usize),
    /// Never: a zero page mapped by a PTE is an entry of its own.
    Alone,
}

/// One guest page: what a walk says about it, alone (`pages` 1).
#[derive(Clone, Copy, Debug)]
struct Page {
    facts: PageFacts,
    join: Join,
}

/// A stretch of guest pages of one sort, as proptest draws it.
#[derive(Clone, Debug)]
struct Seg {
    sort: u8,
    len: u16,
    /// Frames start anew (else they go on from the last present page).
    fresh: bool,
    pfn: u64,
    node: u32,
    /// The sort's other shape: mapped huge, a larger folio, ...
    alt: bool,
    /// Per page: how its frame goes on from the page before.
    steps: Vec<u8>,
}

fn seg() -> impl Strategy<Value = Seg> {
    (
        0u8..18,
        1u16..48,
        proptest::bool::weighted(0.3),
        (1u64 << 20)..(1 << 36),
        0u32..2,
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 1..16),
    )
        .prop_map(|(sort, len, fresh, pfn, node, alt, steps)| Seg {
            sort,
            len,
            fresh,
            pfn,
            node,
            alt,
            steps,
        })
}

/// Ways a page can be missing, each as a walk would say it.
const MISSING: [(bool, bool, bool, bool); 6] = [
    // (no_vma, pfnmap, gmem, no_memory)
    (false, false, false, false),
    (true, false, false, false),
    (false, true, false, false),
    (false, false, false, true),
    (false, false, true, false),
    (true, true, false, false),
];

/// The pages of `segs`, in order; `leaves` numbers the huge zero leaves.
fn pages(segs: &[Seg], leaves: &mut usize) -> Vec<Page> {
    let mut out = Vec::new();
    let mut last_pfn = 1 << 24;
    for s in segs {
        let mut pfn = if s.fresh { s.pfn } else { last_pfn + 1 };
        let mut node = s.node;
        let present = PageFacts {
            pages: 1,
            present: true,
            nid: node,
            level: MapLevel::Pte,
            ..PageFacts::default()
        };
        let len = u64::from(s.len);
        let step = |i: u64| s.steps[i as usize % s.steps.len()];
        for i in 0..len {
            let (facts, join) = match s.sort {
                // Base pages and KSM pages: frames mostly go on.
                0..=6 => {
                    if i > 0 {
                        match step(i) % 16 {
                            0 => pfn += 0x1000 + u64::from(step(i + 1)),
                            1 => pfn -= 1,
                            2 => (pfn, node) = (pfn + 1, node ^ 1),
                            3 => {}
                            // Half the segments go down, as pages a guest
                            // faults in in order mostly do.
                            _ if s.pfn & 1 == 1 => pfn -= 1,
                            _ => pfn += 1,
                        }
                    }
                    let ksm = s.sort == 6 || (s.alt && step(i) % 5 == 0);
                    (
                        PageFacts {
                            pfn,
                            nid: node,
                            ksm,
                            ..present
                        },
                        Join::Free,
                    )
                }
                // A THP, mapped whole or by PTEs.
                7 | 8 => (
                    PageFacts {
                        pfn: pfn + i,
                        large: true,
                        order: 9,
                        level: if s.alt { MapLevel::Pmd } else { MapLevel::Pte },
                        ..present
                    },
                    Join::Free,
                ),
                9 => {
                    let (order, level) = if s.alt {
                        (18, MapLevel::Pud)
                    } else {
                        (9, MapLevel::Pmd)
                    };
                    (
                        PageFacts {
                            pfn: pfn + i,
                            hugetlb: true,
                            large: true,
                            order,
                            level,
                            ..present
                        },
                        Join::Free,
                    )
                }
                10 | 11 => {
                    let (order, level) = if s.alt {
                        (9, MapLevel::Pmd)
                    } else {
                        (0, MapLevel::Pte)
                    };
                    let pfnmap = s.sort == 10;
                    (
                        PageFacts {
                            pfn: pfn + i,
                            pfnmap,
                            devmap: !pfnmap,
                            nid: if pfnmap { u32::MAX } else { node },
                            order,
                            level,
                            ..present
                        },
                        Join::Free,
                    )
                }
                12 => (
                    PageFacts {
                        pfn: pfn + i,
                        gmem: true,
                        large: s.alt,
                        order: if s.alt { 9 } else { 0 },
                        level: MapLevel::None,
                        ..present
                    },
                    Join::Free,
                ),
                // The shared zero page: the same frame, page after page.
                13 => (
                    PageFacts {
                        pfn: ZERO_PFN,
                        zero: true,
                        nid: 0,
                        ..present
                    },
                    Join::Alone,
                ),
                // The huge zero folio mapped whole: one leaf, one entry.
                14 => {
                    let len = 1 + (s.pfn + u64::from(s.len) * 37) % 512;
                    let first = if s.alt { 512 - len } else { 0 };
                    if i == 0 {
                        *leaves += 1;
                        for j in 0..len {
                            out.push(Page {
                                facts: PageFacts {
                                    pfn: HUGE_ZERO_PFN + first + j,
                                    zero: true,
                                    large: true,
                                    order: 9,
                                    nid: 0,
                                    level: MapLevel::Pmd,
                                    ..present
                                },
                                join: Join::Leaf(*leaves),
                            });
                        }
                    }
                    continue;
                }
                // The huge zero folio mapped by PTEs: frames go on, but
                // each is an entry of its own.
                15 => (
                    PageFacts {
                        pfn: HUGE_ZERO_PFN + (s.pfn + i) % 512,
                        zero: true,
                        large: true,
                        order: 9,
                        nid: 0,
                        ..present
                    },
                    Join::Alone,
                ),
                // Missing pages: reasons change now and then.
                _ => {
                    let mut way = usize::from(s.steps[0]);
                    if step(i) % 8 == 0 {
                        way += i as usize;
                    }
                    let (no_vma, pfnmap, gmem, no_memory) = MISSING[way % MISSING.len()];
                    (
                        PageFacts {
                            // Garbage: no frame is told for a missing page.
                            pfn: s.pfn.wrapping_mul(i + 7),
                            pages: 1,
                            no_vma,
                            pfnmap,
                            gmem,
                            no_memory,
                            ..PageFacts::default()
                        },
                        Join::Free,
                    )
                }
            };
            if facts.present {
                last_pfn = facts.pfn;
            }
            out.push(Page { facts, join });
        }
        if let Some(p) = out.last().filter(|p| p.facts.present) {
            last_pfn = p.facts.pfn;
        }
    }
    out
}

/// Guest memory: a memslot's pages, maybe a hole, maybe another memslot.
#[derive(Clone, Debug)]
struct Layout {
    slots: Vec<(SlotFacts, Vec<Page>)>,
    pid: u32,
    fault: bool,
}

impl Layout {
    /// The hole between memslot `i` and the next, in pages.
    fn hole_after(&self, i: usize) -> Option<(u64, u64)> {
        let (a, _) = self.slots.get(i)?;
        let (b, _) = self.slots.get(i + 1)?;
        Some((a.end(), b.base_gfn - a.end()))
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        proptest::collection::vec(seg(), 1..16),
        proptest::collection::vec(seg(), 0..8),
        (0u64..1 << 36, 0u64..1 << 35, any::<u16>(), 1u16..64),
        (0u64..5, any::<bool>(), 0u64..1 << 35, 0u16..2),
        (1u32..=PID_MAX, any::<bool>()),
    )
        .prop_map(
            |(
                a,
                b,
                (base_gfn, hva, id, other),
                (hole, hva_goes_on, hva_b, as_id),
                (pid, fault),
            )| {
                let mut leaves = 0;
                let pa = pages(&a, &mut leaves);
                let first = SlotFacts {
                    base_gfn,
                    npages: pa.len() as u64,
                    hva: hva << 12,
                    flags: 0,
                    id,
                    as_id,
                };
                let mut slots = vec![(first, pa)];
                if !b.is_empty() {
                    let pb = pages(&b, &mut leaves);
                    let second = SlotFacts {
                        base_gfn: first.end() + hole,
                        npages: pb.len() as u64,
                        // Host addresses that go on across memslots must
                        // not merge either: runs are per memslot.
                        hva: if hva_goes_on {
                            first.hva + first.npages * PAGE_SIZE
                        } else {
                            hva_b << 12
                        },
                        flags: 0,
                        id: id ^ other,
                        as_id,
                    };
                    slots.push((second, pb));
                }
                Layout { slots, pid, fault }
            },
        )
}

/// One step of a map's walk, as the module takes it.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A walk entry of memslot `slot` from guest frame `gfn`.
    Entry {
        slot: usize,
        gfn: u64,
        facts: PageFacts,
    },
    /// Guest frames no memslot holds.
    Hole { gfn: u64, pages: u64 },
}

/// Whether `b` may be in the same walk entry as `a`, the page before it.
fn may_join(a: &Page, b: &Page) -> bool {
    match (a.join, b.join) {
        (Join::Leaf(x), Join::Leaf(y)) => x == y,
        (Join::Free, Join::Free) => {
            PageFacts { pfn: 0, ..a.facts } == PageFacts { pfn: 0, ..b.facts }
                && (!a.facts.present || b.facts.pfn == a.facts.pfn + 1)
        }
        _ => false,
    }
}

/// The walk of `layout`, its pages cut into entries wherever they may
/// join and `cut` says so (never within a leaf, which is one entry).
fn walk(layout: &Layout, mut cut: impl FnMut() -> bool) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, (slot, pages)) in layout.slots.iter().enumerate() {
        let mut start = 0;
        for j in 1..=pages.len() {
            let ends = j == pages.len()
                || !may_join(&pages[j - 1], &pages[j])
                || (!matches!(pages[j].join, Join::Leaf(_)) && cut());
            if ends {
                steps.push(Step::Entry {
                    slot: i,
                    gfn: slot.base_gfn + start as u64,
                    facts: PageFacts {
                        pages: (j - start) as u32,
                        ..pages[start].facts
                    },
                });
                start = j;
            }
        }
        if let Some((gfn, pages)) = layout.hole_after(i).filter(|(_, n)| *n > 0) {
            // A memslot that appeared since the walk splits a hole.
            let mut at = gfn;
            while at < gfn + pages {
                let n = if cut() { 1 } else { gfn + pages - at };
                steps.push(Step::Hole { gfn: at, pages: n });
                at += n;
            }
        }
    }
    steps
}

/// What a hole of `pages` from `gfn` is told as.
fn hole(gfn: u64, pages: u64, pid: u32) -> Reply {
    Reply::AddrErr {
        reason: Reason::NoMemslot,
        gpa: gfn * PAGE_SIZE,
        pid: Some(pid),
        pages,
    }
}

/// The reply the module builds for a step.
fn reply_of(layout: &Layout, step: &Step) -> Reply {
    match *step {
        Step::Entry { slot, gfn, facts } => {
            let mut r = BLANK;
            page_reply(
                &mut r,
                &facts,
                &layout.slots[slot].0,
                gfn,
                0,
                layout.pid,
                layout.fault,
            );
            r
        }
        Step::Hole { gfn, pages } => hole(gfn, pages, layout.pid),
    }
}

/// Runs `steps` through `Runs` as the module's map does: each entry's
/// reply built in place and taken, holes pushed, the last run flushed.
/// `fail` says when telling a run fails (no room in the reply window);
/// the map then takes the same reply again, as after `ENOMEM`.  Checks
/// that a failed tell changed nothing.  Returns what was told.
fn map(
    layout: &Layout,
    steps: &[Step],
    merge: Merge,
    mut fail: impl FnMut() -> bool,
) -> Vec<Reply> {
    let mut told = Vec::new();
    let mut tell = |r: &Reply, failing: bool| {
        assert_ne!(*r, BLANK, "told a reply never built");
        if failing {
            Err("no memory")
        } else {
            told.push(*r);
            Ok(())
        }
    };
    let mut runs = Runs::merging(merge);
    assert_eq!(runs.last(), None);
    for step in steps {
        let built = match *step {
            Step::Entry { slot, gfn, facts } => {
                page_reply(
                    runs.next_reply(),
                    &facts,
                    &layout.slots[slot].0,
                    gfn,
                    0,
                    layout.pid,
                    layout.fault,
                );
                *runs.next_reply()
            }
            Step::Hole { gfn, pages } => hole(gfn, pages, layout.pid),
        };
        loop {
            let before = runs.last().copied();
            let failing = fail();
            let result = match step {
                Step::Entry { .. } => runs.take(|r| tell(r, failing)),
                Step::Hole { .. } => runs.push(built, |r| tell(r, failing)),
            };
            if result.is_ok() {
                break;
            }
            assert_eq!(
                runs.last().copied(),
                before,
                "a failed tell changed the run"
            );
            if matches!(step, Step::Entry { .. }) {
                assert_eq!(
                    *runs.next_reply(),
                    built,
                    "a failed tell changed the next reply"
                );
            }
        }
        // The run taken last holds the pages just taken, at its end.
        let last = runs.last().copied().expect("a run after a take");
        assert_eq!(end_gpa(&last), end_gpa(&built));
    }
    let pending = runs.last().copied();
    while runs.flush(|r| tell(r, fail())).is_err() {
        assert_eq!(runs.last().copied(), pending, "a failed flush lost the run");
    }
    assert_eq!(runs.last(), None);
    // Flushing again tells nothing.
    runs.flush(|r| tell(r, false)).unwrap();
    assert_eq!(told.last().copied(), pending);
    told
}

/// Guest address just past a reply's pages.
fn end_gpa(r: &Reply) -> u64 {
    match *r {
        Reply::Ok(t) => t.gpa + t.pages * PAGE_SIZE,
        Reply::AddrErr { gpa, pages, .. } => gpa + pages * PAGE_SIZE,
        _ => panic!("not a run: {r:?}"),
    }
}

/// `page_reply` for each page alone, holes a page at a time: what a map
/// without runs would tell.  With each page, the entry it was walked in.
fn reference(layout: &Layout, steps: &[Step]) -> Vec<(Reply, usize)> {
    let mut out = Vec::new();
    for (e, step) in steps.iter().enumerate() {
        match *step {
            Step::Entry { slot, gfn, facts } => {
                for k in 0..u64::from(facts.pages) {
                    let (s, pages) = &layout.slots[slot];
                    let page = pages[(gfn + k - s.base_gfn) as usize].facts;
                    let mut r = BLANK;
                    page_reply(&mut r, &page, s, gfn + k, 0, layout.pid, layout.fault);
                    out.push((r, e));
                }
            }
            Step::Hole { gfn, pages } => {
                out.extend((0..pages).map(|k| (hole(gfn + k, 1, layout.pid), e)));
            }
        }
    }
    out
}

/// The pages of a told run, one reply each.
fn expand(r: &Reply) -> Vec<Reply> {
    match *r {
        Reply::Ok(t) => (0..t.pages)
            .map(|k| {
                let d = k * PAGE_SIZE;
                let phys = match t.step {
                    Way::Up => t.phys + d,
                    Way::Down => t.phys - d,
                };
                Reply::Ok(Translation {
                    gpa: t.gpa + d,
                    hva: t.hva.wrapping_add(d),
                    phys,
                    pages: 1,
                    step: Way::Up,
                    ..t
                })
            })
            .collect(),
        Reply::AddrErr {
            reason,
            gpa,
            pid,
            pages,
        } => (0..pages)
            .map(|k| Reply::AddrErr {
                reason,
                gpa: gpa + k * PAGE_SIZE,
                pid,
                pages: 1,
            })
            .collect(),
        r => panic!("not a run: {r:?}"),
    }
}

/// The runs of `pages`, by the rule as the protocol states it, without
/// `continues`: a page joins the run before it when its reply is the
/// run's but for addresses, which go on where the run ends (the host frame
/// one up from the run's last, or with `merge` `Either` one down, in the
/// run's own direction once it has two pages), except that zero pages
/// only make up a run as one walk entry.
fn oracle(pages: &[(Reply, usize)], merge: Merge) -> Vec<Reply> {
    let mut runs: Vec<(Reply, usize)> = Vec::new();
    for &(p, entry) in pages {
        if let Some((run, run_entry)) = runs.last_mut() {
            let joins = match (&mut *run, p) {
                (Reply::Ok(r), Reply::Ok(t)) => {
                    let d = r.pages * PAGE_SIZE;
                    let strip = |t: Translation| Translation {
                        gpa: 0,
                        hva: 0,
                        phys: 0,
                        pages: 0,
                        ..t
                    };
                    let strip = |t: Translation| Translation {
                        step: Way::Up,
                        ..strip(t)
                    };
                    let last = match r.step {
                        Way::Up => r.phys + d - PAGE_SIZE,
                        Way::Down => r.phys + PAGE_SIZE - d,
                    };
                    let up = t.phys == last + PAGE_SIZE && (r.pages == 1 || r.step == Way::Up);
                    let down = merge == Merge::Either
                        && t.phys.wrapping_add(PAGE_SIZE) == last
                        && (r.pages == 1 || r.step == Way::Down);
                    let same = strip(*r) == strip(t)
                        && t.gpa == r.gpa + d
                        && t.hva == r.hva.wrapping_add(d)
                        && (up || down);
                    let zero = r.share == Share::Zero || t.share == Share::Zero;
                    if same && (!zero || *run_entry == entry) {
                        r.pages += 1;
                        r.step = if up { Way::Up } else { Way::Down };
                        true
                    } else {
                        false
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
                        reason: r2,
                        gpa: g2,
                        pid: p2,
                        ..
                    },
                ) if *reason == r2 && *pid == p2 && g2 == *gpa + *pages * PAGE_SIZE => {
                    *pages += 1;
                    true
                }
                _ => false,
            };
            if joins {
                continue;
            }
        }
        runs.push((p, entry));
    }
    runs.into_iter().map(|(r, _)| r).collect()
}

/// Checks everything told by one walk of `layout` cut into `steps`.
fn check(
    layout: &Layout,
    steps: &[Step],
    merge: Merge,
    told: &[Reply],
) -> Result<(), TestCaseError> {
    let reference = reference(layout, steps);
    let pages: Vec<Reply> = reference.iter().map(|(r, _)| *r).collect();
    // (a) Expanded, the runs are the pages one at a time.
    let expanded: Vec<Reply> = told.iter().flat_map(expand).collect();
    prop_assert_eq!(expanded.len(), pages.len(), "pages told");
    for (i, (got, want)) in expanded.iter().zip(&pages).enumerate() {
        prop_assert_eq!(got, want, "page {} of {}", i, pages.len());
    }
    // (b) Runs are maximal: no run continues the one before.
    for (i, w) in told.windows(2).enumerate() {
        let goes_on = match continues(&w[0], &w[1]) {
            Some(Way::Up) => true,
            Some(Way::Down) => merge == Merge::Either,
            None => false,
        };
        prop_assert!(
            !goes_on,
            "run {} continues run {}: {:?} then {:?}",
            i + 1,
            i,
            w[0],
            w[1]
        );
    }
    // (c) A run of zero pages is one walk entry, as its facts say.
    let entries: BTreeMap<u64, Reply> = steps
        .iter()
        .map(|s| reply_of(layout, s))
        .map(|r| (end_gpa(&r), r))
        .collect();
    for r in told {
        if let Reply::Ok(t) = r {
            if t.share == Share::Zero {
                prop_assert!(
                    t.pages <= t.size / PAGE_SIZE,
                    "zero run of {} pages of a folio of {}: {:?}",
                    t.pages,
                    t.size / PAGE_SIZE,
                    r
                );
                prop_assert_eq!(
                    entries.get(&end_gpa(r)),
                    Some(r),
                    "zero run that is not one walk entry"
                );
            }
        }
    }
    // And the runs are those the rule, stated independently, makes.
    prop_assert_eq!(
        told,
        &oracle(&reference, merge)[..],
        "runs other than the rule's"
    );
    Ok(())
}

fn cases() -> u32 {
    common::cases("GFN_RUNS_CASES", 512)
}

/// What a reverse lookup told of base pages when the walk made an entry of
/// each run of frames that go up by one: each entry cut to `lo..hi`, as
/// `(index, frame, pages)`.
fn entries_within(frames: &[u64], lo: u64, hi: u64) -> Vec<(usize, u64, u64)> {
    let mut told = Vec::new();
    let mut at = 0;
    while at < frames.len() {
        let mut n = 1;
        while at + n < frames.len() && frames[at + n] == frames[at] + n as u64 {
            n += 1;
        }
        let (s, e) = (frames[at].max(lo), (frames[at] + n as u64).min(hi));
        if s < e {
            told.push((at + (s - frames[at]) as usize, s, e - s));
        }
        at += n;
    }
    told
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// A reverse lookup of a stretch of base pages (`ascending_within`)
    /// tells what it told when the walk made an entry of each run of
    /// frames going up: the same pages, cut the same way.
    #[test]
    fn stretches_are_searched_as_entries_were(seed in any::<u64>(), lo in 0u64..64, len in 0u64..64) {
        let rng = Rng::new(seed);
        let mut last: u64 = 32;
        let frames: Vec<u64> = (0..rng.within(0, 200))
            .map(|_| {
                last = match rng.next() % 4 {
                    0 | 1 => last + 1,
                    2 => last.saturating_sub(1),
                    _ => rng.next() % 96,
                };
                last
            })
            .collect();
        let got: Vec<_> = ascending_within(&frames, lo, lo + len).collect();
        prop_assert_eq!(got, entries_within(&frames, lo, lo + len));
    }

    /// (a), (b), (c) for entries cut at random, and (d): cut nowhere they
    /// need not be, cut everywhere they may be and cut at random, a walk
    /// tells the same runs.
    #[test]
    fn runs_match_pages_and_do_not_depend_on_entries(
        layout in layout(),
        seed in any::<u64>(),
        percent in 0u32..100,
    ) {
        let rng = Rng::new(seed);
        let random = walk(&layout, || rng.chance(percent));
        let told = map(&layout, &random, Merge::Either, || false);
        check(&layout, &random, Merge::Either, &told)?;
        for (name, steps) in [
            ("fewest entries", walk(&layout, || false)),
            ("most entries", walk(&layout, || true)),
        ] {
            let other = map(&layout, &steps, Merge::Either, || false);
            check(&layout, &steps, Merge::Either, &other)?;
            prop_assert_eq!(&other, &told, "{} told other runs", name);
        }
    }

    /// `runs=plain`: runs only go up, by the same rule otherwise, however
    /// the entries are cut.
    #[test]
    fn plain_runs_only_go_up(
        layout in layout(),
        seed in any::<u64>(),
        percent in 0u32..100,
    ) {
        let rng = Rng::new(seed);
        let steps = walk(&layout, || rng.chance(percent));
        let told = map(&layout, &steps, Merge::Up, || false);
        check(&layout, &steps, Merge::Up, &told)?;
        prop_assert!(told.iter().all(|r| !matches!(r, Reply::Ok(t) if t.step == Way::Down)));
        let fewest = walk(&layout, || false);
        prop_assert_eq!(&map(&layout, &fewest, Merge::Up, || false), &told);
    }

    /// Telling a run fails at random; the map takes the same reply again
    /// (built in place, not rebuilt) and ends up telling exactly what it
    /// tells when nothing fails.
    #[test]
    fn failed_tells_lose_nothing(
        layout in layout(),
        seed in any::<u64>(),
        percent in 0u32..100,
        fail_percent in 1u32..80,
    ) {
        let rng = Rng::new(seed);
        let steps = walk(&layout, || rng.chance(percent));
        let clean = map(&layout, &steps, Merge::Either, || false);
        let mut failures = 0;
        let told = map(&layout, &steps, Merge::Either, || {
            let f = rng.chance(fail_percent);
            failures += usize::from(f);
            f
        });
        prop_assert_eq!(&told, &clean, "told other runs after {} failures", failures);
        check(&layout, &steps, Merge::Either, &told)?;
    }
}

fn slot() -> SlotFacts {
    SlotFacts {
        base_gfn: 0x100,
        npages: 0x1000,
        hva: 0x7f00_0000_0000,
        flags: 0,
        id: 1,
        as_id: 0,
    }
}

fn built(facts: PageFacts, gfn: u64) -> Reply {
    let mut r = BLANK;
    page_reply(&mut r, &facts, &slot(), gfn, 0, 77, false);
    r
}

#[test]
fn huge_zero_folio_by_ptes_is_a_run_per_page() {
    // Frames, host and guest addresses all go on: only the zero rule keeps
    // these apart.
    let page = |k: u64| PageFacts {
        pfn: HUGE_ZERO_PFN + k,
        pages: 1,
        present: true,
        zero: true,
        large: true,
        order: 9,
        level: MapLevel::Pte,
        ..PageFacts::default()
    };
    let mut runs = Runs::new();
    let mut told = Vec::new();
    for k in 0..4 {
        *runs.next_reply() = built(page(k), 0x100 + k);
        runs.take(|r| -> Result<(), ()> {
            told.push(*r);
            Ok(())
        })
        .unwrap();
    }
    runs.flush(|r| -> Result<(), ()> {
        told.push(*r);
        Ok(())
    })
    .unwrap();
    let want: Vec<Reply> = (0..4).map(|k| built(page(k), 0x100 + k)).collect();
    assert_eq!(told, want);
}

#[test]
fn a_whole_huge_zero_leaf_is_one_run() {
    let leaf = PageFacts {
        pfn: HUGE_ZERO_PFN,
        pages: 512,
        present: true,
        zero: true,
        large: true,
        order: 9,
        level: MapLevel::Pmd,
        ..PageFacts::default()
    };
    let next = PageFacts {
        pfn: HUGE_ZERO_PFN + 512,
        pages: 1,
        ..leaf
    };
    let mut runs = Runs::new();
    let mut told = Vec::new();
    let mut tell = |r: &Reply| -> Result<(), ()> {
        told.push(*r);
        Ok(())
    };
    *runs.next_reply() = built(leaf, 0x200);
    runs.take(&mut tell).unwrap();
    *runs.next_reply() = built(next, 0x400);
    runs.take(&mut tell).unwrap();
    runs.flush(&mut tell).unwrap();
    assert_eq!(told, [built(leaf, 0x200), built(next, 0x400)]);
}

#[test]
fn nothing_pending_tells_nothing() {
    let mut runs = Runs::default();
    runs.flush(|_| -> Result<(), ()> { panic!("told a run that was never taken") })
        .unwrap();
    assert_eq!(runs.last(), None);
}

#[test]
fn holes_pushed_in_pieces_are_one_run() {
    let mut runs = Runs::new();
    let mut told = Vec::new();
    let mut tell = |r: &Reply| -> Result<(), ()> {
        told.push(*r);
        Ok(())
    };
    runs.push(hole(10, 3, 5), &mut tell).unwrap();
    runs.push(hole(13, 1, 5), &mut tell).unwrap();
    assert_eq!(runs.last(), Some(&hole(10, 4, 5)));
    // Another pid, or a gap, starts a new run.
    runs.push(hole(14, 1, 6), &mut tell).unwrap();
    runs.push(hole(16, 1, 6), &mut tell).unwrap();
    runs.flush(&mut tell).unwrap();
    assert_eq!(told, [hole(10, 4, 5), hole(14, 1, 6), hole(16, 1, 6)]);
}
