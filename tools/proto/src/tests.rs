// SPDX-License-Identifier: GPL-2.0
//! Unit tests of the grammar and the reply format.

use crate::record::{RecordError, RECORD};
use crate::reply::{
    parse_line, Kind, KvmMaps, MapLevel, ParseError, Reply, Share, Step, Translation, MAX_LINE,
};
use crate::request::{line_at, lines, Options, Reason, Span, Token, GFN_LIMIT, PID_MAX};
use std::string::ToString;
use std::vec::Vec;

/// A line's pid and its tokens.
type ParsedLine = (Result<Option<u32>, Reason>, Vec<(Span, Token)>);

/// Every line's pid and tokens, for compact assertions.
fn parse(input: &[u8]) -> Vec<ParsedLine> {
    lines(input)
        .map(|l| (l.pid(), l.tokens().collect()))
        .collect()
}

fn tokens(input: &[u8]) -> Vec<Token> {
    lines(input)
        .flat_map(|l| l.tokens().map(|(_, t)| t).collect::<Vec<_>>())
        .collect()
}

fn sp(offset: usize, len: usize) -> Span {
    Span { offset, len }
}

#[test]
fn seed_readme_example_is_four_addresses() {
    let p = parse(b"0x1111 0x2222 0x3333 0x4444\n");
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].0, Ok(None));
    let addrs: Vec<Token> = p[0].1.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        addrs,
        [0x1111, 0x2222, 0x3333, 0x4444].map(Token::Addr).to_vec()
    );
    assert_eq!(p[1].1, []);
}

#[test]
fn seed_client_address_then_pid() {
    let p = parse(b"0x1234 4242");
    assert_eq!(p[0].0, Ok(Some(4242)));
    assert_eq!(
        p[0].1,
        [
            (sp(0, 6), Token::Addr(0x1234)),
            (sp(7, 4), Token::Pid(4242))
        ]
    );
}

#[test]
fn explicit_pid_anywhere_on_the_line() {
    assert_eq!(parse(b"pid=4242 0x1234")[0].0, Ok(Some(4242)));
    assert_eq!(parse(b"0x1 0x2 pid=7 0x3")[0].0, Ok(Some(7)));
}

#[test]
fn separators() {
    assert_eq!(
        tokens(b" \t0x1,0x2,,\r\n\x0b0X3\x0c"),
        [Token::Addr(1), Token::Addr(2), Token::Addr(3)]
    );
    let p = parse(b"0x1\r\n0x2");
    assert_eq!(p[0].1, [(sp(0, 3), Token::Addr(1))]);
    assert_eq!(p[1].1, [(sp(5, 3), Token::Addr(2))]);
}

#[test]
fn empty_and_blank_writes_have_no_tokens() {
    for input in [&b""[..], b"\n", b" , \t\n\n", b"\r\n"] {
        assert!(tokens(input).is_empty(), "{input:?}");
    }
}

#[test]
fn hex_digits_case_and_limits() {
    assert_eq!(tokens(b"0xAbCdEf"), [Token::Addr(0xabcdef)]);
    assert_eq!(tokens(b"0xffffffffffffffff"), [Token::Addr(u64::MAX)]);
    assert_eq!(tokens(b"0x00000000000000001"), [Token::Addr(1)]);
    assert_eq!(
        tokens(b"0x10000000000000000"),
        [Token::Bad(Reason::Overflow)]
    );
}

#[test]
fn invalid_tokens() {
    for bad in [
        &b"-5"[..],
        b"0x",
        b"0xg",
        b"0x12z",
        b"abc",
        b"1a2b",
        b"x1",
        b"=",
        b"=5",
        b"0x1\0",
        b"\0",
        b"\xff",
    ] {
        assert_eq!(tokens(bad), [Token::Bad(Reason::InvalidToken)], "{bad:?}");
    }
}

#[test]
fn pids() {
    assert_eq!(tokens(b"1"), [Token::Pid(1)]);
    assert_eq!(tokens(b"pid=4194304"), [Token::Pid(PID_MAX)]);
    assert_eq!(tokens(b"0"), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"pid=0"), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"pid=4194305"), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"pid=99999999999"), [Token::Bad(Reason::Overflow)]);
    assert_eq!(tokens(b"99999999999"), [Token::Bad(Reason::Overflow)]);
    assert_eq!(tokens(b"pid="), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"pid=0x10"), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"pid=-1"), [Token::Bad(Reason::InvalidPid)]);
    assert_eq!(tokens(b"foo=1"), [Token::Bad(Reason::UnknownKey)]);
    assert_eq!(tokens(b"PID=1"), [Token::Bad(Reason::UnknownKey)]);
}

