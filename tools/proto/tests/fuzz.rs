// SPDX-License-Identifier: GPL-2.0
//! Property tests of the shared grammar and reply format, the code the
//! kernel runs: on any input the tokenizer never panics and never
//! allocates, spans stay inside the write, and every reply line the
//! formatter prints parses back to itself; binary records decode without
//! panicking, and every record the module can write decodes back to its
//! reply and re-encodes to the same bytes.  `corpus/` holds inputs that
//! every run replays; proptest adds random and mutated ones
//! (GFN_FUZZ_CASES sets how many; `make soak` runs more).

mod common;

use gfn_proto::record::RECORD;
use gfn_proto::reply::{parse_line, Kind, KvmMaps, MapLevel, Reply, Share, Step, Translation};
use gfn_proto::request::{
    is_blank, line_within, lines, Line, Options, Reason, Span, Token, GFN_LIMIT, MAX_WRITE,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts this thread's allocations, so a test can prove parsing makes none.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the count
// is a thread-local Cell, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Walks a whole write as the module does; checks the invariants and
/// returns how many tokens it saw.
fn walk(input: &[u8]) -> usize {
    let before = ALLOCS.with(Cell::get);
    let mut count = 0;
    let mut last_end = 0;
    for line in lines(input) {
        let pid = line.pid();
        for (span, token) in line.tokens() {
            count += 1;
            assert!(
                span.len > 0 && span.offset >= last_end,
                "{span:?} after {last_end}"
            );
            last_end = span.offset + span.len;
            assert!(last_end <= input.len());
            let text = &input[span.offset..last_end];
            assert!(!text.iter().any(|b| b" \t\r\n\x0b\x0c,".contains(b)));
            if let Token::Addr(_) = token {
                assert!(text.len() > 2 && text[0] == b'0' && (text[1] | 0x20) == b'x');
            }
            if let Token::Range { gfn, pages } = token {
                assert!(pages >= 1 && pages <= GFN_LIMIT - gfn, "{gfn} + {pages}");
            }
            if let Token::Pid(p) = token {
                assert!((1..=gfn_proto::request::PID_MAX).contains(&p));
                // A line with a valid pid token has that pid, or none at all.
                assert!(
                    pid == Ok(Some(p)) || pid.is_err(),
                    "{pid:?} for pid token {p}"
                );
            }
        }
    }
    let after = ALLOCS.with(Cell::get);
    assert_eq!(before, after, "parsing allocated");
    assert_eq!(is_blank(input), count == 0, "is_blank");
    for line in lines(input) {
        header_agrees_with_tokens(input, line);
    }
    count
}

/// The one-pass header of a line against its tokens, classified one by one:
/// binary when any token is a valid `format=bin`; and, on a line without a
/// bad token, the options its option tokens give, each once (a pid named
/// twice is `duplicate-pid`, another option `duplicate-key`); resumed at
/// its start and length, the same line.
fn header_agrees_with_tokens(input: &[u8], line: Line<'_>) {
    let header = line.header();
    let tokens: Vec<Token> = line.tokens().map(|(_, t)| t).collect();
    assert_eq!(header.binary, tokens.contains(&Token::Bin(true)));
    if !tokens.iter().any(|t| matches!(t, Token::Bad(_))) {
        let mut want = Ok(Options::default());
        let mut seen = Vec::new();
        for t in tokens.iter().filter(|t| t.is_option()) {
            let kind = core::mem::discriminant(t);
            if seen.contains(&kind) {
                want = want.and(Err(match t {
                    Token::Pid(_) => Reason::DuplicatePid,
                    _ => Reason::DuplicateKey,
                }));
                break;
            }
            seen.push(kind);
            if let Ok(o) = want.as_mut() {
                match *t {
                    Token::Pid(p) => o.pid = Some(p),
                    Token::Fault(f) => o.fault = f,
                    Token::As(a) => o.as_id = a,
                    Token::Bin(b) => o.bin = b,
                    Token::Plain(p) => o.plain = p,
                    _ => unreachable!(),
                }
            }
        }
        assert_eq!(header.options, want, "{:?}", String::from_utf8_lossy(input));
    }
    let again = line_within(input, line.start(), line.len()).expect("the line's own bounds");
    assert_eq!(
        again.tokens().collect::<Vec<_>>(),
        line.tokens().collect::<Vec<_>>()
    );
}

#[test]
fn corpus_replays() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(input.len() <= MAX_WRITE);
        walk(&input);
        n += 1;
    }
    assert!(n >= 8, "corpus has {n} files");
}

fn cases() -> u32 {
    common::cases("GFN_FUZZ_CASES", 4096)
}

/// Inputs built from the grammar's own pieces, so mutations reach deep.
fn pieces() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"0x".to_vec()),
        Just(b"pid=".to_vec()),
        Just(b" ".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"=".to_vec()),
        Just(b"-".to_vec()),
        Just(b"+".to_vec()),
        Just(b"all".to_vec()),
        Just(b"vms".to_vec()),
        Just(b"slots".to_vec()),
        Just(b"mode=".to_vec()),
        Just(b"fault".to_vec()),
        Just(b"as=".to_vec()),
        Just(b"format=".to_vec()),
        Just(b"bin".to_vec()),
        Just(b"hpa=".to_vec()),
        "[0-9a-fA-FxX]{1,20}".prop_map(String::into_bytes),
        any::<u64>().prop_map(|v| format!("{v:#x}").into_bytes()),
        (0u64..5_000_000).prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    proptest::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

