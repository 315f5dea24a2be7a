// SPDX-License-Identifier: GPL-2.0

//! Answers one request, a piece at a time: each call to [`Answer::fill`]
//! appends replies until a byte limit is reached, and the next call resumes
//! where it stopped.  Tokens are answered in order; a single address at
//! once (`single.rs`), a request word by a job run in steps (`map.rs` for
//! ranges and `all`, `listing.rs` for `vms` and `slots`, `reverse.rs` for
//! `hpa=`), so memory stays
//! bounded whatever the request asks.  Each line's replies are text or
//! binary records, as its `format=` says (`out.rs`).
//!
//! No VM is held between calls: a line keeps a [`VmId`], and each call
//! finds the VM again and holds it ([`Vm`]) until it returns.  When the VM
//! is gone, the rest of the line's reply says `no-vm`.
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
//! returns when it is spent, with what it has.

use crate::boundary::vm::{Vm, VmId};
use crate::file::CHUNK;
use crate::listing::{Slots, Vms};
use crate::log::log_line;
use crate::map::Pages;
use crate::out::{Bytes, Out, ReplyWindow};
use crate::reply::Reply;
use crate::request::{self, Options, Reason, Span, Token, PAGE_SHIFT};
use crate::reverse::Reverse;
use crate::single::single;
use crate::walk::Scratch;
use crate::window::Produce;
use kernel::prelude::*;

/// Job steps one chunk runs: at most `STEPS_PER_CALL * walk::BATCH`
/// entries walked, and as many page tables of `walk::NOFAULT_SPAN` pages
/// as there are steps.
pub(crate) const STEPS_PER_CALL: u32 = 64;

/// A request word whose reply takes more than one step.
enum Job {
    Pages(Pages),
    Vms(Vms),
    Slots(Slots),
    Reverse(Reverse),
}

/// How far the current line has been answered.
pub(crate) struct LineState {
    start: usize,
    /// Byte position of the next token within the line.
    pos: usize,
    pub(crate) opts: core::result::Result<Options, Reason>,
    /// Replies as binary records (see `Line::binary`).
    bin: bool,
    /// Looked up on the first request that needs it, named to the line's
    /// end (never held: see [`VmId`]).
    pub(crate) vm: Option<core::result::Result<VmId, Reason>>,
    job: Option<Job>,
}

/// A request and how far it has been answered.
pub(crate) struct Answer {
    input: KVec<u8>,
    next_line: Option<usize>,
    line: Option<LineState>,
    /// Room for batched walks, allocated by the first range, `all` or
    /// `hpa=` of the open file, and handed from request to request.
    scratch: Option<KBox<Scratch>>,
}