#[test]
fn a_line_with_a_bad_or_second_pid_has_no_pid() {
    assert_eq!(parse(b"pid=0 0x1000")[0].0, Err(Reason::InvalidPid));
    assert_eq!(parse(b"0x1000 99999999999")[0].0, Err(Reason::Overflow));
    assert_eq!(parse(b"0x1000 12 12")[0].0, Err(Reason::DuplicatePid));
    assert_eq!(parse(b"pid=1 0x1000 2")[0].0, Err(Reason::DuplicatePid));
    // A token that starts with a digit is taken as a (bad) pid, not ignored.
    assert_eq!(parse(b"0x1000 12ab")[0].0, Err(Reason::InvalidToken));
}

#[test]
fn lines_select_their_own_vm() {
    let p = parse(b"0x1 10\n0x2\npid=30 0x3\n");
    let pids: Vec<_> = p.iter().map(|l| l.0).collect();
    assert_eq!(pids, [Ok(Some(10)), Ok(None), Ok(Some(30)), Ok(None)]);
    assert_eq!(p[2].1[1], (sp(18, 3), Token::Addr(3)));
}

#[test]
fn reasons_round_trip_by_name() {
    for r in Reason::ALL {
        assert_eq!(Reason::from_name(r.as_str().as_bytes()), Some(r));
    }
    assert_eq!(Reason::from_name(b"nope"), None);
}

fn sample_replies() -> Vec<Reply> {
    let mut v = Vec::new();
    for (n, kind, share, map) in [
        (0u64, Kind::Base, Share::None, MapLevel::Pte),
        (u64::MAX, Kind::Thp, Share::Zero, MapLevel::Pmd),
        (0x1a5c01111, Kind::Hugetlb, Share::Ksm, MapLevel::Pud),
    ] {
        v.push(Reply::Ok(Translation {
            phys: n,
            kind,
            gpa: n,
            hva: n,
            pid: u32::MAX,
            size: n,
            order: u8::MAX,
            node: u32::MAX,
            slot: u16::MAX,
            as_id: u8::MAX,
            share,
            map,
            pages: n,
            step: Step::Up,
        }));
    }
    v.push(Reply::AddrErr {
        reason: Reason::NoMemslot,
        gpa: u64::MAX,
        pid: Some(PID_MAX),
        pages: u64::MAX,
    });
    v.push(Reply::AddrErr {
        reason: Reason::NotPresent,
        gpa: 0,
        pid: None,
        pages: 1,
    });
    v.push(Reply::TokenErr {
        reason: Reason::InvalidToken,
        span: sp(usize::MAX, usize::MAX),
    });
    v.push(Reply::Vm {
        pid: u32::MAX,
        slots: u32::MAX,
        memory: u64::MAX,
        kvm: None,
    });
    v.push(Reply::Vm {
        pid: u32::MAX,
        slots: u32::MAX,
        memory: u64::MAX,
        kvm: Some(KvmMaps {
            leaves: [u64::MAX, u64::MAX, u32::MAX.into()],
            nx_splits: u32::MAX.into(),
        }),
    });
    v.push(Reply::Slot {
        pid: u32::MAX,
        as_id: u8::MAX,
        id: u16::MAX,
        gpa: u64::MAX,
        size: u64::MAX,
        hva: u64::MAX,
        flags: u32::MAX,
    });
    v
}

fn translation() -> Translation {
    Translation {
        phys: 0x1a5c01111,
        kind: Kind::Base,
        gpa: 0x1111,
        hva: 0x7f0000001111,
        pid: 4242,
        size: 4096,
        order: 0,
        node: 0,
        slot: 1,
        as_id: 0,
        share: Share::None,
        map: MapLevel::Pte,
        pages: 1,
        step: Step::Up,
    }
}