fn translation() -> impl Strategy<Value = Translation> {
    let kind = proptest::sample::select(vec![Kind::Base, Kind::Thp, Kind::Hugetlb]);
    let share = proptest::sample::select(vec![Share::None, Share::Zero, Share::Ksm]);
    let map = proptest::sample::select(vec![MapLevel::Pte, MapLevel::Pmd, MapLevel::Pud]);
    (
        (any::<u64>(), kind, any::<u64>(), any::<u64>(), any::<u32>()),
        (
            any::<u64>(),
            any::<u8>(),
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
        ),
        (share, map, any::<u64>()),
    )
        .prop_map(
            |(
                (phys, kind, gpa, hva, pid),
                (size, order, node, slot, as_id),
                (share, map, pages),
            )| {
                Translation {
                    phys,
                    kind,
                    gpa,
                    hva,
                    pid,
                    size,
                    order,
                    node,
                    slot,
                    as_id,
                    share,
                    map,
                    pages,
                    step: Step::Up,
                }
            },
        )
}

fn reply() -> impl Strategy<Value = Reply> {
    let reason = proptest::sample::select(Reason::ALL.to_vec());
    prop_oneof![
        translation().prop_map(Reply::Ok),
        (
            reason.clone(),
            any::<u64>(),
            any::<Option<u32>>(),
            any::<u64>()
        )
            .prop_map(|(reason, gpa, pid, pages)| Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages
            }),
        (reason, any::<usize>(), any::<usize>()).prop_map(|(reason, offset, len)| {
            Reply::TokenErr {
                reason,
                span: Span { offset, len },
            }
        }),
        (
            (any::<u32>(), any::<u32>(), any::<u64>()),
            proptest::option::of((any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()))
        )
            .prop_map(|((pid, slots, memory), kvm)| Reply::Vm {
                pid,
                slots,
                memory,
                kvm: kvm.map(|(k4, k2, k1, nx)| KvmMaps {
                    leaves: [k4, k2, k1.into()],
                    nx_splits: nx.into(),
                }),
            }),
        (
            (any::<u32>(), any::<u8>(), any::<u16>()),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>())
        )
            .prop_map(|((pid, as_id, id), (gpa, size, hva, flags))| Reply::Slot {
                pid,
                as_id,
                id,
                gpa,
                size,
                hva,
                flags
            }),
    ]
}

/// `r` as the module can produce it, which a record holds exactly: page
/// offsets of `phys` and `hva` those of `gpa`, `size` as `order` says, a
/// node below 65536, a pid never 0, memory and memslot sizes whole pages.
fn recordable(r: Reply) -> Reply {
    let page = |v: u64| v & !0xfff;
    match r {
        Reply::Ok(t) => {
            let order = t.order % 52;
            Reply::Ok(Translation {
                phys: page(t.phys) | (t.gpa & 0xfff),
                hva: page(t.hva) | (t.gpa & 0xfff),
                size: 4096 << order,
                order,
                // A record's node is 16 bits, and 65535 is how it writes a
                // node not known (u32::MAX): no node has that number.
                node: match t.node & 0xffff {
                    0xffff => u32::MAX,
                    node => node,
                },
                ..t
            })
        }
        Reply::AddrErr {
            reason,
            gpa,
            pid: Some(0),
            pages,
        } => Reply::AddrErr {
            reason,
            gpa,
            pid: None,
            pages,
        },
        Reply::Vm {
            pid,
            slots,
            memory,
            kvm,
        } => Reply::Vm {
            pid,
            slots,
            memory: page(memory),
            kvm,
        },
        Reply::Slot {
            pid,
            as_id,
            id,
            gpa,
            size,
            hva,
            flags,
        } => Reply::Slot {
            pid,
            as_id,
            id,
            gpa,
            size: page(size),
            hva,
            flags,
        },
        r => r,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        walk(&input);
    }

    #[test]
    fn grammar_pieces_never_panic(input in pieces()) {
        walk(&input);
    }

    #[test]
    fn printed_addresses_parse_back(addrs in proptest::collection::vec(any::<u64>(), 1..50), pid in 1u32..=4_194_304) {
        let text: String = addrs.iter().map(|a| format!("{a:#x} ")).collect::<String>() + &pid.to_string();
        let line = lines(text.as_bytes()).next().unwrap();
        prop_assert_eq!(line.pid(), Ok(Some(pid)));
        let got: Vec<u64> = line.tokens().filter_map(|(_, t)| match t { Token::Addr(a) => Some(a), _ => None }).collect();
        prop_assert_eq!(got, addrs);
    }

    #[test]
    fn replies_round_trip(r in reply()) {
        let text = r.to_string();
        prop_assert!(text.len() < gfn_proto::reply::MAX_LINE);
        prop_assert_eq!(parse_line(&text), Ok(r));
    }

    #[test]
    fn records_round_trip(r in reply()) {
        let r = recordable(r);
        let rec = r.to_record();
        prop_assert_eq!(Reply::from_record(&rec), Ok(r));
    }

    #[test]
    fn any_record_decodes_without_panic_and_re_encodes_exactly(bytes in proptest::collection::vec(any::<u8>(), RECORD)) {
        let rec: [u8; RECORD] = bytes.try_into().unwrap();
        if let Ok(r) = Reply::from_record(&rec) {
            prop_assert_eq!(r.to_record(), rec);
        }
    }

    #[test]
    fn mutated_records_decode_without_panic_and_re_encode_exactly(r in reply(), at in 0..RECORD, byte in any::<u8>()) {
        let mut rec = recordable(r).to_record();
        rec[at] = byte;
        if let Ok(r) = Reply::from_record(&rec) {
            prop_assert_eq!(r.to_record(), rec);
        }
    }
}