impl Answer {
    /// Starts answering `input`, with the room for walks of the request
    /// before, if any.
    pub(crate) fn new(input: KVec<u8>, before: Option<Answer>) -> Answer {
        Answer {
            input,
            next_line: Some(0),
            line: None,
            scratch: before.and_then(|a| a.scratch),
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
        let mut held: Option<Vm> = None;
        let mut other: Option<Vm> = None;
        while out.len() < limit {
            let Some(st) = line.as_mut() else {
                held = None;
                let Some((l, next)) = next_line.and_then(|at| request::line_at(input, at)) else {
                    return Ok(true);
                };
                *next_line = next;
                *line = Some(LineState {
                    start: l.start(),
                    pos: 0,
                    opts: l.options(),
                    bin: l.binary(),
                    vm: None,
                    job: None,
                });
                continue;
            };
            let mut out = Out::new(out, st.bin);
            if let Some(job) = st.job.as_mut() {
                let Some(left) = steps.checked_sub(1) else {
                    return Ok(false);
                };
                *steps = left;
                let held = Held {
                    line: &mut held,
                    other: &mut other,
                };
                if step(job, &st.vm, st.opts, scratch, held, &mut out)? {
                    st.job = None;
                }
                continue;
            }
            let Some((l, _)) = request::line_at(input, st.start) else {
                *line = None;
                continue;
            };
            // The line's position moves past a token once its reply is in
            // `out` (or its job is set up).
            let mut pos = st.pos;
            match l.token_at(&mut pos) {
                None => *line = None,
                Some((span, token)) => {
                    start_token(span, token, st, &mut held, &mut out)?;
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

/// The VMs one call holds: the line's, and the one a reverse lookup walks.
struct Held<'a> {
    line: &'a mut Option<Vm>,
    other: &'a mut Option<Vm>,
}

/// The line's VM, looked up on first use (`EINTR`: the lookup's wait was
/// killed, and the next call looks again).
pub(crate) fn line_vm(
    vm: &mut Option<core::result::Result<VmId, Reason>>,
    pid: Option<u32>,
) -> Result<core::result::Result<&VmId, Reason>> {
    let found = match vm {
        Some(found) => found,
        None => vm.insert(crate::vms::find(pid)?),
    };
    Ok(found.as_ref().map_err(|r| *r))
}

/// The VM named `id`, found again and held for the rest of this call, or
/// `None` when it is gone.
pub(crate) fn hold<'a>(held: &'a mut Option<Vm>, id: &VmId) -> Option<&'a Vm> {
    if held.is_none() {
        *held = id.open();
    }
    held.as_ref()
}

/// Answers a single address, or sets up the job of a request word.
fn start_token(
    span: Span,
    token: Token,
    st: &mut LineState,
    held: &mut Option<Vm>,
    out: &mut Out<'_>,
) -> Result {
    let reply = match token {
        t if t.is_option() => return Ok(()),
        Token::Bad(reason) => {
            log_line!(
                Address,
                "bad token at offset {} (length {}): {}\n",
                span.offset,
                span.len,
                reason.as_str()
            );
            Reply::TokenErr { reason, span }
        }
        Token::Vms => match st.opts {
            Ok(_) => {
                st.job = Some(Job::Vms(Vms::new(span)));
                return Ok(());
            }
            Err(reason) => Reply::TokenErr { reason, span },
        },
        Token::Slots | Token::All => match line_vm_of(st)? {
            Err(reason) => {
                log_line!(
                    Address,
                    "request at offset {}: {}\n",
                    span.offset,
                    reason.as_str()
                );
                Reply::TokenErr { reason, span }
            }
            Ok(()) => {
                st.job = Some(if token == Token::All {
                    Job::Pages(Pages::all(span, plain(st)))
                } else {
                    Job::Slots(Slots::new(span))
                });
                return Ok(());
            }
        },
        Token::Range { gfn, pages } => match line_vm_of(st)? {
            Err(reason) => {
                log_line!(
                    Address,
                    "range {:#x}+{}: {}\n",
                    gfn << PAGE_SHIFT,
                    pages,
                    reason.as_str()
                );
                Reply::AddrErr {
                    reason,
                    gpa: gfn << PAGE_SHIFT,
                    pid: st.opts.ok().and_then(|o| o.pid),
                    pages,
                }
            }
            Ok(()) => {
                st.job = Some(Job::Pages(Pages::range(span, gfn, pages, plain(st))));
                return Ok(());
            }
        },
        Token::Hpa { pfn, pages, offset } => match st.opts {
            Ok(opts) => {
                st.job = Some(Job::Reverse(Reverse::new(
                    span, pfn, pages, offset, opts.pid,
                )));
                return Ok(());
            }
            Err(reason) => Reply::TokenErr { reason, span },
        },
        Token::Addr(gpa) => single(gpa, st, held)?,
        // Options were handled above; nothing else is left.
        _ => return Ok(()),
    };
    out.emit(&reply)
}

/// Whether the line asked for `runs=plain`.
fn plain(st: &LineState) -> bool {
    st.opts.is_ok_and(|o| o.plain)
}

/// Whether the line's options and VM are there (looked up on first use).
fn line_vm_of(st: &mut LineState) -> Result<core::result::Result<(), Reason>> {
    Ok(match st.opts {
        Ok(o) => line_vm(&mut st.vm, o.pid)?.map(|_| ()),
        Err(reason) => Err(reason),
    })
}

/// Runs one step of `job`; returns whether the job is done.
fn step(
    job: &mut Job,
    id: &Option<core::result::Result<VmId, Reason>>,
    opts: core::result::Result<Options, Reason>,
    scratch: &mut Option<KBox<Scratch>>,
    held: Held<'_>,
    out: &mut Out<'_>,
) -> Result<bool> {
    match job {
        Job::Vms(vms) => return vms.step(out),
        Job::Reverse(r) => return r.step(scratch, held.other, out),
        _ => {}
    }
    // The other jobs only start once the line's options and VM are known.
    let (Some(Ok(id)), Ok(opts)) = (id.as_ref(), opts) else {
        return Ok(true);
    };
    let pid = opts.pid.unwrap_or(id.vmm_pid);
    let vm = hold(held.line, id);
    match job {
        Job::Pages(p) => p.step(vm, pid, opts, scratch, out),
        Job::Slots(s) => s.step(vm, pid, out),
        Job::Vms(_) | Job::Reverse(_) => Ok(true),
    }
}