#[test]
fn replies_format_as_documented() {
    let t = Reply::Ok(translation());
    assert_eq!(
        t.to_string(),
        "ok phys=0x1a5c01111 kind=base gpa=0x1111 hva=0x7f0000001111 pid=4242 size=4096 \
         order=0 node=0 slot=1 as=0 share=none map=pte"
    );
    let run = Reply::Ok(Translation {
        pages: 512,
        ..translation()
    });
    assert!(run.to_string().ends_with(" share=none map=pte pages=512"));
    let e = Reply::AddrErr {
        reason: Reason::NoVm,
        gpa: 0x10,
        pid: Some(7),
        pages: 1,
    };
    assert_eq!(e.to_string(), "err:no-vm gpa=0x10 pid=7");
    let e = Reply::AddrErr {
        reason: Reason::NotPresent,
        gpa: 0x10000,
        pid: Some(7),
        pages: 3,
    };
    assert_eq!(e.to_string(), "err:not-present gpa=0x10000 pid=7 pages=3");
    let e = Reply::TokenErr {
        reason: Reason::UnknownKey,
        span: sp(3, 5),
    };
    assert_eq!(e.to_string(), "err:unknown-key offset=3 len=5");
    let vm = Reply::Vm {
        pid: 60,
        slots: 2,
        memory: 1 << 30,
        kvm: None,
    };
    assert_eq!(vm.to_string(), "vm pid=60 slots=2 memory=1073741824");
    let vm = Reply::Vm {
        pid: 60,
        slots: 2,
        memory: 1 << 30,
        kvm: Some(KvmMaps {
            leaves: [7, 500, 0],
            nx_splits: 3,
        }),
    };
    assert_eq!(
        vm.to_string(),
        "vm pid=60 slots=2 memory=1073741824 kvm_4k=7 kvm_2m=500 kvm_1g=0 nx_splits=3"
    );
    let slot = Reply::Slot {
        pid: 60,
        as_id: 0,
        id: 3,
        gpa: 0x100000,
        size: 4096,
        hva: 0x7f0000000000,
        flags: 2,
    };
    assert_eq!(
        slot.to_string(),
        "slot pid=60 as=0 id=3 gpa=0x100000 size=4096 hva=0x7f0000000000 flags=0x2"
    );
}

#[test]
fn ranges() {
    assert_eq!(
        tokens(b"0x1000-0x3000 0x1fff-0x2001 0x0+512 0x5000+0x10"),
        [
            Token::Range { gfn: 1, pages: 2 },
            Token::Range { gfn: 1, pages: 2 },
            Token::Range { gfn: 0, pages: 512 },
            Token::Range { gfn: 5, pages: 16 },
        ]
    );
    assert_eq!(
        tokens(b"0x0-0xffffffffffffffff"),
        [Token::Range {
            gfn: 0,
            pages: GFN_LIMIT
        }]
    );
    assert_eq!(
        tokens(b"0xfffffffffffff000+1 0xfffffffffffff000+2"),
        [
            Token::Range {
                gfn: GFN_LIMIT - 1,
                pages: 1
            },
            Token::Bad(Reason::Overflow),
        ]
    );
    assert_eq!(
        tokens(b"0x2000-0x2000 0x3000-0x1000 0x1000+0 0x1000+0x0"),
        [Token::Bad(Reason::EmptyRange); 4]
    );
    assert_eq!(
        tokens(b"0x1000- 0x1000+ -0x1000 0x-1 0x1000-1000 0x10+1x 0x1+-1 0x1-0x2-0x3"),
        [Token::Bad(Reason::InvalidToken); 8]
    );
    assert_eq!(
        tokens(b"0x1+99999999999999999999"),
        [Token::Bad(Reason::Overflow)]
    );
}

#[test]
fn request_words() {
    assert_eq!(
        tokens(b"all vms slots"),
        [Token::All, Token::Vms, Token::Slots]
    );
    assert_eq!(
        tokens(b"ALL al allx"),
        [Token::Bad(Reason::InvalidToken); 3]
    );
}

