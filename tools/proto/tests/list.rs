// SPDX-License-Identifier: GPL-2.0
//! Property tests of frame lists (`list.rs`) and of how a window tells a
//! map's runs in them (`Window::emit_run`).
//!
//! A map of scattered base pages is told mostly as lists: one head, then a
//! frame a page.  A list claims, for every page it holds, a guest address
//! (from the head's `gpa` on, a page at a time), a host frame and the
//! head's facts, so a list that joins a run it should not, or tells a page
//! at the wrong place, tells every tool reading the map something false.
//! The tests emit random sequences of map runs (up or down, of 1 to 20
//! pages, with facts that mostly go on and sometimes change, gaps in guest
//! addresses, error runs, replies of no pages and unaligned single
//! addresses in between) into a window, as text and as binary records,
//! read them back with `parse_item`/`decode_item` and check that:
//!
//! - expanding what was read into pages gives exactly the input's pages,
//!   in order, and the text and binary forms give the same pages;
//! - lists keep their limits: at most `MAX_LIST` frames, only runs that
//!   `listed` takes, whole runs with the head's facts at consecutive guest
//!   addresses; and the lists are exactly those the rule gives (a run that
//!   may join the open list joins it);
//! - decoding is canonical: arbitrary and mutated bytes and lines never
//!   panic, and an accepted binary item re-encodes (a list: its pages
//!   emitted again one at a time) to exactly the bytes it was read from;
//!   so does a text line the window wrote, or one whose frames changed.
//!   (A text head, like any reply line, may spell its fields more than
//!   one way — field order, unknown fields, leading zeros — so a text
//!   list changed elsewhere need only re-encode to a line of the same
//!   pages, which re-encodes to itself.)
//! - a store that fails to grow loses nothing: retrying the failed
//!   `emit_run` gives the bytes a store that never fails gets, and a
//!   failure appends nothing;
//! - `Window::clear` closes the open list.
//!
//! GFN_LIST_CASES sets how many cases each property runs.

mod common;

use common::{Flaky, NoMemory, Plain};
use gfn_proto::list::{decode_item, list_bytes, listed, parse_item, Item, MAX_LIST};
use gfn_proto::record::RECORD;
use gfn_proto::reply::{Kind, MapLevel, Reply, Share, Step, Translation};
use gfn_proto::request::{Reason, Span};
use gfn_proto::window::Window;
use proptest::prelude::*;

use gfn_proto::facts::PAGE_SIZE as PAGE;

fn cases() -> u32 {
    common::cases("GFN_LIST_CASES", 256)
}

/// `runs` emitted with `emit_run` into a window that never fails.
fn emitted(runs: &[Reply], bin: bool) -> Vec<u8> {
    let mut w = Window::new(Plain(Vec::new()));
    for r in runs {
        w.emit_run(r, bin).unwrap();
    }
    w.bytes().to_vec()
}

/// A page of base memory, from which the generators vary.
fn base(gpa: u64, frame: u64, pages: u64) -> Translation {
    Translation {
        phys: frame * PAGE,
        kind: Kind::Base,
        gpa,
        hva: 0x7f00_0000_0000 + gpa,
        pid: 42,
        size: PAGE,
        order: 0,
        node: 0,
        slot: 1,
        as_id: 0,
        share: Share::None,
        map: MapLevel::Pte,
        pages,
        step: Step::Up,
    }
}

/// How a case's runs are drawn, in percent of runs.
#[derive(Clone, Copy, Debug)]
struct Odds {
    /// Most pages a run has.
    max_pages: u64,
    /// A fact (or the hva) changes before the run.
    change: u8,
    /// A gap in guest addresses before the run.
    gap: u8,
    /// The run is an error run.
    err: u8,
    /// The run is a single address with an offset in its page.
    odd: u8,
    /// A reply of no guest pages (a token error, a VM, a memslot) comes
    /// between runs, as when a write's next request is answered.
    note: u8,
}

fn odds() -> impl Strategy<Value = Odds> {
    (
        proptest::sample::select(vec![2u64, 3, 5, 6, 15, 16, 20]),
        proptest::sample::select(vec![0u8, 2, 20]),
        proptest::sample::select(vec![0u8, 2, 20]),
        proptest::sample::select(vec![0u8, 5, 15]),
        proptest::sample::select(vec![0u8, 3]),
        proptest::sample::select(vec![0u8, 3]),
        0u8..4,
    )
        .prop_map(|(max_pages, change, gap, err, odd, note, calm)| {
            // A quarter of the cases have nothing that ends a list but
            // long runs and `MAX_LIST`, so lists reach it.
            let calm = calm == 0;
            Odds {
                max_pages,
                change: if calm { 0 } else { change },
                gap: if calm { 0 } else { gap },
                err: if calm { 0 } else { err },
                odd: if calm { 0 } else { odd },
                note: if calm { 0 } else { note },
            }
        })
}

/// The random choices for one run.
#[derive(Clone, Copy, Debug)]
struct Draw {
    what: u8,
    pages: u16,
    down: bool,
    change: u8,
    fact: u8,
    gap: u8,
    frame: u64,
    val: u32,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        (0u8..100, any::<u16>(), any::<bool>(), 0u8..100),
        (any::<u8>(), 0u8..100, any::<u64>(), any::<u32>()),
    )
        .prop_map(
            |((what, pages, down, change), (fact, gap, frame, val))| Draw {
                what,
                pages,
                down,
                change,
                fact,
                gap,
                frame,
                val,
            },
        )
}

