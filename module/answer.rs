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

use crate::listing::{Slots, Vms};
use crate::log::log_line;
use crate::map::Pages;
use crate::out::{Out, Window};
use crate::reply::Reply;
use crate::request::{self, Options, Reason, Span, Token, PAGE_SHIFT};
use crate::reverse::Reverse;
use crate::shim::{Scratch, Vm, VmId};
use crate::single::single;
use kernel::prelude::*;

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
    /// Room for batched walks, allocated by the first range or `all`.
    scratch: Option<KBox<Scratch>>,
}

impl Answer {
    /// Starts answering `input`.
    pub(crate) fn new(input: KVec<u8>) -> Answer {
        Answer {
            input,
            next_line: Some(0),
            line: None,
            scratch: None,
        }
    }

    /// Appends replies to `out` until it holds at least `limit` bytes or
    /// the request is answered; returns whether it is.  One step adds at
    /// most `shim::BATCH` replies past `limit`.  Fails with `ENOMEM` when
    /// `out` cannot grow and `EINTR` on a fatal signal; a later call
    /// resumes with the step that failed.
    pub(crate) fn fill(&mut self, out: &mut Window, limit: usize) -> Result<bool> {
        let Answer {
            input,
            next_line,
            line,
            scratch,
        } = self;
        // The line's VM, held from its first use in this call to the end of
        // the call or the line, whichever comes first.
        let mut held: Option<Vm> = None;
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
                if step(job, &st.vm, st.opts, scratch, &mut held, &mut out)? {
                    st.job = None;
                }
                continue;
            }
            let Some((l, _)) = request::line_at(input, st.start) else {
                *line = None;
                continue;
            };
            match l.token_at(&mut st.pos) {
                None => *line = None,
                Some((span, token)) => start_token(span, token, st, &mut held, &mut out)?,
            }
        }
        Ok(false)
    }
}

/// The line's VM, looked up on first use.
pub(crate) fn line_vm(
    vm: &mut Option<core::result::Result<VmId, Reason>>,
    pid: Option<u32>,
) -> core::result::Result<&VmId, Reason> {
    vm.get_or_insert_with(|| VmId::find(pid))
        .as_ref()
        .map_err(|r| *r)
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
        Token::Slots | Token::All => {
            match st.opts.and_then(|o| line_vm(&mut st.vm, o.pid).map(|_| ())) {
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
                        Job::Pages(Pages::all(span))
                    } else {
                        Job::Slots(Slots::new(span))
                    });
                    return Ok(());
                }
            }
        }
        Token::Range { gfn, pages } => {
            match st.opts.and_then(|o| line_vm(&mut st.vm, o.pid).map(|_| ())) {
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
                    st.job = Some(Job::Pages(Pages::range(span, gfn, pages)));
                    return Ok(());
                }
            }
        }
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

/// Runs one step of `job`; returns whether the job is done.
fn step(
    job: &mut Job,
    id: &Option<core::result::Result<VmId, Reason>>,
    opts: core::result::Result<Options, Reason>,
    scratch: &mut Option<KBox<Scratch>>,
    held: &mut Option<Vm>,
    out: &mut Out<'_>,
) -> Result<bool> {
    match job {
        Job::Vms(vms) => return vms.step(out),
        Job::Reverse(r) => return r.step(scratch, out),
        _ => {}
    }
    // The other jobs only start once the line's options and VM are known.
    let (Some(Ok(id)), Ok(opts)) = (id.as_ref(), opts) else {
        return Ok(true);
    };
    let pid = opts.pid.unwrap_or(id.vmm_pid);
    let vm = hold(held, id);
    match job {
        Job::Pages(p) => p.step(vm, pid, opts, scratch, out),
        Job::Slots(s) => s.step(vm, pid, out),
        Job::Vms(_) | Job::Reverse(_) => Ok(true),
    }
}