#[test]
fn line_options() {
    let opts = |s: &[u8]| lines(s).next().unwrap().options();
    assert_eq!(opts(b"0x1"), Ok(Options::default()));
    assert_eq!(
        opts(b"mode=fault 0x1 as=1 pid=9"),
        Ok(Options {
            pid: Some(9),
            fault: true,
            as_id: 1,
            bin: false,
            plain: false,
        })
    );
    assert_eq!(opts(b"format=bin all").map(|o| o.bin), Ok(true));
    assert_eq!(opts(b"format=text all").map(|o| o.bin), Ok(false));
    assert_eq!(opts(b"format=bin format=bin"), Err(Reason::DuplicateKey));
    assert_eq!(opts(b"format=json all"), Err(Reason::InvalidValue));
    let binary = |s: &[u8]| lines(s).next().unwrap().binary();
    assert!(binary(b"all format=bin"));
    // A bad option spoils the line's requests, yet its errors are records.
    assert!(binary(b"format=bin mode=x 0x1"));
    assert!(!binary(b"all") && !binary(b"format=text all") && !binary(b"format=Bin"));
    assert_eq!(opts(b"mode=nofault all").map(|o| o.fault), Ok(false));
    assert_eq!(opts(b"mode=fault mode=fault"), Err(Reason::DuplicateKey));
    assert_eq!(opts(b"as=0 as=1"), Err(Reason::DuplicateKey));
    assert_eq!(opts(b"pid=1 2"), Err(Reason::DuplicatePid));
    assert_eq!(opts(b"mode=fast 0x1"), Err(Reason::InvalidValue));
    assert_eq!(opts(b"as=2 0x1"), Err(Reason::InvalidValue));
    assert_eq!(opts(b"as= 0x1"), Err(Reason::InvalidValue));
    assert_eq!(opts(b"size=1 0x1"), Ok(Options::default()));
    assert_eq!(
        tokens(b"mode=fault as=1 mode=x"),
        [
            Token::Fault(true),
            Token::As(1),
            Token::Bad(Reason::InvalidValue)
        ]
    );
    assert!(Token::As(0).is_option() && Token::Pid(1).is_option());
    assert!(!Token::All.is_option() && !Token::Bad(Reason::InvalidPid).is_option());
}

#[test]
fn resuming_lines_and_tokens() {
    let buf = b"0x1 0x2\n\nall pid=3";
    let (first, next) = line_at(buf, 0).unwrap();
    assert_eq!(next, Some(8));
    let mut pos = 0;
    assert_eq!(first.token_at(&mut pos), Some((sp(0, 3), Token::Addr(1))));
    assert_eq!(first.token_at(&mut pos), Some((sp(4, 3), Token::Addr(2))));
    assert_eq!(first.token_at(&mut pos), None);
    let (empty, next) = line_at(buf, 8).unwrap();
    assert_eq!((empty.start(), next), (8, Some(9)));
    let (last, next) = line_at(buf, 9).unwrap();
    assert_eq!(next, None);
    assert_eq!(last.tokens().count(), 2);
    assert!(line_at(buf, buf.len() + 1).is_none());
}

#[test]
fn replies_round_trip_and_fit_max_line() {
    for r in sample_replies() {
        let text = r.to_string();
        assert!(text.len() < MAX_LINE, "{text}");
        assert_eq!(parse_line(&text), Ok(r));
        assert_eq!(parse_line(&(text + "\n")), Ok(r));
    }
}

#[test]
fn parser_ignores_unknown_fields_and_rejects_garbage() {
    let line = "ok phys=0x1000 kind=thp gpa=0x0 hva=0x2000 pid=1 size=2097152 node=0 order=9 \
                slot=0 as=0 share=none map=pmd future=1";
    assert!(matches!(parse_line(line), Ok(Reply::Ok(t)) if t.kind == Kind::Thp));
    assert_eq!(parse_line(""), Err(ParseError::UnknownStatus));
    assert_eq!(parse_line("okay phys=0x1"), Err(ParseError::UnknownStatus));
    assert_eq!(
        parse_line("err:bogus gpa=0x1"),
        Err(ParseError::UnknownStatus)
    );
    assert_eq!(
        parse_line("ok phys=0x1 kind=base gpa=0x1 hva=0x1 pid=1 share=none map=pte"),
        Err(ParseError::MissingField("size"))
    );
    assert_eq!(
        parse_line(
            "ok phys=0x1 kind=base gpa=0x1 hva=0x1 pid=1 size=1 order=0 node=0 slot=0 as=0 \
             share=none"
        ),
        Err(ParseError::MissingField("map"))
    );
    assert_eq!(
        parse_line(
            "ok phys=0x1 kind=base gpa=0x1 hva=0x1 pid=1 size=1 order=0 node=0 slot=0 as=0 \
             share=none map=p4d"
        ),
        Err(ParseError::BadValue("map"))
    );
    assert_eq!(
        parse_line("ok phys=1 kind=base gpa=0x1 hva=0x1 pid=1 size=1 share=none map=pte"),
        Err(ParseError::BadValue("phys"))
    );
    assert_eq!(
        parse_line("ok phys=0x1 kind=big gpa=0x1 hva=0x1 pid=1 size=1 share=none map=pte"),
        Err(ParseError::BadValue("kind"))
    );
    assert_eq!(
        parse_line("err:no-vm gpa=0x1 junk"),
        Err(ParseError::BadField)
    );
    assert_eq!(
        parse_line("err:no-vm gpa=0x+1"),
        Err(ParseError::BadValue("gpa"))
    );
}

