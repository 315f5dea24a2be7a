// SPDX-License-Identifier: GPL-2.0
//! Property tests of `window::Paged`, the reply of an open file produced a
//! chunk at a time ahead of reads, and of `window::Window`, which holds it.
//!
//! A map of a large VM is far more reply than the module may hold, and
//! both producing it (no memory, a killed wait) and copying it to the
//! reader (a fault in the user's buffer) fail now and then.  The tests
//! produce random replies, text lines and binary records, a chunk of at
//! most K replies per fill, with the producer, its storage and the
//! reader's buffer failing at random, and read them in reads of random
//! lengths into buffers that fault at page boundaries, retrying after
//! errors as a reader does.  They check that what the reader gets is the
//! whole reply byte for byte (nothing lost, nothing told twice), that every
//! read returns bytes until the end and 0 at the end, that a failed read
//! takes no bytes and leaves the file position alone, that no read produces
//! more after it copied something, that no read writes past the room its
//! buffer has before a fault, and that memory stays bounded: the window
//! never holds more than one chunk.  Also: reading again from 0 while the
//! reply fits in one chunk, reading before the current chunk (dropped),
//! and negative positions.

mod common;

use common::{Plain, Rng};
use gfn_proto::reply::{Kind, MapLevel, Reply, Share, Step, Translation, MAX_LINE};
use gfn_proto::request::{Reason, Span};
use gfn_proto::window::{Misread, Paged, Produce, Sink, Store, Window};
use proptest::prelude::*;
use std::cell::Cell;
use std::rc::Rc;

/// How often each thing fails, in percent.
#[derive(Clone, Copy, Debug)]
struct Odds {
    produce: u32,
    store: u32,
    sink: u32,
}

/// Why a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Error {
    /// The producer failed (a killed wait).
    Produce,
    /// The window's storage could not grow.
    NoMemory,
    /// The reader's buffer faulted.
    Fault,
    Misread(Misread),
}

impl From<Misread> for Error {
    fn from(m: Misread) -> Error {
        Error::Misread(m)
    }
}

impl From<Fault> for Error {
    fn from(_: Fault) -> Error {
        Error::Fault
    }
}

/// A fault in the reader's buffer.
#[derive(Debug)]
struct Fault;

/// What the test watches as the reply is produced and read.
#[derive(Default)]
struct Watch {
    /// Most bytes the window's storage ever had.
    peak: Cell<usize>,
    /// Bytes the current read has copied so far.
    copied: Cell<usize>,
    /// Fills asked for after the current read copied something.
    late_fills: Cell<usize>,
}

/// Storage that fails to grow at random, and records its size.
struct Mem {
    bytes: Vec<u8>,
    rng: Rc<Rng>,
    odds: Odds,
    watch: Rc<Watch>,
}