/// A map's runs, as `Runs` would tell them: guest addresses going on from
/// run to run unless there is a gap, facts that go on unless they change,
/// host frames anywhere; sometimes a reply of no guest pages between them.
fn build(odds: &Odds, start: u64, draws: &[Draw]) -> Vec<Reply> {
    let mut facts = base(0, 0, 1);
    let mut gpa = (start % (1 << 40)) & !(PAGE - 1);
    let mut hva = facts.hva + gpa;
    let mut runs = Vec::new();
    for d in draws {
        let v = u64::from(d.val);
        if d.gap < odds.gap {
            let g = PAGE * (1 + v % 40);
            gpa += g;
            hva += g;
        }
        if d.change < odds.change {
            match d.fact % 9 {
                0 => facts.kind = Kind::ALL[v as usize % Kind::ALL.len()],
                1 => {
                    facts.order = [0, 9, 18][v as usize % 3];
                    facts.size = PAGE << facts.order;
                }
                2 => facts.node = [0, 1, 3, u32::MAX][v as usize % 4],
                3 => facts.slot = (v % 4) as u16,
                4 => facts.as_id = (v % 2) as u8,
                5 => facts.share = Share::ALL[v as usize % Share::ALL.len()],
                6 => facts.map = MapLevel::ALL[v as usize % MapLevel::ALL.len()],
                7 => facts.pid = 1 + (v % 5) as u32,
                _ => hva += PAGE * (1 + v % 7),
            }
        }
        let mut pages = 1 + u64::from(d.pages) % odds.max_pages;
        let frame = (1 << 20) + d.frame % (1 << 40);
        if d.what < odds.err {
            runs.push(Reply::AddrErr {
                reason: Reason::ALL[v as usize % Reason::ALL.len()],
                gpa,
                pid: d.down.then_some(facts.pid),
                pages,
            });
        } else if d.what < odds.err + odds.note {
            // No guest pages: the next run may start at the page after the
            // list before this reply, and must not join it.
            runs.push(match v % 3 {
                0 => Reply::TokenErr {
                    reason: Reason::ALL[v as usize % Reason::ALL.len()],
                    span: Span {
                        offset: (v % 4096) as usize,
                        len: 1 + (v % 20) as usize,
                    },
                },
                1 => Reply::Vm {
                    pid: facts.pid,
                    slots: 3,
                    memory: (1 << 30) + v * PAGE,
                    kvm: None,
                },
                _ => Reply::Slot {
                    pid: facts.pid,
                    as_id: 0,
                    id: facts.slot,
                    gpa: 0,
                    size: 1 << 30,
                    hva: 0x7f00_0000_0000,
                    flags: 0,
                },
            });
            continue;
        } else if d.what < odds.err + odds.note + odds.odd {
            // A single address keeps its offset in the page.
            let off = 1 + v % (PAGE - 1);
            pages = 1;
            runs.push(Reply::Ok(Translation {
                phys: frame * PAGE + off,
                gpa: gpa + off,
                hva: hva + off,
                pages,
                ..facts
            }));
        } else {
            runs.push(Reply::Ok(Translation {
                phys: frame * PAGE,
                gpa,
                hva,
                pages,
                step: if d.down && pages > 1 {
                    Step::Down
                } else {
                    Step::Up
                },
                ..facts
            }));
        }
        gpa += pages * PAGE;
        hva += pages * PAGE;
    }
    runs
}

/// A case: its odds and its runs.
fn map_runs() -> impl Strategy<Value = (Odds, Vec<Reply>)> {
    (
        odds(),
        any::<u64>(),
        proptest::collection::vec(draw(), 0..400),
    )
        .prop_map(|(odds, start, draws)| (odds, build(&odds, start, &draws)))
}

/// Pushes the pages `r` stands for: a translated run page by page, any
/// other reply as it is.
fn push_pages(r: &Reply, out: &mut Vec<Reply>) {
    match r {
        Reply::Ok(t) => out.extend((0..t.pages).map(|i| Reply::Ok(t.page(i)))),
        r => out.push(*r),
    }
}

fn pages_of_runs(runs: &[Reply]) -> Vec<Reply> {
    let mut out = Vec::new();
    for r in runs {
        push_pages(r, &mut out);
    }
    out
}

fn pages_of_items(items: &[Item<'_>]) -> Vec<Reply> {
    let mut out = Vec::new();
    for item in items {
        item.for_each(|r| push_pages(&r, &mut out));
    }
    out
}

/// The text reply read back: each line, newline included, and its item.
fn read_text(bytes: &[u8]) -> Vec<(&str, Item<'_>)> {
    let text = std::str::from_utf8(bytes).expect("text reply is not UTF-8");
    text.split_inclusive('\n')
        .map(|line| {
            assert!(line.ends_with('\n'), "line without newline: {line:?}");
            let item = parse_item(line).unwrap_or_else(|e| panic!("{e:?} reading {line:?}"));
            (line, item)
        })
        .collect()
}

/// The binary reply read back: each item's bytes and the item.
fn read_bin(bytes: &[u8]) -> Vec<(&[u8], Item<'_>)> {
    let mut items = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_item(&bytes[at..]) {
            Ok(Some((item, n))) => {
                items.push((&bytes[at..at + n], item));
                at += n;
            }
            Ok(None) => panic!("item at {at} of {} cut short", bytes.len()),
            Err(e) => panic!("{e:?} decoding at {at}"),
        }
    }
    items
}

