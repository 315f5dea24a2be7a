// SPDX-License-Identifier: GPL-2.0
//! Property tests of `Runs::take_stretch`, the module's path for walk
//! entries of single pages with the same facts (scattered base pages: an
//! entry a page): it must tell exactly the bytes that building each page's
//! reply with `frame_reply` and taking it with `Runs::take` into
//! `Window::emit_run` tells, in text and in records, whatever runs and
//! frame list came before the stretch, and lose nothing when the reply
//! window cannot grow.

mod common;

use common::{Flaky, Rng};
use gfn_proto::facts::{frame_reply, page_reply, PageFacts, SlotFacts};
use gfn_proto::reply::{MapLevel, Reply, Translation};
use gfn_proto::runs::Runs;
use gfn_proto::window::Window;
use proptest::prelude::*;

const SLOT: SlotFacts = SlotFacts {
    base_gfn: 0x4_0000,
    npages: 1 << 20,
    hva: 0x7f00_0000_0000,
    flags: 0,
    id: 2,
    as_id: 0,
};

/// A page's facts: few kinds of them, so that stretches, runs and lists
/// meet pages with the same ones.
fn facts(rng: &Rng, pfn: u64) -> PageFacts {
    PageFacts {
        pfn,
        pages: 1,
        present: true,
        nid: (rng.next() % 2) as u32,
        zero: rng.chance(10),
        ksm: rng.chance(10),
        level: MapLevel::Pte,
        ..PageFacts::default()
    }
}

/// A frame after `last`: mostly anywhere, often one up or down, sometimes
/// the same one.
fn frame(rng: &Rng, last: u64) -> u64 {
    match rng.next() % 8 {
        0 => last + 1,
        1 => last - 1,
        2 => last,
        _ => 0x10_0000 + rng.next() % 0x1000,
    }
}

/// What comes before the stretch, and the stretch: `before` pages each
/// with its own facts, then the stretch's first page's facts and frames.
struct Case {
    before: Vec<PageFacts>,
    first: PageFacts,
    frames: Vec<u64>,
}

fn case(seed: u64) -> Case {
    let rng = Rng::new(seed);
    let mut last = 0x10_0800;
    let before = (0..rng.within(0, 40))
        .map(|_| {
            last = frame(&rng, last);
            facts(&rng, last)
        })
        .collect();
    last = frame(&rng, last);
    let first = facts(&rng, last);
    // Half the stretches are mostly long runs that go one way (memory
    // faulted in in order, on ascending or descending frames), now and
    // then broken by a frame anywhere.
    let long = rng.chance(50);
    let mut way = 1;
    let frames = (0..rng.within(1, 1200))
        .map(|i| {
            if i > 0 && long && !rng.chance(3) {
                last = last.wrapping_add_signed(way);
            } else if i > 0 {
                let before = last;
                last = frame(&rng, last);
                way = if last < before { -1 } else { 1 };
            }
            last
        })
        .collect();
    Case {
        before,
        first,
        frames,
    }
}

/// Takes the pages before the stretch, each built by `page_reply`.
fn lead_in(c: &Case, runs: &mut Runs, w: &mut Window<Flaky>, bin: bool) {
    for (i, page) in c.before.iter().enumerate() {
        page_reply(
            runs.next_reply(),
            page,
            &SLOT,
            SLOT.base_gfn + i as u64,
            0,
            7,
            false,
        );
        while runs.take(|r| w.emit_run(r, bin)).is_err() {}
    }
}

/// The stretch's first page, built by `page_reply`.
fn first_of(c: &Case) -> (Translation, u64) {
    let gfn = SLOT.base_gfn + c.before.len() as u64;
    let mut r = Reply::Vm {
        pid: 0,
        slots: 0,
        memory: 0,
        kvm: None,
    };
    page_reply(&mut r, &c.first, &SLOT, gfn, 0, 7, false);
    let Reply::Ok(t) = r else {
        panic!("not a translation")
    };
    (t, gfn)
}

/// The reply bytes, told page by page through `take`.
fn page_by_page(c: &Case, bin: bool) -> Vec<u8> {
    let mut w = Window::new(Flaky::new(0, 0));
    let mut runs = Runs::new();
    lead_in(c, &mut runs, &mut w, bin);
    let (first, gfn) = first_of(c);
    for (i, &pfn) in c.frames.iter().enumerate() {
        frame_reply(runs.next_reply(), &first, &SLOT, gfn + i as u64, pfn);
        runs.take(|r| w.emit_run(r, bin)).map_err(|_| ()).unwrap();
    }
    runs.flush(|r| w.emit_run(r, bin)).map_err(|_| ()).unwrap();
    w.bytes().to_vec()
}

/// The reply bytes, the stretch told through `take_stretch`, taken again
/// from where it stopped whenever the window could not grow (`failing`).
fn by_stretch(c: &Case, bin: bool, failing: Option<u64>) -> Vec<u8> {
    let store = Flaky::new(failing.unwrap_or(0), 0);
    let percent = store.percent.clone();
    let mut w = Window::new(store);
    let mut runs = Runs::new();
    lead_in(c, &mut runs, &mut w, bin);
    let (first, gfn) = first_of(c);
    percent.set(if failing.is_some() { 20 } else { 0 });
    let mut done = 0;
    let mut tries = 0;
    while done < c.frames.len() {
        let (n, r) = runs.take_stretch(
            &mut w,
            bin,
            &first,
            &SLOT,
            gfn + done as u64,
            &c.frames[done..],
        );
        // A page that failed is taken again (the rest may have been, or
        // not: `n` says).
        let _ = r;
        done += n as usize;
        tries += 1;
        assert!(tries < 100_000, "no progress");
    }
    percent.set(0);
    runs.flush(|r| w.emit_run(r, bin)).map_err(|_| ()).unwrap();
    w.bytes().to_vec()
}

fn cases() -> u32 {
    common::cases("GFN_STRETCH_CASES", 512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// A stretch tells the bytes its pages one at a time tell.
    #[test]
    fn stretches_tell_what_pages_do(seed in any::<u64>(), bin in any::<bool>()) {
        let c = case(seed);
        prop_assert_eq!(by_stretch(&c, bin, None), page_by_page(&c, bin));
    }

    /// And so they do when the window fails to grow at random, each
    /// stretch taken again from the page that failed.
    #[test]
    fn failing_stretches_lose_nothing(seed in any::<u64>(), bin in any::<bool>(), fail in any::<u64>()) {
        let c = case(seed);
        prop_assert_eq!(by_stretch(&c, bin, Some(fail)), page_by_page(&c, bin));
    }
}