impl Store for Mem {
    type Error = Error;

    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn grow_to(&mut self, len: usize) -> Result<(), Error> {
        assert!(
            len > self.bytes.len(),
            "grown to {len} from {}",
            self.bytes.len()
        );
        if self.rng.chance(self.odds.store) {
            return Err(Error::NoMemory);
        }
        self.bytes.resize(len, 0);
        self.watch.peak.set(self.watch.peak.get().max(len));
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

/// Emits `replies` (each with whether it is binary), at most `k` a fill
/// (exactly `k` when `exact`), failing at random after appending part of a
/// chunk; sometimes a chunk has nothing, which must not end the reply.
struct Producer {
    replies: Rc<[(Reply, bool)]>,
    next: usize,
    k: usize,
    exact: bool,
    rng: Rc<Rng>,
    odds: Odds,
    watch: Rc<Watch>,
}

impl Produce<Mem> for Producer {
    type Error = Error;

    fn fill(&mut self, window: &mut Window<Mem>) -> Result<bool, Error> {
        let w = &self.watch;
        if w.copied.get() > 0 {
            w.late_fills.set(w.late_fills.get() + 1);
        }
        let n = if self.exact {
            self.k
        } else if self.rng.chance(10) {
            0
        } else {
            self.rng.within(1, self.k)
        };
        for _ in 0..n {
            let Some(&(reply, bin)) = self.replies.get(self.next) else {
                break;
            };
            if self.rng.chance(self.odds.produce) {
                return Err(Error::Produce);
            }
            let before = window.len();
            if let Err(e) = window.emit(&reply, bin) {
                assert_eq!(window.len(), before, "a failed emit appended");
                return Err(e);
            }
            self.next += 1;
        }
        Ok(self.next == self.replies.len())
    }
}

/// A reader's buffer from a random place in a page: room to the end of the
/// page, then the next page (which may fault), and so on.
struct User {
    addr: u64,
    got: Vec<u8>,
    rng: Rc<Rng>,
    odds: Odds,
    watch: Rc<Watch>,
}

impl Sink for User {
    type Error = Fault;

    fn room(&self) -> usize {
        4096 - (self.addr % 4096) as usize
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        assert!(
            !bytes.is_empty() && bytes.len() <= self.room(),
            "wrote {} bytes with room for {}",
            bytes.len(),
            self.room()
        );
        if self.rng.chance(self.odds.sink) {
            return Err(Fault);
        }
        self.got.extend_from_slice(bytes);
        self.addr += bytes.len() as u64;
        let c = &self.watch.copied;
        c.set(c.get() + bytes.len());
        Ok(())
    }
}

/// The whole reply, produced without failures: the bytes a reader must get.
fn whole(replies: &[(Reply, bool)]) -> Vec<u8> {
    let mut w = Window::new(Plain(Vec::new()));
    let mut want = Vec::new();
    for (r, bin) in replies {
        w.emit(r, *bin).unwrap();
        if *bin {
            want.extend_from_slice(&r.to_record());
        } else {
            want.extend_from_slice(r.encode().as_bytes());
            want.push(b'\n');
        }
    }
    assert_eq!(w.bytes(), &want[..], "emit wrote other bytes than encode");
    want
}

/// Most bytes any `k` replies in a row take: what one chunk can hold.
fn chunk_bound(replies: &[(Reply, bool)], k: usize) -> usize {
    let lens: Vec<usize> = replies
        .iter()
        .map(|(r, bin)| whole(&[(*r, *bin)]).len())
        .collect();
    lens.windows(k.min(lens.len()).max(1))
        .map(|w| w.iter().sum())
        .max()
        .unwrap_or(0)
}

/// A file being read: its reply, and what the test watches.
struct File {
    paged: Paged<Mem, Producer>,
    rng: Rc<Rng>,
    odds: Odds,
    watch: Rc<Watch>,
}

/// Answers a request with `replies`, `k` a chunk: the write is retried,
/// from scratch, until its first chunk is produced, as a writer does after
/// an error.
fn answer(replies: &[(Reply, bool)], k: usize, exact: bool, seed: u64, odds: Odds) -> File {
    let rng = Rc::new(Rng::new(seed));
    let watch = Rc::new(Watch::default());
    let replies: Rc<[(Reply, bool)]> = replies.into();
    for _ in 0..10_000 {
        let window = Window::new(Mem {
            bytes: Vec::new(),
            rng: rng.clone(),
            odds,
            watch: watch.clone(),
        });
        let producer = Producer {
            replies: replies.clone(),
            next: 0,
            k,
            exact,
            rng: rng.clone(),
            odds,
            watch: watch.clone(),
        };
        if let Ok(paged) = Paged::answer(window, producer) {
            return File {
                paged,
                rng,
                odds,
                watch,
            };
        }
    }
    panic!("no answer in 10000 writes");
}

impl File {
    /// One `read(2)` of up to `len` bytes at `*pos` into a buffer starting
    /// `at` bytes into a page.  As the VFS does, the position moves only
    /// when the read succeeds.  Checks that a failed read took nothing and
    /// that no read produced more after it had copied something.
    fn read(&mut self, pos: &mut i64, len: usize, at: u64) -> Result<Vec<u8>, Error> {
        let mut user = User {
            addr: 0x7f00_0000_0000 + at,
            got: Vec::new(),
            rng: self.rng.clone(),
            odds: self.odds,
            watch: self.watch.clone(),
        };
        self.watch.copied.set(0);
        let mut p = *pos;
        let r = self.paged.read(&mut p, len, &mut user);
        self.watch.copied.set(0);
        match r {
            Ok(n) => {
                assert_eq!(n, user.got.len(), "read returned other than it copied");
                assert!(n <= len, "read {n} bytes of {len}");
                assert_eq!(
                    p,
                    *pos + n as i64,
                    "position moved other than by the bytes read"
                );
                *pos = p;
                Ok(user.got)
            }
            Err(e) => {
                assert!(
                    user.got.is_empty(),
                    "a read failing with {e:?} copied {} bytes",
                    user.got.len()
                );
                assert_eq!(p, *pos, "a read failing with {e:?} moved the position");
                Err(e)
            }
        }
    }

    /// Reads the reply from `*pos` to its end as a reader does (random
    /// lengths and buffers, retrying after errors); checks every read
    /// against `want`, the whole reply, and the window's size (`bound`: a
    /// chunk's bytes) as it goes.  Returns the bytes read.
    fn read_to_end(&mut self, pos: &mut i64, want: &[u8], bound: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut errors = 0;
        loop {
            let len = match self.rng.next() % 4 {
                0 => self.rng.within(1, 16),
                1 => self.rng.within(1, 300),
                2 => self.rng.within(1, 5000),
                _ => self.rng.within(1, 20000),
            };
            let at = self.rng.next() % 4096;
            let from = *pos as usize;
            match self.read(pos, len, at) {
                Ok(got) if got.is_empty() => {
                    assert_eq!(from, want.len(), "a read returned 0 before the end");
                    break;
                }
                Ok(got) => {
                    assert_eq!(
                        &got[..],
                        &want[from..from + got.len()],
                        "bytes {from}.. read wrong"
                    );
                    out.extend_from_slice(&got);
                    errors = 0;
                }
                Err(Error::Misread(m)) => panic!("{m:?} at {pos} reading in order"),
                Err(_) => {
                    errors += 1;
                    assert!(errors < 1000, "no progress at {pos}");
                }
            }
            assert_eq!(
                self.watch.late_fills.get(),
                0,
                "a read produced more after it had copied something"
            );
            let (base, bytes) = self.paged.window();
            assert!(
                bytes.len() <= bound,
                "window of {} bytes, chunks at most {bound}",
                bytes.len()
            );
            assert!(
                base <= *pos as u64,
                "window at {base} past the position {pos}"
            );
            assert_eq!(self.paged.produced(), base + bytes.len() as u64);
            assert!(
                self.watch.peak.get() <= bound + MAX_LINE,
                "storage of {} bytes, chunks at most {bound}",
                self.watch.peak.get()
            );
        }
        out
    }
}

fn translation() -> impl Strategy<Value = Translation> {
    (
        (any::<u64>(), proptest::sample::select(Kind::ALL.to_vec())),
        (any::<u64>(), any::<u64>(), 1u32..5_000_000, 0u8..52),
        (any::<u32>(), any::<u16>(), 0u8..2),
        (
            proptest::sample::select(Share::ALL.to_vec()),
            proptest::sample::select(MapLevel::ALL.to_vec()),
            prop_oneof![Just(1u64), any::<u64>()],
        ),
    )
        .prop_map(
            |((phys, kind), (gpa, hva, pid, order), (node, slot, as_id), (share, map, pages))| {
                Translation {
                    phys,
                    kind,
                    gpa,
                    hva,
                    pid,
                    size: 4096 << order,
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
        4 => translation().prop_map(Reply::Ok),
        2 => (reason.clone(), any::<u64>(), any::<Option<u32>>(), any::<u64>()).prop_map(
            |(reason, gpa, pid, pages)| Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages
            }
        ),
        1 => (reason, 0usize..16384, 1usize..64).prop_map(|(reason, offset, len)| {
            Reply::TokenErr {
                reason,
                span: Span { offset, len },
            }
        }),
        1 => (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(pid, slots, memory)| {
            Reply::Vm {
                pid,
                slots,
                memory,
                kvm: None,
            }
        }),
        1 => (
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

/// Replies, each with whether it is a binary record: all text, all
/// binary, or mixed.
fn replies(max: usize) -> impl Strategy<Value = Vec<(Reply, bool)>> {
    (
        proptest::collection::vec((reply(), any::<bool>()), 0..max),
        0u8..3,
    )
        .prop_map(|(v, mode)| {
            v.into_iter()
                .map(|(r, bin)| (r, if mode == 2 { bin } else { mode == 1 }))
                .collect()
        })
}

fn odds() -> impl Strategy<Value = Odds> {
    (
        prop_oneof![Just(0u32), 1u32..40],
        prop_oneof![Just(0u32), 1u32..40],
        prop_oneof![Just(0u32), 1u32..40],
    )
        .prop_map(|(produce, store, sink)| Odds {
            produce,
            store,
            sink,
        })
}

fn cases() -> u32 {
    common::cases("GFN_WINDOW_CASES", 512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever fails, and however the reader reads, it gets the whole
    /// reply exactly once, with memory bounded by a chunk.
    #[test]
    fn reads_get_the_whole_reply_through_failures(
        replies in replies(120),
        k in 1usize..12,
        seed in any::<u64>(),
        odds in odds(),
    ) {
        let want = whole(&replies);
        let bound = chunk_bound(&replies, k);
        let mut file = answer(&replies, k, false, seed, odds);
        let mut pos = 0;
        let got = file.read_to_end(&mut pos, &want, bound);
        prop_assert_eq!(got.len(), want.len());
        prop_assert!(got == want, "the bytes read are not the reply");
        prop_assert_eq!(pos as usize, want.len());
        prop_assert_eq!(file.paged.produced(), want.len() as u64);
        // At the end, reads keep returning 0, whatever the buffer.
        for at in [0, 4095] {
            prop_assert_eq!(file.read(&mut pos, 100, at).map(|v| v.len()), Ok(0));
        }
        prop_assert_eq!(pos as usize, want.len());
    }

    /// An open file's next request takes the reply's place and storage
    /// (`Paged::restart`): whether the first reply was read whole, in part
    /// or not at all, and whether the second's first chunk failed or not,
    /// the reader gets exactly the second reply, and the second producer
    /// is handed the first (whose room it takes over).
    #[test]
    fn a_new_request_reads_only_its_own_reply(
        first in replies(60),
        second in replies(60),
        k in 1usize..12,
        seed in any::<u64>(),
        read_first in 0usize..3,
        fails in any::<bool>(),
    ) {
        let quiet = Odds { produce: 0, store: 0, sink: 0 };
        // When its first chunk fails, the new reply stands, and reads
        // resume it.
        let second_odds = if fails { Odds { produce: 30, store: 0, sink: 0 } } else { quiet };
        let mut file = answer(&first, k, false, seed, quiet);
        let mut pos = 0;
        let want = whole(&first);
        match read_first {
            0 => {}
            1 => { let _ = file.read(&mut pos, want.len() / 2 + 1, 0); }
            _ => { file.read_to_end(&mut pos, &want, chunk_bound(&first, k)); }
        }
        let replies: Rc<[(Reply, bool)]> = second.as_slice().into();
        let mut handed = false;
        let restarted = file.paged.restart(|before| {
            handed = before.is_some();
            Producer {
                replies: replies.clone(),
                next: 0,
                k,
                exact: false,
                rng: file.rng.clone(),
                odds: second_odds,
                watch: file.watch.clone(),
            }
        });
        prop_assert!(fails || restarted.is_ok());
        prop_assert!(handed, "the first producer was not handed over");
        let want = whole(&second);
        let mut pos = 0;
        let got = file.read_to_end(&mut pos, &want, chunk_bound(&first, k).max(chunk_bound(&second, k)));
        prop_assert!(got == want, "the bytes read are not the second reply");
        prop_assert_eq!(file.paged.produced(), want.len() as u64);
    }

    /// A reply that fits in one chunk can be read again from 0, or from
    /// anywhere in it, as often as wanted.
    #[test]
    fn one_chunk_reads_again_from_anywhere(
        replies in replies(12),
        seed in any::<u64>(),
        odds in odds(),
        from in any::<prop::sample::Index>(),
    ) {
        let want = whole(&replies);
        // A chunk of every reply: the first fill, retried until it works,
        // produces the whole reply (failing less, so that it does).
        let odds = Odds { produce: odds.produce / 4, store: odds.store / 4, ..odds };
        let mut file = answer(&replies, replies.len().max(1), true, seed, odds);
        prop_assert_eq!(file.paged.produced(), want.len() as u64);
        for _ in 0..3 {
            let mut pos = 0;
            let got = file.read_to_end(&mut pos, &want, want.len());
            prop_assert!(got == want);
            prop_assert_eq!(file.paged.window(), (0, &want[..]));
        }
        let start = from.index(want.len() + 1);
        let mut pos = start as i64;
        let got = file.read_to_end(&mut pos, &want, want.len());
        prop_assert!(got[..] == want[start..]);
    }

    /// Once the reply has gone past its first chunk, reading before the
    /// current chunk fails (it is dropped), the failure changes nothing,
    /// and reading on from where the reader was still works.
    #[test]
    fn reading_before_the_window_fails(
        replies in replies(60),
        k in 1usize..6,
        seed in any::<u64>(),
        odds in odds(),
        cut in any::<prop::sample::Index>(),
    ) {
        let want = whole(&replies);
        let bound = chunk_bound(&replies, k);
        let mut file = answer(&replies, k, false, seed, odds);
        // Read up to some point, then look back.
        let stop = cut.index(want.len() + 1);
        let mut pos = 0i64;
        while (pos as usize) < stop {
            let n = stop - pos as usize;
            if let Ok(got) = file.read(&mut pos, n, 0) {
                if got.is_empty() {
                    break;
                }
                let from = pos as usize - got.len();
                prop_assert!(got[..] == want[from..pos as usize]);
            }
        }
        let (base, bytes) = file.paged.window();
        let len = bytes.len();
        for back in [0, base / 2, base.saturating_sub(1)] {
            if back < base {
                let mut p = back as i64;
                prop_assert_eq!(
                    file.read(&mut p, 10, 0),
                    Err(Error::Misread(Misread::Dropped)),
                    "at {} before {}", back, base
                );
                prop_assert_eq!(file.paged.window().0, base, "a misread moved the window");
                prop_assert_eq!(file.paged.window().1.len(), len, "a misread produced");
            }
        }
        // The current chunk itself can be read again.
        if len > 0 {
            let mut p = base as i64;
            if let Ok(got) = file.read(&mut p, len, 0) {
                prop_assert!(got[..] == want[base as usize..base as usize + got.len()]);
            }
        }
        let got = file.read_to_end(&mut pos, &want, bound);
        prop_assert!(got[..] == want[pos as usize - got.len()..]);
        prop_assert_eq!(pos as usize, want.len());
    }
}

#[test]
fn negative_positions_fail() {
    let replies = [(
        Reply::Vm {
            pid: 1,
            slots: 2,
            memory: 4096,
            kvm: None,
        },
        false,
    )];
    let quiet = Odds {
        produce: 0,
        store: 0,
        sink: 0,
    };
    let mut file = answer(&replies, 1, false, 1, quiet);
    for pos in [-1, -4096, i64::MIN] {
        let mut p = pos;
        assert_eq!(
            file.read(&mut p, 10, 0),
            Err(Error::Misread(Misread::BadPosition))
        );
        assert_eq!(p, pos);
    }
    let mut pos = 0;
    let want = whole(&replies);
    assert_eq!(file.read_to_end(&mut pos, &want, want.len()), want);
}

#[test]
fn empty_replies_read_as_nothing() {
    let quiet = Odds {
        produce: 0,
        store: 0,
        sink: 0,
    };
    let mut file = answer(&[], 3, false, 7, quiet);
    let mut pos = 0;
    assert_eq!(file.read(&mut pos, 100, 0), Ok(Vec::new()));
    assert_eq!(file.paged.produced(), 0);

    let rng = Rc::new(Rng::new(1));
    let watch = Rc::new(Watch::default());
    let window = Window::new(Mem {
        bytes: Vec::new(),
        rng,
        odds: quiet,
        watch,
    });
    let mut paged: Paged<Mem, Producer> = Paged::empty(window);
    let mut user = User {
        addr: 0,
        got: Vec::new(),
        rng: Rc::new(Rng::new(1)),
        odds: quiet,
        watch: Rc::new(Watch::default()),
    };
    let mut pos = 0;
    assert_eq!(paged.read(&mut pos, 10, &mut user), Ok(0));
    assert_eq!((pos, paged.produced()), (0, 0));
}

#[test]
fn a_buffer_gets_what_fits_before_its_fault() {
    // 300 bytes of reply into a buffer 100 bytes before the end of its
    // page, whose next page faults: the read returns the 100 bytes.
    let replies: Vec<(Reply, bool)> = (0..10)
        .map(|i| {
            (
                Reply::Vm {
                    pid: i,
                    slots: 1,
                    memory: 0,
                    kvm: None,
                },
                true,
            )
        })
        .collect();
    let quiet = Odds {
        produce: 0,
        store: 0,
        sink: 0,
    };
    let mut file = answer(&replies, 10, true, 3, quiet);
    let want = whole(&replies);
    let mut user = User {
        addr: 4096 - 100,
        got: Vec::new(),
        rng: Rc::new(Rng::new(3)),
        odds: Odds { sink: 100, ..quiet },
        watch: Rc::new(Watch::default()),
    };
    let mut pos = 0;
    assert_eq!(
        file.paged.read(&mut pos, 300, &mut user),
        Err(Error::Fault),
        "a fault before any byte fails the read"
    );
    assert_eq!(pos, 0);
    user.odds.sink = 0;
    let mut faulting = FaultAfterPage(user);
    assert_eq!(file.paged.read(&mut pos, 300, &mut faulting), Ok(100));
    assert_eq!(faulting.0.got, want[..100]);
    assert_eq!(pos, 100);
}

/// A buffer whose next page is not mapped.
struct FaultAfterPage(User);

impl Sink for FaultAfterPage {
    type Error = Fault;

    fn room(&self) -> usize {
        self.0.room()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        if self.0.addr.is_multiple_of(4096) && !self.0.got.is_empty() {
            return Err(Fault);
        }
        self.0.write(bytes)
    }
}