fn items<'a, T>(read: &[(T, Item<'a>)]) -> Vec<Item<'a>> {
    read.iter().map(|(_, i)| *i).collect()
}

/// A list's head and frames, or a reply: what an item says, comparable.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Told {
    Reply(Reply),
    List(Translation, Vec<u64>),
}

fn told(item: &Item<'_>) -> Told {
    match item {
        Item::Reply(r) => Told::Reply(*r),
        Item::List(l) => Told::List(l.head, l.frames().collect()),
    }
}

/// The facts a list's pages share, which a run must have to join it.
fn facts(t: &Translation) -> impl PartialEq + std::fmt::Debug {
    (
        t.kind, t.size, t.order, t.node, t.slot, t.as_id, t.share, t.map, t.pid,
    )
}

/// What `emit_run` must tell for `runs`, stated independently of
/// `listed` and `joins`: a translated run of page-aligned addresses and
/// fewer pages than its own record (6) or line (16) costs in frames goes
/// into a list, joining the list told just before it when it has the
/// list's facts, starts at the guest and host page after the list's last,
/// and the list stays within `MAX_LIST` frames; any other reply is told
/// as it is.
fn rule(runs: &[Reply], bin: bool) -> Vec<Told> {
    let below = if bin { 6 } else { 16 };
    let mut out: Vec<Told> = Vec::new();
    for r in runs {
        let t = match r {
            Reply::Ok(t) if t.pages < below && (t.gpa | t.hva | t.phys) % PAGE == 0 => t,
            r => {
                out.push(Told::Reply(*r));
                continue;
            }
        };
        let frames = (0..t.pages).map(|i| t.page(i).phys / PAGE);
        if let Some(Told::List(head, have)) = out.last_mut() {
            let next = have.len() as u64 * PAGE;
            if facts(head) == facts(t)
                && t.gpa == head.gpa + next
                && t.hva == head.hva + next
                && have.len() as u64 + t.pages <= MAX_LIST
            {
                have.extend(frames);
                head.pages = have.len() as u64;
                continue;
            }
        }
        let head = Translation {
            phys: 0,
            step: Step::Up,
            ..*t
        };
        out.push(Told::List(head, frames.collect()));
    }
    out
}

/// The bytes `item` re-encodes to: a reply emitted, a list's pages
/// emitted again one at a time with `emit_run`.
fn re_encoded(item: &Item<'_>, bin: bool) -> Vec<u8> {
    let mut w = Window::new(Plain(Vec::new()));
    match item {
        Item::Reply(r) => w.emit(r, bin).unwrap(),
        Item::List(l) => {
            for page in l.pages() {
                w.emit_run(&Reply::Ok(page), bin).unwrap();
            }
        }
    }
    w.bytes().to_vec()
}

/// Decodes `bytes` as a reader would, but goes on 8 bytes later after an
/// error, so items are tried at many offsets: must not panic, and every
/// item accepted re-encodes to exactly the bytes it was read from.
fn decode_all_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut at = 0;
    while at < bytes.len() {
        match decode_item(&bytes[at..]) {
            Ok(Some((item, n))) => {
                prop_assert!(n >= RECORD && at + n <= bytes.len());
                if let Item::List(l) = &item {
                    prop_assert!(!l.is_empty() && l.len() <= MAX_LIST);
                    prop_assert_eq!(n as u64, list_bytes(l.len()));
                }
                let again = re_encoded(&item, true);
                prop_assert_eq!(
                    &again[..],
                    &bytes[at..at + n],
                    "{:?} at {} re-encodes to other bytes",
                    item,
                    at
                );
                at += n;
            }
            Ok(None) => break,
            Err(_) => at += 8,
        }
    }
    Ok(())
}

/// Checks a text line `parse_item` accepted: a list re-encodes to a line
/// that reads back to the same pages and re-encodes to itself; when
/// `exact`, to `line` itself (newline added if it had none).
fn text_canonical(line: &str, exact: bool) -> Result<(), TestCaseError> {
    let Ok(item) = parse_item(line) else {
        return Ok(());
    };
    let Item::List(l) = &item else {
        return Ok(());
    };
    prop_assert!(!l.is_empty() && l.len() <= MAX_LIST);
    let again = re_encoded(&item, false);
    if exact {
        let want = if line.ends_with('\n') {
            line.to_string()
        } else {
            format!("{line}\n")
        };
        prop_assert_eq!(
            std::str::from_utf8(&again).unwrap(),
            &want[..],
            "accepted list line re-encodes to another"
        );
    }
    let again = std::str::from_utf8(&again).unwrap();
    let back = parse_item(again).unwrap_or_else(|e| panic!("{e:?} reading {again:?}"));
    prop_assert!(matches!(back, Item::List(_)));
    prop_assert_eq!(pages_of_items(&[back]), pages_of_items(&[item]));
    prop_assert_eq!(re_encoded(&back, false), again.as_bytes());
    Ok(())
}

