// SPDX-License-Identifier: GPL-2.0

//! Answers one request, a piece at a time: each call to [`Answer::fill`]
//! appends replies until a byte limit is reached, and the next call resumes
//! where it stopped.  Tokens are answered in order, each by a job run a
//! step at a time over a context (`job.rs`): a single address in one step
//! (`single.rs`), a range or `all` a walk of a batch at a time (`map.rs`),
//! `vms` and `slots` an entry at a time (`listing.rs`), `hpa=` a walk of a
//! batch of one VM at a time (`reverse.rs`), so memory stays bounded
//! whatever the request asks.  Each line's replies are text or binary
//! records, as its `format=` says (`out.rs`).
//!
//! A line looks its VM up once, when its first token that needs it starts
//! (`vms.rs`'s `LineVm`), and names it without holding it; each call holds
//! it once, until it returns.  A token whose options or VM are wanting is
//! told why at once; when the VM is gone, its job says `no-vm`.
//!
//! Nothing is lost or told twice when a call fails (`ENOMEM` as the reply
//! grows, `EINTR` when a fatal signal ends a wait, in a file another task
//! shares): where the answer stands (the next token, a job's cursor, its
//! counts) moves on only once a reply is in the window, so the next call
//! starts again with the token or step that failed.
//!
//! The work of one call is bounded: a job's steps (each a walk of at most
//! `walk::BATCH` entries and `walk::FRAMES` frames, or the listing of one
//! VM or memslot) are counted against a budget, and [`Answer::fill`]
//! returns when it is spent, with what it has.  A single address, one
//! page, is bounded by the chunk's bytes.

use crate::boundary::vm::Vm;
use crate::job::Cx;
use crate::listing::{Slots, Vms};
use crate::log::log_line;
use crate::map::Pages;
use crate::out::{Bytes, Out, ReplyWindow};
use crate::reply::Reply;
use crate::request::{self, Options, Reason, Span, Token, PAGE_SHIFT};
use crate::reverse::Reverse;
use crate::single::Single;
use crate::text::Text;
use crate::vms::{Held, LineVm};
use crate::walk::Room;
use crate::window::Produce;
use kernel::prelude::*;

/// Bytes of reply produced ahead of reads.  A step may add up to
/// `walk::BATCH` lines more, and the frames of `walk::FRAMES` base pages,
/// so an open file holds at most `CHUNK + BATCH * MAX_LINE + FRAMES * 32`
/// bytes of reply (and the walks' room, `walk::Scratch`).
pub(crate) const CHUNK: usize = 64 << 10;

/// Job steps one chunk runs: at most `STEPS_PER_CALL * walk::BATCH`
/// entries walked, and as many page tables of `walk::NOFAULT_SPAN` pages
/// as there are steps.
pub(crate) const STEPS_PER_CALL: u32 = 64;

/// A token's reply, produced a step at a time.
enum Job {
    Single(Single),
    Pages(Pages),
    Vms(Vms),
    Slots(Slots),
    Reverse(Reverse),
}

impl Job {
    /// Runs one step; returns whether the job is done.
    fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        match self {
            Job::Single(j) => j.step(cx),
            Job::Pages(j) => j.step(cx),
            Job::Vms(j) => j.step(cx),
            Job::Slots(j) => j.step(cx),
            Job::Reverse(j) => j.step(cx),
        }
    }

    /// Whether its steps count against a call's budget: a single address
    /// walks one page, bounded by the chunk's bytes as every reply is some.
    fn counted(&self) -> bool {
        !matches!(self, Job::Single(_))
    }
}

/// How far the current line has been answered.
struct LineState {
    /// Where the line stands in the request, and its length: found once.
    start: usize,
    len: usize,
    /// Byte position of the next token within the line.
    pos: usize,
    opts: core::result::Result<Options, Reason>,
    /// Replies as binary records (see `Line::binary`).
    bin: bool,
    /// The VM the line means, looked up by the first token that needs it.
    vm: LineVm,
    /// The job of the current token; jobs start only on lines whose
    /// options are valid, which it keeps.
    job: Option<(Job, Options)>,
}

/// A request and how far it has been answered.
pub(crate) struct Answer {
    input: Text,
    next_line: Option<usize>,
    line: Option<LineState>,
    /// Room for batched walks, allocated (or taken over from a closed
    /// file) by the first range, `all` or `hpa=` of the open file, and
    /// handed from request to request.
    scratch: Room,
}

impl Answer {
    /// Starts answering `input`, with the room for walks of the request
    /// before, if any.
    pub(crate) fn new(input: Text, before: Option<Answer>) -> Answer {
        Answer {
            input,
            next_line: Some(0),
            line: None,
            scratch: before.map_or(Room::new(), |a| a.scratch),
        }
    }