#[test]
fn records_are_laid_out_as_documented() {
    let mut t = translation();
    t.kind = Kind::Thp;
    t.order = 9;
    t.size = 2 << 20;
    t.map = MapLevel::Pmd;
    t.share = Share::Ksm;
    t.node = 1;
    t.as_id = 1;
    t.pages = 3;
    let rec = Reply::Ok(t).to_record();
    assert_eq!(rec.len(), RECORD);
    assert_eq!(&rec[0..8], &0x1111u64.to_le_bytes(), "gpa");
    assert_eq!(&rec[8..16], &3u64.to_le_bytes(), "pages");
    assert_eq!(&rec[16..24], &0x1a5c01u64.to_le_bytes(), "frame");
    assert_eq!(&rec[24..32], &0x7f0000001111u64.to_le_bytes(), "hva");
    assert_eq!(&rec[32..36], &4242u32.to_le_bytes(), "pid");
    assert_eq!(&rec[36..38], &1u16.to_le_bytes(), "node");
    assert_eq!((rec[38], rec[39]), (0, 1), "reason, tag");
    assert_eq!(&rec[40..42], &1u16.to_le_bytes(), "slot");
    assert_eq!(&rec[42..48], &[1, 2, 9, 2, 2, 0], "as kind order map share");
    assert_eq!(Reply::from_record(&rec), Ok(Reply::Ok(t)));

    let err = Reply::AddrErr {
        reason: Reason::NotPresent,
        gpa: 0x2000,
        pid: Some(7),
        pages: 5,
    };
    let rec = err.to_record();
    assert_eq!((rec[38], rec[39]), (Reason::NotPresent.code(), 1));
    assert_eq!(
        Reason::from_code(Reason::NotPresent.code()),
        Some(Reason::NotPresent)
    );
    assert_eq!(Reply::from_record(&rec), Ok(err));
    let tok = Reply::TokenErr {
        reason: Reason::InvalidToken,
        span: sp(3, 2),
    };
    assert_eq!(tok.to_record()[39], 2);
    assert_eq!(Reply::from_record(&tok.to_record()), Ok(tok));
}

#[test]
fn reason_codes_never_change() {
    // Programs keep these numbers: new reasons are appended, never moved.
    let codes: Vec<(u8, &str)> = Reason::ALL.iter().map(|r| (r.code(), r.as_str())).collect();
    assert_eq!(codes[0], (1, "invalid-token"));
    assert_eq!(codes[12], (13, "empty-range"));
    assert_eq!(codes[13], (14, "not-present"));
    assert_eq!(codes[16], (17, "no-mem"));
    assert_eq!(Reason::from_code(0), None);
    assert_eq!(Reason::from_code(Reason::ALL.len() as u8 + 1), None);
}

#[test]
fn records_the_module_would_not_write_are_refused() {
    let good = Reply::Ok(translation()).to_record();
    let mut bad = good;
    bad[39] = 9;
    assert_eq!(Reply::from_record(&bad), Err(RecordError::UnknownTag(9)));
    let mut bad = good;
    bad[43] = 0;
    assert_eq!(Reply::from_record(&bad), Err(RecordError::BadValue("kind")));
    // A run of one page does not go down; no step is 2.
    let mut bad = good;
    bad[47] = 1;
    assert_eq!(Reply::from_record(&bad), Err(RecordError::BadValue("step")));
    let mut down = Reply::Ok(Translation {
        pages: 2,
        step: Step::Down,
        ..translation()
    })
    .to_record();
    assert!(Reply::from_record(&down).is_ok());
    down[47] = 2;
    assert_eq!(
        Reply::from_record(&down),
        Err(RecordError::BadValue("step"))
    );
    // Only translated runs have a step.
    let mut bad = Reply::Slot {
        pid: 1,
        as_id: 0,
        id: 1,
        gpa: 0,
        size: 4096,
        hva: 0x1000,
        flags: 0,
    }
    .to_record();
    bad[47] = 1;
    assert_eq!(Reply::from_record(&bad), Err(RecordError::BadValue("step")));
    let mut bad = good;
    bad[38] = 200;
    assert!(Reply::from_record(&bad).is_err(), "an error run with facts");
    for r in sample_replies() {
        // Any record that decodes re-encodes to the same bytes.
        let rec = r.to_record();
        if let Ok(back) = Reply::from_record(&rec) {
            assert_eq!(back.to_record(), rec, "{r:?}");
        }
    }
}