/// Checks the limits of the lists `got` read back from `runs` emitted
/// (binary when `bin`), and that they are exactly those `rule` gives.
fn check_limits(runs: &[Reply], got: &[Told], bin: bool) -> Result<(), TestCaseError> {
    let mut next = runs.iter();
    for item in got {
        match item {
            Told::Reply(r) => {
                prop_assert_eq!(Some(r), next.next(), "binary {}", bin);
                if let Reply::Ok(t) = r {
                    prop_assert!(!listed(t, bin), "{:?} listed, told alone (bin {})", t, bin);
                }
            }
            Told::List(head, frames) => {
                prop_assert!(!frames.is_empty() && frames.len() as u64 <= MAX_LIST);
                prop_assert_eq!(head.pages, frames.len() as u64);
                let mut have = 0;
                while have < frames.len() {
                    let Some(Reply::Ok(t)) = next.next() else {
                        return Err(TestCaseError::fail(format!(
                            "list {head:?} holds an error run or pages not emitted (binary {bin})"
                        )));
                    };
                    let below = if bin { 6 } else { 16 };
                    prop_assert!(listed(t, bin), "{:?} in a list (binary {})", t, bin);
                    prop_assert!(t.pages < below, "{:?} in a list (binary {})", t, bin);
                    prop_assert_eq!(facts(t), facts(head));
                    let off = have as u64 * PAGE;
                    prop_assert_eq!((t.gpa, t.hva), (head.gpa + off, head.hva + off));
                    for i in 0..t.pages {
                        prop_assert_eq!(frames.get(have), Some(&(t.page(i).phys / PAGE)));
                        have += 1;
                    }
                }
            }
        }
    }
    prop_assert!(next.next().is_none(), "runs left over (binary {})", bin);
    prop_assert_eq!(got, &rule(runs, bin)[..], "binary {}", bin);
    Ok(())
}