    /// Appends replies to `out` until it holds at least `limit` bytes, the
    /// request is answered or `steps` job steps have run (counted down);
    /// returns whether the request is answered.  One step adds at most
    /// `walk::BATCH` replies (and `walk::FRAMES` frames in lists) past
    /// `limit`.  Fails with `ENOMEM` when `out` cannot grow and `EINTR` on
    /// a fatal signal; a later call resumes with the token or step that
    /// failed.
    fn fill_to(&mut self, out: &mut ReplyWindow, limit: usize, steps: &mut u32) -> Result<bool> {
        let Answer {
            input,
            next_line,
            line,
            scratch,
        } = self;
        // The line's VM, held from its first use in this call to the end of
        // the call or the line, whichever comes first; and the VM a
        // reverse lookup walks, likewise to the end of the call or its walk.
        let mut held = Held::new();
        let mut other: Option<Vm> = None;
        while out.len() < limit {
            let Some(st) = line.as_mut() else {
                held = Held::new();
                let Some((l, next)) = next_line.and_then(|at| request::line_at(input, at)) else {
                    return Ok(true);
                };
                *next_line = next;
                let header = l.header();
                *line = Some(LineState {
                    start: l.start(),
                    len: l.len(),
                    pos: 0,
                    opts: header.options,
                    bin: header.binary,
                    vm: LineVm::new(),
                    job: None,
                });
                continue;
            };
            if let Some((job, opts)) = st.job.as_mut() {
                if job.counted() {
                    let Some(left) = steps.checked_sub(1) else {
                        return Ok(false);
                    };
                    *steps = left;
                }
                let mut cx = Cx {
                    vm: st.vm.hold(&mut held),
                    pid: st.vm.pid(opts),
                    opts: *opts,
                    other: &mut other,
                    scratch,
                    out: Out::new(out, st.bin),
                };
                if job.step(&mut cx)? {
                    st.job = None;
                }
                continue;
            }
            let Some(l) = request::line_within(input, st.start, st.len) else {
                *line = None;
                continue;
            };
            // The line's position moves past a token once its reply is in
            // `out` (or its job is set up).
            let mut pos = st.pos;
            match l.token_at(&mut pos) {
                None => *line = None,
                Some((span, token)) => {
                    start_token(span, token, st, &mut Out::new(out, st.bin))?;
                    st.pos = pos;
                }
            }
        }
        Ok(false)
    }
}

impl Produce<Bytes> for Answer {
    type Error = Error;

    /// A chunk: `CHUNK` bytes of reply, or `STEPS_PER_CALL` job steps.
    fn fill(&mut self, window: &mut ReplyWindow) -> Result<bool> {
        let mut steps = STEPS_PER_CALL;
        self.fill_to(window, CHUNK, &mut steps)
    }
}

/// Sets up the job of a token, or tells why it has none: the token is bad,
/// or the line's options, or (for a token of the line's VM) there is no
/// such VM.
fn start_token(span: Span, token: Token, st: &mut LineState, out: &mut Out<'_>) -> Result {
    let opts = match (token, st.opts) {
        // Options: the line's, read when it started.
        (t, _) if t.is_option() => return Ok(()),
        (Token::Bad(reason), _) => {
            log_line!(
                Address,
                "bad token at offset {} (length {}): {}\n",
                span.offset,
                span.len,
                reason.as_str()
            );
            return out.emit(&Reply::TokenErr { reason, span });
        }
        (t, Err(reason)) => return out.emit(&refusal(t, span, reason, None)),
        (_, Ok(opts)) => opts,
    };
    // Whether the job is one of the line's VM, which starts only once the
    // VM is found.
    let (job, of_vm) = match token {
        Token::Addr(gpa) => (Job::Single(Single::new(gpa)), true),
        Token::Range { gfn, pages } => {
            let range = Pages::range(span, opts.as_id, gfn, pages, opts.plain);
            (Job::Pages(range), true)
        }
        Token::All => (Job::Pages(Pages::all(span, opts.as_id, opts.plain)), true),
        Token::Slots => (Job::Slots(Slots::new(span)), true),
        Token::Vms => (Job::Vms(Vms::new(span)), false),
        Token::Hpa { pfn, pages, offset } => {
            let question = Reverse::new(span, pfn, pages, offset, opts.pid);
            (Job::Reverse(question), false)
        }
        // Told above.
        Token::Bad(_)
        | Token::Pid(_)
        | Token::Fault(_)
        | Token::As(_)
        | Token::Bin(_)
        | Token::Plain(_) => return Ok(()),
    };
    if of_vm {
        if let Err(reason) = st.vm.find(opts.pid)? {
            return out.emit(&refusal(token, span, reason, opts.pid));
        }
    }
    st.job = Some((job, opts));
    Ok(())
}

/// The reply of a token that cannot start for `reason` (its line's options,
/// or its VM, for the VMM `pid` the line names), logged as it always was.
fn refusal(token: Token, span: Span, reason: Reason, pid: Option<u32>) -> Reply {
    let what = reason.as_str();
    match token {
        Token::Addr(gpa) => {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, what);
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages: 1,
            }
        }
        Token::Range { gfn, pages } => {
            log_line!(
                Address,
                "range {:#x}+{}: {}\n",
                gfn << PAGE_SHIFT,
                pages,
                what
            );
            Reply::AddrErr {
                reason,
                gpa: gfn << PAGE_SHIFT,
                pid,
                pages,
            }
        }
        Token::Vms | Token::Hpa { .. } => Reply::TokenErr { reason, span },
        _ => {
            log_line!(Address, "request at offset {}: {}\n", span.offset, what);
            Reply::TokenErr { reason, span }
        }
    }
}