#[test]
fn hpa_asks_for_host_pages() {
    assert_eq!(
        tokens(b"hpa=0x1f5f0080"),
        [Token::Hpa {
            pfn: 0x1f5f0,
            pages: 1,
            offset: 0x80
        }]
    );
    assert_eq!(
        tokens(b"hpa=0x1000-0x3001 hpa=0x4000+2"),
        [
            Token::Hpa {
                pfn: 1,
                pages: 3,
                offset: 0
            },
            Token::Hpa {
                pfn: 4,
                pages: 2,
                offset: 0
            }
        ]
    );
    assert_eq!(
        tokens(b"hpa=0x2000-0x1000"),
        [Token::Bad(Reason::EmptyRange)]
    );
    assert_eq!(tokens(b"hpa=42"), [Token::Bad(Reason::InvalidToken)]);
    assert_eq!(tokens(b"hpa="), [Token::Bad(Reason::InvalidToken)]);
    assert!(!Token::Hpa {
        pfn: 0,
        pages: 1,
        offset: 0
    }
    .is_option());
    // Not an option: any number of them, beside the line's options.
    let line = lines(b"hpa=0x1000 hpa=0x2000 pid=3").next().unwrap();
    assert_eq!(line.options().map(|o| o.pid), Ok(Some(3)));
    assert_eq!(Reason::NotGuestMemory.code(), 18);
}

#[test]
fn vm_replies_carry_what_kvm_maps() {
    let kvm = KvmMaps {
        leaves: [0x0102, 0x0304, 0x0506],
        nx_splits: 0x0708,
    };
    let vm = Reply::Vm {
        pid: 9,
        slots: 2,
        memory: 8 << 20,
        kvm: Some(kvm),
    };
    // Each count where the layout says, and the flag that they are there.
    let r = vm.to_record();
    assert_eq!(r[0..8], 0x0102u64.to_le_bytes());
    assert_eq!(r[24..32], 0x0304u64.to_le_bytes());
    assert_eq!(r[36..38], [1, 0]);
    assert_eq!(r[40..44], 0x0506u32.to_le_bytes());
    assert_eq!(r[44..48], 0x0708u32.to_le_bytes());
    assert_eq!(Reply::from_record(&r), Ok(vm));
    // Text: all four counts, or none.
    let line = vm.to_string();
    assert_eq!(parse_line(&line), Ok(vm));
    let partial = line.replace(" nx_splits=1800", "");
    assert_eq!(
        parse_line(&partial),
        Err(ParseError::MissingField("nx_splits"))
    );
    let none = Reply::Vm {
        pid: 9,
        slots: 2,
        memory: 8 << 20,
        kvm: None,
    };
    assert_eq!(parse_line(&none.to_string()), Ok(none));
    // Without the flag, the fields that would hold counts are zero.
    let r = none.to_record();
    assert_eq!(r[36..38], [0, 0]);
    for at in [0, 24, 40, 44] {
        let mut bad = r;
        bad[at] = 1;
        assert!(Reply::from_record(&bad).is_err(), "byte {at}");
    }
    let mut bad = r;
    bad[36] = 2;
    assert_eq!(Reply::from_record(&bad), Err(RecordError::BadValue("node")));
    // What KVM maps, in bytes.
    assert_eq!(
        kvm.mapped(),
        0x0102 * 4096 + 0x0304 * (2 << 20) + 0x0506 * (1 << 30)
    );
}

#[test]
fn a_record_tells_nodes_up_to_65534_and_a_node_not_known() {
    // 65535 is how a record writes a node not known; a node number the
    // kernel can have (below 1024) and the largest other value come back.
    for node in [0, 1, 1023, 65534, u32::MAX] {
        let t = Translation {
            node,
            ..translation()
        };
        assert_eq!(
            Reply::from_record(&Reply::Ok(t).to_record()),
            Ok(Reply::Ok(t))
        );
    }
    let rec = Reply::Ok(Translation {
        node: u32::MAX,
        ..translation()
    })
    .to_record();
    assert_eq!(rec[36..38], [0xff, 0xff]);
}