/// A list head (and frames, and bytes after them) valid but for the field
/// `broken` names, if any (see `near_valid_lists_decode_canonically`).
fn near_valid_list(head: &[u8], broken: u8, count: u64, frames: &[u64], extra: &[u8]) -> Vec<u8> {
    let mut rec = head.to_vec();
    let fix = |id: u8| broken != id;
    if fix(0) {
        rec[0] = 0;
        rec[1] &= 0xf0;
    }
    if fix(1) {
        rec[24] = 0;
        rec[25] &= 0xf0;
    }
    if !fix(13) {
        // The same offset in the page: what a single address has.
        let off = 1 + u16::from_le_bytes([head[0], head[1]]) % 4095;
        for at in [0, 24] {
            rec[at] = off as u8;
            rec[at + 1] = rec[at + 1] & 0xf0 | (off >> 8) as u8;
        }
    }
    if fix(2) {
        rec[8..16].copy_from_slice(&count.to_le_bytes());
    }
    if fix(3) {
        rec[16..24].fill(0);
    }
    if fix(4) {
        rec[38] = 0;
    }
    rec[39] = if fix(5) { 5 } else { head[39] % 8 };
    if fix(6) {
        rec[43] = 1 + head[43] % 6;
    }
    if fix(7) {
        rec[44] = head[44] % 52;
    }
    if fix(8) {
        rec[45] = head[45] % 4;
    }
    if fix(9) {
        rec[46] = head[46] % 3;
    }
    rec[47] = if fix(10) { 0 } else { 1 };
    let mut bytes = rec;
    let listed = if fix(12) { count } else { count - 1 };
    for (i, f) in frames.iter().take(listed as usize).enumerate() {
        let raw = !fix(11) && i as u64 == f % count;
        let f = if raw { f | 1 << 52 } else { f >> 12 };
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    if fix(12) {
        bytes.extend_from_slice(extra);
    }
    bytes
}

/// One change to a valid binary reply, aimed at an item's head, its count,
/// anywhere, or its end.
#[derive(Clone, Copy, Debug)]
struct Mutation {
    how: u8,
    item: usize,
    at: usize,
    value: u8,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (0u8..4, any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(how, item, at, value)| {
        Mutation {
            how,
            item,
            at,
            value,
        }
    })
}

/// `bytes`, a binary reply, with `changes` made to it.
fn mutate_binary(mut bytes: Vec<u8>, changes: &[Mutation]) -> Vec<u8> {
    let mut at = 0;
    let starts: Vec<(usize, usize)> = read_bin(&bytes)
        .iter()
        .map(|(b, _)| {
            at += b.len();
            (at - b.len(), b.len())
        })
        .collect();
    if starts.is_empty() {
        return bytes;
    }
    for m in changes {
        let (start, len) = starts[m.item % starts.len()];
        if start + RECORD > bytes.len() {
            continue;
        }
        match m.how {
            0 => bytes[start + m.at % RECORD] = m.value,
            1 => {
                let count = (m.at % (MAX_LIST as usize + 8)) as u64;
                bytes[start + 8..start + 16].copy_from_slice(&count.to_le_bytes());
            }
            2 => {
                let at = m.at % bytes.len();
                bytes[at] = m.value;
            }
            _ => bytes.truncate(start + m.at % len),
        }
        if bytes.is_empty() {
            break;
        }
    }
    bytes
}

/// Characters a mutated line gets: those of the grammar, and a few it
/// does not have.
const CHARS: &[u8] = b"0123456789abcdefABCDEFxg,=-+ \n\t";
/// Characters a mutated frame list gets: no whitespace, which parsers
/// are free to take anywhere.
const FRAME_CHARS: &[u8] = b"0123456789abcdefABCDEFxg,=-+";

/// One change to a text line: `(how, at, char, anywhere)`; see
/// `mutate_line`.
type Change = (u8, usize, usize, bool);

/// `line` with `changes` made to it: a character replaced, removed or
/// inserted, or frames appended; in the frames of a list line unless a
/// change is to go `anywhere`.  Also returns whether every change was in
/// the frames.
fn mutate_line(line: &str, changes: &[Change]) -> (String, bool) {
    let mut line = line.as_bytes().to_vec();
    let frames_at = line
        .windows(7)
        .position(|w| w == b"frames=")
        .map(|at| at + 7);
    let mut in_frames = frames_at.is_some();
    for &(how, at, c, anywhere) in changes {
        let lo = match frames_at {
            Some(f) if !anywhere => f,
            _ => {
                in_frames = false;
                0
            }
        }
        .min(line.len());
        let span = line.len() - lo;
        let chars = if in_frames { FRAME_CHARS } else { CHARS };
        let c = chars[c % chars.len()];
        match how {
            0 if span > 0 => line[lo + at % span] = c,
            1 if span > 0 => {
                line.remove(lo + at % span);
            }
            // More frames, to pass `MAX_LIST` or not.
            3 if in_frames => {
                let end = line.len() - usize::from(line.ends_with(b"\n"));
                let more: String = (0..at % 520)
                    .map(|i| format!(",{:x}", 0x1000 + i))
                    .collect();
                line.splice(end..end, more.bytes());
            }
            _ => line.insert(lo + at % (span + 1), c),
        }
    }
    (String::from_utf8(line).unwrap(), in_frames)
}

/// Emits `runs` into a window whose store fails at random, retrying each
/// failed `emit_run`; checks that a failure changes nothing produced.
fn emitted_flaky(
    runs: &[Reply],
    bin: bool,
    seed: u64,
    percent: u32,
) -> Result<Vec<u8>, TestCaseError> {
    let mut w = Window::new(Flaky::new(seed, percent));
    for r in runs {
        let mut tries = 0;
        loop {
            let before = w.bytes().to_vec();
            match w.emit_run(r, bin) {
                Ok(()) => break,
                Err(NoMemory) => {
                    prop_assert_eq!(
                        w.bytes(),
                        &before[..],
                        "a failed emit_run changed the reply"
                    );
                    tries += 1;
                    prop_assert!(tries < 1000);
                }
            }
        }
    }
    Ok(w.bytes().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Guards that what `emit_run` tells reads back as exactly the runs
    /// emitted: no page lost, added, moved or given another frame or fact,
    /// in text and in binary; that every text line ends with a newline (a
    /// newline written over when a list grows comes back at its end); and
    /// that `decode_item` asks for more bytes, rather than failing, when an
    /// item is cut short.
    #[test]
    fn lists_read_back_as_the_runs_emitted((_odds, runs) in map_runs(), cut in any::<u64>()) {
        let want = pages_of_runs(&runs);
        let text = emitted(&runs, false);
        prop_assert_eq!(pages_of_items(&items(&read_text(&text))), want.clone(), "text");
        let bin = emitted(&runs, true);
        let read = read_bin(&bin);
        prop_assert_eq!(pages_of_items(&items(&read)), want, "binary");
        for (bytes, _) in &read {
            let n = (cut % bytes.len() as u64) as usize;
            let cut_short = decode_item(&bytes[..n]);
            prop_assert!(matches!(cut_short, Ok(None)), "cut at {} of {}", n, bytes.len());
        }
    }

    /// Guards that the text and the binary form of the same runs tell the
    /// same pages, although they cut lists at other run lengths.
    #[test]
    fn text_and_binary_tell_the_same_pages((_odds, runs) in map_runs()) {
        let text = emitted(&runs, false);
        let bin = emitted(&runs, true);
        prop_assert_eq!(
            pages_of_items(&items(&read_text(&text))),
            pages_of_items(&items(&read_bin(&bin)))
        );
    }

    /// Guards the limits of lists: at most `MAX_LIST` frames, never a run
    /// `listed` refuses (binary runs of 6 pages or more, text runs of 16 or
    /// more, unaligned addresses, errors), only whole runs with the head's
    /// facts at consecutive guest and host pages.  And that the lists are
    /// exactly those the rule gives: a run that may join the list before
    /// it joins it, so a list is never cut short or split.
    #[test]
    fn lists_keep_their_limits((_odds, runs) in map_runs()) {
        let text = emitted(&runs, false);
        let got: Vec<Told> = read_text(&text).iter().map(|(_, i)| told(i)).collect();
        check_limits(&runs, &got, false)?;
        let bin = emitted(&runs, true);
        let got: Vec<Told> = read_bin(&bin).iter().map(|(_, i)| told(i)).collect();
        check_limits(&runs, &got, true)?;
    }

    /// Guards that `decode_item` never panics on arbitrary bytes and that
    /// every item it accepts re-encodes to exactly its bytes.
    #[test]
    fn arbitrary_bytes_decode_canonically(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_all_canonical(&bytes)?;
    }

    /// Guards the same for list heads valid but for one field at most (a
    /// misaligned gpa or hva, both misaligned alike, a count, frame,
    /// reason, tag, code, order or step that is not valid, a frame of 2^52
    /// or more, frames cut short), followed by other bytes: random bytes
    /// seldom reach a list's own checks, these mostly do, and are often
    /// accepted.
    #[test]
    fn near_valid_lists_decode_canonically(
        head in proptest::collection::vec(any::<u8>(), RECORD),
        broken in 0u8..26,
        count in 1u64..=MAX_LIST,
        frames in proptest::collection::vec(any::<u64>(), MAX_LIST as usize),
        extra in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = near_valid_list(&head, broken, count, &frames, &extra);
        decode_all_canonical(&bytes)?;
        let item = decode_item(&bytes);
        if broken == 12 {
            prop_assert!(matches!(item, Ok(None)), "a list cut short: {:?}", item);
        }
        if broken > 13 {
            let n = match item {
                Ok(Some((Item::List(_), n))) => n as u64,
                _ => 0,
            };
            prop_assert_eq!(n, list_bytes(count), "{:?}", item);
        }
    }

    /// Guards canonical decoding of valid binary replies changed in one
    /// place or a few: a head byte, a list's count, any byte, or the end.
    #[test]
    fn mutated_binary_replies_decode_canonically(
        (_odds, runs) in map_runs(),
        changes in proptest::collection::vec(mutation(), 1..6),
    ) {
        let bytes = emitted(&runs, true);
        decode_all_canonical(&bytes)?;
        decode_all_canonical(&mutate_binary(bytes, &changes))?;
    }

    /// Guards that `parse_item` never panics on arbitrary text, and that a
    /// list it accepts re-encodes to a line that means the same pages and
    /// re-encodes to itself.
    #[test]
    fn arbitrary_text_parses_without_panic(
        junk in "(list|ok|err:no_vm)?[ -~\n]{0,200}",
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        text_canonical(&junk, false)?;
        text_canonical(&String::from_utf8_lossy(&bytes), false)?;
    }

    /// Guards canonical parsing of valid text lines changed a character at
    /// a time: every line a window writes re-encodes to itself; a list
    /// line whose frames were changed (without whitespace) and is still
    /// accepted re-encodes to exactly itself (frames have one spelling:
    /// lowercase hex, no `0x`, no leading zeros, no empty frame, at most
    /// `MAX_LIST`); a list line changed anywhere and accepted re-encodes
    /// to a line of the same pages.
    #[test]
    fn mutated_text_lines_parse_canonically(
        (_odds, runs) in map_runs(),
        pick in any::<usize>(),
        changes in proptest::collection::vec(
            (0u8..4, any::<usize>(), any::<usize>(), any::<bool>()),
            1..4,
        ),
    ) {
        let bytes = emitted(&runs, false);
        let read = read_text(&bytes);
        for (line, item) in &read {
            let again = re_encoded(item, false);
            prop_assert_eq!(&again[..], line.as_bytes(), "a line written re-encodes to another");
        }
        // Mostly a list line, when there is one.
        let all: Vec<&str> = read.iter().map(|(l, _)| *l).collect();
        let lists: Vec<&str> = all.iter().copied().filter(|l| l.starts_with("list ")).collect();
        let pool = if pick % 4 != 0 && !lists.is_empty() { lists } else { all };
        let Some(line) = pool.get(pick / 4 % pool.len().max(1)) else {
            return Ok(());
        };
        let (line, in_frames) = mutate_line(line, &changes);
        // A frame change may have left a newline it did not write; keep
        // only the mutated line's trailing one.
        let exact = in_frames && !line.trim_end_matches('\n').contains('\n');
        text_canonical(&line, exact)?;
    }

    /// Guards that a store that cannot grow loses nothing: a failed
    /// `emit_run` appends nothing and changes no byte produced (not even a
    /// list's newline or count), and retrying it until it succeeds gives
    /// exactly the bytes of a store that never fails.
    #[test]
    fn failed_emits_lose_nothing(
        (_odds, runs) in map_runs(),
        seed in any::<u64>(),
        percent in 1u32..80,
    ) {
        for bin in [false, true] {
            let got = emitted_flaky(&runs, bin, seed, percent)?;
            prop_assert_eq!(got, emitted(&runs, bin), "binary {}", bin);
        }
    }

    /// Guards that `clear` closes the open list: what is emitted after it
    /// is what a fresh window gets, a list starting at offset 0, never
    /// pages added to a list whose head was dropped.
    #[test]
    fn clear_closes_the_list((_odds, runs) in map_runs(), cut in any::<usize>()) {
        let cut = cut % (runs.len() + 1);
        for bin in [false, true] {
            let mut w = Window::new(Plain(Vec::new()));
            for r in &runs[..cut] {
                w.emit_run(r, bin).unwrap();
            }
            w.clear();
            prop_assert!(w.is_empty());
            for r in &runs[cut..] {
                w.emit_run(r, bin).unwrap();
            }
            prop_assert_eq!(w.bytes(), &emitted(&runs[cut..], bin)[..], "binary {}", bin);
        }
    }
}

/// Scattered 1-page runs at consecutive guest pages: the lists they make.
fn scattered(pages: u64) -> Vec<Reply> {
    (0..pages)
        .map(|i| Reply::Ok(base(0x10_0000 + i * PAGE, 0x5_0000 + (i * 7919) % 4099, 1)))
        .collect()
}

/// Guards `MAX_LIST`: 1200 scattered pages make lists of 512, 512 and
/// 176 frames, in text and in binary, each starting where the last ended.
#[test]
fn long_lists_stop_at_max_list() {
    let runs = scattered(1200);
    for bin in [false, true] {
        let bytes = emitted(&runs, bin);
        let got: Vec<(u64, u64)> = if bin {
            read_bin(&bytes)
                .iter()
                .map(|(_, i)| match i {
                    Item::List(l) => (l.head.gpa, l.len()),
                    i => panic!("{i:?}"),
                })
                .collect()
        } else {
            read_text(&bytes)
                .iter()
                .map(|(_, i)| match i {
                    Item::List(l) => (l.head.gpa, l.len()),
                    i => panic!("{i:?}"),
                })
                .collect()
        };
        let first = 0x10_0000;
        assert_eq!(
            got,
            [
                (first, 512),
                (first + 512 * PAGE, 512),
                (first + 1024 * PAGE, 176)
            ],
            "binary {bin}"
        );
    }
}

/// Guards the run lengths `listed` takes: binary runs of 5 pages go into
/// lists, of 6 stay records; text runs of 15 pages go into lists, of 16
/// stay lines; an unaligned address or frame is never listed.
#[test]
fn long_runs_stay_runs() {
    for (bin, pages) in [(true, 5), (true, 6), (false, 15), (false, 16)] {
        let runs = [
            Reply::Ok(base(0x20_0000, 0x7_0000, pages)),
            Reply::Ok(base(0x20_0000 + pages * PAGE, 0x9_0000, pages)),
        ];
        let bytes = emitted(&runs, bin);
        let got: Vec<Told> = if bin {
            read_bin(&bytes).iter().map(|(_, i)| told(i)).collect()
        } else {
            read_text(&bytes).iter().map(|(_, i)| told(i)).collect()
        };
        if pages < if bin { 6 } else { 16 } {
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(got, rule(&runs, bin), "binary {bin}");
        } else {
            assert_eq!(got, runs.map(Told::Reply), "binary {bin}");
        }
    }
    let mut odd = base(0x20_0000, 0x7_0000, 1);
    odd.phys += 0x10;
    assert!(!listed(&odd, true) && !listed(&odd, false));
    assert!(!listed(&base(0x20_0010, 0x7_0000, 1), false));
}

/// Guards the exact bytes of a list grown in place: in text, the newline
/// of the open list is written over by the next frames' comma; in binary,
/// the head's count (bytes 8..16) is patched.
#[test]
fn grown_lists_have_exact_bytes() {
    let runs = [
        Reply::Ok(base(0x1000, 0xabc, 1)),
        Reply::Ok(Translation {
            step: Step::Down,
            ..base(0x2000, 0x1235, 2)
        }),
        Reply::Ok(base(0x4000, 0x10, 1)),
    ];
    let text = emitted(&runs, false);
    assert_eq!(
        std::str::from_utf8(&text).unwrap(),
        "list kind=base gpa=0x1000 hva=0x7f0000001000 pid=42 size=4096 order=0 node=0 \
         slot=1 as=0 share=none map=pte frames=abc,1235,1234,10\n"
    );
    let bin = emitted(&runs, true);
    assert_eq!(bin.len() as u64, list_bytes(4));
    assert_eq!(bin[8..16], 4u64.to_le_bytes());
    assert_eq!(bin[39], 5);
    let frames: Vec<u64> = bin[RECORD..]
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(frames, [0xabc, 0x1235, 0x1234, 0x10]);
}

/// Guards that `clear` closes a list: a run that would have joined the
/// list before the clear starts a new list at offset 0, with its own gpa
/// and count, in text and in binary.
#[test]
fn clear_starts_a_new_list_at_offset_zero() {
    for bin in [false, true] {
        let mut w = Window::new(Plain(Vec::new()));
        w.emit_run(&Reply::Ok(base(0x1000, 0x111, 2)), bin).unwrap();
        w.clear();
        let next = Reply::Ok(base(0x3000, 0x222, 1));
        w.emit_run(&next, bin).unwrap();
        let (item, n) = if bin {
            decode_item(w.bytes()).unwrap().unwrap()
        } else {
            let text = std::str::from_utf8(w.bytes()).unwrap();
            assert!(
                text.starts_with("list ") && text.ends_with('\n'),
                "{text:?}"
            );
            (parse_item(text).unwrap(), text.len())
        };
        assert_eq!(n, w.len(), "binary {bin}");
        let Item::List(l) = item else {
            panic!("{item:?}")
        };
        assert_eq!((l.head.gpa, l.len()), (0x3000, 1), "binary {bin}");
        assert_eq!(l.frames().collect::<Vec<_>>(), [0x222]);
    }
}

/// Guards the list head kept while a list is open: after a list grew, a
/// run a page after its end joins it, and a run after a gap as long as
/// the pages listed before the last run does not (it would be told at the
/// gap's guest pages, on the wrong frames).
#[test]
fn open_list_keeps_its_first_page() {
    for bin in [false, true] {
        let a = Reply::Ok(base(0x1000, 0xa, 1));
        let b = Reply::Ok(base(0x2000, 0xb, 1));
        // Directly after b.
        let c = Reply::Ok(base(0x3000, 0xc, 1));
        // After a gap of one page (0x3000), as many as were listed before b.
        let d = Reply::Ok(base(0x4000, 0xd, 1));
        for (runs, lists) in [([a, b, c], 1), ([a, b, d], 2)] {
            let bytes = emitted(&runs, bin);
            let n = if bin {
                read_bin(&bytes).len()
            } else {
                read_text(&bytes).len()
            };
            assert_eq!(n, lists, "{runs:?} binary {bin}");
            let got = if bin {
                pages_of_items(&items(&read_bin(&bytes)))
            } else {
                pages_of_items(&items(&read_text(&bytes)))
            };
            assert_eq!(got, pages_of_runs(&runs), "binary {bin}");
        }
    }
}

/// Guards `MAX_LIST` in what readers accept: a list of 512 frames reads
/// back, one of 513 does not, in text and in binary.
#[test]
fn readers_refuse_lists_past_max_list() {
    let frames = |n: u64| {
        (1..=n)
            .map(|f| format!("{f:x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let line = |n: u64| {
        format!(
            "list kind=base gpa=0x1000 hva=0x7f0000001000 pid=42 size=4096 order=0 node=0 \
             slot=1 as=0 share=none map=pte frames={}\n",
            frames(n)
        )
    };
    assert!(matches!(parse_item(&line(MAX_LIST)), Ok(Item::List(l)) if l.len() == MAX_LIST));
    assert!(parse_item(&line(MAX_LIST + 1)).is_err());
    let runs = scattered(MAX_LIST);
    let mut bytes = emitted(&runs, true);
    assert!(matches!(decode_item(&bytes), Ok(Some((Item::List(l), _))) if l.len() == MAX_LIST));
    bytes[8..16].copy_from_slice(&(MAX_LIST + 1).to_le_bytes());
    bytes.extend_from_slice(&0x77u64.to_le_bytes());
    assert!(decode_item(&bytes).is_err());
}

/// Guards that a reply of no guest pages told with `emit` between two runs
/// closes the list: the next run starts a list of its own even at the
/// page after the list's last, never writing over the reply's newline
/// (text) or counting frames that lie after it (binary).
#[test]
fn emit_closes_the_list() {
    let note = Reply::TokenErr {
        reason: Reason::InvalidToken,
        span: Span { offset: 7, len: 3 },
    };
    let a = Reply::Ok(base(0x1000, 0xa, 1));
    let b = Reply::Ok(base(0x2000, 0xb, 1));
    for bin in [false, true] {
        let mut w = Window::new(Plain(Vec::new()));
        w.emit_run(&a, bin).unwrap();
        w.emit(&note, bin).unwrap();
        w.emit_run(&b, bin).unwrap();
        let got: Vec<Told> = if bin {
            read_bin(w.bytes()).iter().map(|(_, i)| told(i)).collect()
        } else {
            read_text(w.bytes()).iter().map(|(_, i)| told(i)).collect()
        };
        assert_eq!(got, rule(&[a, note, b], bin), "binary {bin}");
        assert_eq!(got.len(), 3, "binary {bin}");
    }
}

/// Guards that a frame has one spelling in a list line (lowercase hex, no
/// `0x`, no sign, no leading zeros, below 2^52), so a line that reads back
/// re-encodes to itself: other spellings are refused.
#[test]
fn frames_have_one_spelling() {
    let line = |frames: &str| {
        format!(
            "list kind=thp gpa=0x200000 hva=0x7f0000200000 pid=7 size=2097152 order=9 node=1 \
             slot=2 as=0 share=none map=pte frames={frames}\n"
        )
    };
    for good in ["0", "1", "abc", "fffffffffffff", "1a2b3,0,19f07"] {
        let l = line(good);
        let item = parse_item(&l).unwrap_or_else(|e| panic!("{e:?} reading {l:?}"));
        assert_eq!(re_encoded(&item, false), l.as_bytes());
    }
    for bad in [
        "",
        "0abc",
        "00",
        "ABC",
        "aBc",
        "0x1a",
        "+1a",
        "-1",
        "1a,",
        ",1a",
        "1a,,2b",
        "10000000000000",
        "g",
        "1a;2b",
    ] {
        assert!(parse_item(&line(bad)).is_err(), "frames={bad:?} accepted");
    }
}

/// A run of no pages (which no map makes) is not listed: a list of none
/// could not be read back.
#[test]
fn zero_page_runs_stay_readable() {
    for bin in [false, true] {
        let bytes = emitted(&[Reply::Ok(base(0x1000, 0x10, 0))], bin);
        if bin {
            read_bin(&bytes);
        } else {
            read_text(&bytes);
        }
    }
}
