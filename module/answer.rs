// SPDX-License-Identifier: GPL-2.0

//! Answers one request, a piece at a time: each call to [`Answer::fill`]
//! appends reply lines until a byte limit is reached, and the next call
//! resumes where it stopped.  A range or `all` is walked in batches of
//! `shim::BATCH` pages, so memory stays bounded whatever the request asks.
//! Single addresses are logged in the seed's words; a range or `all` gets
//! one summary line in the log (as `log.rs` allows).
//!
//! No VM is held between calls: a line keeps a [`VmId`], and each call
//! finds the VM again and holds it ([`Vm`]) until it returns.  When the VM
//! is gone, the rest of the line's reply says `no-vm`.

use crate::log::log_line;
use crate::reply::{Kind, MapLevel, Reply, Share, Translation};
use crate::request::{self, Options, Reason, Span, Token, GFN_LIMIT, PAGE_SHIFT};
use crate::shim::{self, Scratch, ShimPage, ShimSlot, ShimVm, Vm, VmId};
use kernel::error::code::ESRCH;
use kernel::prelude::*;

const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Appends one reply line.
fn emit(out: &mut KVVec<u8>, reply: &Reply) -> Result {
    out.extend_from_slice(reply.encode().as_bytes(), GFP_KERNEL)?;
    out.push(b'\n', GFP_KERNEL)?;
    Ok(())
}

/// The reply for one entry the shim walked (`page.pages` pages from guest
/// frame `gfn`); `offset` is the byte offset of the address asked for
/// within the page (0 for ranges).
fn page_reply(
    page: &ShimPage,
    slot: &ShimSlot,
    gfn: u64,
    offset: u64,
    pid: u32,
    fault: bool,
) -> Reply {
    if page.err != 0 {
        return Reply::AddrErr {
            reason: no_page_reason(page, fault),
            gpa: (gfn << PAGE_SHIFT) | offset,
            pid: Some(pid),
            pages: page.pages.max(1).into(),
        };
    }
    let kind = if page.flags & shim::PAGE_HUGETLB != 0 {
        Kind::Hugetlb
    } else if page.flags & shim::PAGE_LARGE != 0 {
        Kind::Thp
    } else {
        Kind::Base
    };
    let share = if page.flags & shim::PAGE_ZERO != 0 {
        Share::Zero
    } else if page.flags & shim::PAGE_KSM != 0 {
        Share::Ksm
    } else {
        Share::None
    };
    let order = page.order.min(63);
    let map = match page.level {
        shim::LEVEL_PUD => MapLevel::Pud,
        shim::LEVEL_PMD => MapLevel::Pmd,
        _ => MapLevel::Pte,
    };
    Reply::Ok(Translation {
        phys: (page.pfn << PAGE_SHIFT) | offset,
        kind,
        gpa: (gfn << PAGE_SHIFT) | offset,
        hva: slot
            .hva
            .wrapping_add(gfn.wrapping_sub(slot.base_gfn) << PAGE_SHIFT)
            .wrapping_add(offset),
        pid,
        size: PAGE_SIZE << order,
        order: order as u8,
        node: page.nid,
        slot: slot.id,
        as_id: slot.as_id as u8,
        share,
        map,
        pages: page.pages.max(1).into(),
    })
}

/// Why the shim found no page: what the VMA says first, then gup's error.
fn no_page_reason(page: &ShimPage, fault: bool) -> Reason {
    if page.flags & shim::PAGE_NO_VMA != 0 {
        Reason::NoVma
    } else if page.flags & shim::PAGE_PFNMAP != 0 {
        Reason::Pfnmap
    } else if page.err == ENOMEM.to_errno() {
        Reason::NoMem
    } else if fault {
        Reason::NoPage
    } else {
        // Without faulting, a page gup cannot reach is simply not there.
        Reason::NotPresent
    }
}

/// Whether `next`, one page, continues the run `run`: the same facts, and
/// guest, host virtual and host physical addresses one page further each.
/// Zero pages never merge: every one of them maps the same host page.
fn continues(run: &Reply, next: &Reply) -> bool {
    match (run, next) {
        (Reply::Ok(r), Reply::Ok(n)) => {
            let step = r.pages.wrapping_mul(PAGE_SIZE);
            r.share != Share::Zero
                && n.gpa == r.gpa.wrapping_add(step)
                && n.hva == r.hva.wrapping_add(step)
                && n.phys == r.phys.wrapping_add(step)
                && (n.kind, n.size, n.node, n.slot, n.as_id, n.share, n.map)
                    == (r.kind, r.size, r.node, r.slot, r.as_id, r.share, r.map)
        }
        (
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            },
            Reply::AddrErr {
                reason: n_reason,
                gpa: n_gpa,
                pid: n_pid,
                ..
            },
        ) => {
            reason == n_reason
                && pid == n_pid
                && *n_gpa == gpa.wrapping_add(pages.wrapping_mul(PAGE_SIZE))
        }
        _ => false,
    }
}

/// Adds `n` pages to the run `run`.
fn grow(run: &mut Reply, n: u64) {
    match run {
        Reply::Ok(t) => t.pages += n,
        Reply::AddrErr { pages, .. } => *pages += n,
        _ => {}
    }
}

/// How many pages of a range or `all` ended up how, for the log.
#[derive(Default)]
struct Tally {
    mapped: u64,
    absent: u64,
    failed: u64,
    holes: u64,
}

/// A range or `all` being walked.
struct Pages {
    span: Span,
    /// `all`: walk every memslot, skipping what lies between them.
    all: bool,
    gfn: u64,
    end: u64,
    /// Pages walked but not yet printed, as one reply line.
    run: Option<Reply>,
    tally: Tally,
}

/// A request word whose reply takes more than one line.
enum Job {
    Pages(Pages),
    /// `vms`: one snapshot of the VMs, taken at the first step, and the
    /// next of them to list.
    Vms {
        span: Span,
        vms: Option<KVVec<ShimVm>>,
        next: usize,
    },
    /// `slots`: the next memslot at or above `gfn` in `as_id`.
    Slots {
        span: Span,
        as_id: u8,
        gfn: u64,
        found: bool,
    },
}

/// How far the current line has been answered.
struct LineState {
    start: usize,
    /// Byte position of the next token within the line.
    pos: usize,
    opts: core::result::Result<Options, Reason>,
    /// Looked up on the first request that needs it, named to the line's
    /// end (never held: see [`VmId`]).
    vm: Option<core::result::Result<VmId, Reason>>,
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

    /// Appends reply lines to `out` until it holds at least `limit` bytes
    /// or the request is answered; returns whether it is.  One step adds at
    /// most `shim::BATCH` lines past `limit`.  Fails with `ENOMEM` when
    /// `out` cannot grow and `EINTR` on a fatal signal; a later call
    /// resumes with the step that failed.
    pub(crate) fn fill(&mut self, out: &mut KVVec<u8>, limit: usize) -> Result<bool> {
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
                    vm: None,
                    job: None,
                });
                continue;
            };
            if let Some(job) = st.job.as_mut() {
                if step(job, &st.vm, st.opts, scratch, &mut held, out)? {
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
                Some((span, token)) => start_token(span, token, st, &mut held, out)?,
            }
        }
        Ok(false)
    }
}

/// The line's VM, looked up on first use.
fn line_vm(
    vm: &mut Option<core::result::Result<VmId, Reason>>,
    pid: Option<u32>,
) -> core::result::Result<&VmId, Reason> {
    vm.get_or_insert_with(|| VmId::find(pid))
        .as_ref()
        .map_err(|r| *r)
}

/// The VM named `id`, found again and held for the rest of this call, or
/// `None` when it is gone.
fn hold<'a>(held: &'a mut Option<Vm>, id: &VmId) -> Option<&'a Vm> {
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
    out: &mut KVVec<u8>,
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
                st.job = Some(Job::Vms {
                    span,
                    vms: None,
                    next: 0,
                });
                return Ok(());
            }
            Err(reason) => Reply::TokenErr { reason, span },
        },
        Token::Slots | Token::All => {
            let found = st.opts.and_then(|o| line_vm(&mut st.vm, o.pid).map(|_| ()));
            match found {
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
                        Job::Pages(Pages {
                            span,
                            all: true,
                            gfn: 0,
                            end: GFN_LIMIT,
                            run: None,
                            tally: Tally::default(),
                        })
                    } else {
                        Job::Slots {
                            span,
                            as_id: 0,
                            gfn: 0,
                            found: false,
                        }
                    });
                    return Ok(());
                }
            }
        }
        Token::Range { gfn, pages } => {
            let found = st.opts.and_then(|o| line_vm(&mut st.vm, o.pid).map(|_| ()));
            match found {
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
                    st.job = Some(Job::Pages(Pages {
                        span,
                        all: false,
                        gfn,
                        end: gfn + pages,
                        run: None,
                        tally: Tally::default(),
                    }));
                    return Ok(());
                }
            }
        }
        Token::Addr(gpa) => single(gpa, st, held)?,
        // Options were handled above; nothing else is left.
        _ => return Ok(()),
    };
    emit(out, &reply)
}

/// Translates one address and logs the outcome in the seed's words.
fn single(gpa: u64, st: &mut LineState, held: &mut Option<Vm>) -> Result<Reply> {
    let opts = match st.opts {
        Ok(opts) => opts,
        Err(reason) => {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, reason.as_str());
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: None,
                pages: 1,
            });
        }
    };
    let found = line_vm(&mut st.vm, opts.pid)
        .and_then(|id| Ok((id.vmm_pid, hold(held, id).ok_or(Reason::NoVm)?)));
    let (vmm_pid, vm) = match found {
        Ok(found) => found,
        Err(reason) => {
            log_line!(Address, "gpa {:#x}: {}\n", gpa, reason.as_str());
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: opts.pid,
                pages: 1,
            });
        }
    };
    let pid = opts.pid.unwrap_or(vmm_pid);
    let offset = gpa & (PAGE_SIZE - 1);
    let mut pages = [0usize; 1];
    let mut out = [ShimPage::default(); 1];
    let reply = match vm.walk(
        opts.as_id,
        gpa >> PAGE_SHIFT,
        !opts.fault,
        &mut pages,
        &mut out,
    ) {
        Ok((slot, [page])) => page_reply(page, &slot, gpa >> PAGE_SHIFT, offset, pid, opts.fault),
        Ok(_) => Reply::AddrErr {
            reason: Reason::NoPage,
            gpa,
            pid: Some(pid),
            pages: 1,
        },
        Err(e) if e == EINTR => return Err(e),
        Err(e) => {
            let reason = if shim::is_no_slot(e) {
                Reason::NoMemslot
            } else if e == ESRCH {
                Reason::NoMm
            } else {
                Reason::NoPage
            };
            log_line!(
                Address,
                "gpa {:#x} (pid {}): {} (error {})\n",
                gpa,
                pid,
                reason.as_str(),
                e.to_errno()
            );
            return Ok(Reply::AddrErr {
                reason,
                gpa,
                pid: Some(pid),
                pages: 1,
            });
        }
    };
    match reply {
        Reply::Ok(t) => {
            log_line!(
                Address,
                "exact phys addr for gpa {:#x}: {:#x}\n",
                gpa,
                t.phys
            );
            match t.kind {
                Kind::Base => log_line!(Address, "page is not huge page\n"),
                Kind::Thp => log_line!(Address, "page is THP, size {} KiB\n", t.size >> 10),
                Kind::Hugetlb => {
                    log_line!(Address, "page is hugetlb page, size {} KiB\n", t.size >> 10)
                }
            }
        }
        Reply::AddrErr { reason, .. } => {
            log_line!(
                Address,
                "gpa {:#x} (pid {}): {}\n",
                gpa,
                pid,
                reason.as_str()
            )
        }
        _ => {}
    }
    Ok(reply)
}

/// Runs one step of `job`; returns whether the job is done.
fn step(
    job: &mut Job,
    id: &Option<core::result::Result<VmId, Reason>>,
    opts: core::result::Result<Options, Reason>,
    scratch: &mut Option<KBox<Scratch>>,
    held: &mut Option<Vm>,
    out: &mut KVVec<u8>,
) -> Result<bool> {
    match job {
        Job::Vms { span, vms, next } => {
            let vms = match vms {
                Some(vms) => vms,
                None => vms.insert(shim::vms()?),
            };
            match vms.get(*next) {
                Some(vm) => {
                    *next += 1;
                    emit(
                        out,
                        &Reply::Vm {
                            pid: vm.pid as u32,
                            slots: vm.slots,
                            memory: vm.pages << PAGE_SHIFT,
                        },
                    )?;
                    Ok(false)
                }
                None => {
                    if *next == 0 {
                        emit(
                            out,
                            &Reply::TokenErr {
                                reason: Reason::NoVms,
                                span: *span,
                            },
                        )?;
                    }
                    Ok(true)
                }
            }
        }
        Job::Slots {
            span,
            as_id,
            gfn,
            found,
        } => {
            // The job only starts once the line's VM was found.
            let Some(Ok(id)) = id.as_ref() else {
                return Ok(true);
            };
            let pid = opts.ok().and_then(|o| o.pid).unwrap_or(id.vmm_pid);
            let Some(vm) = hold(held, id) else {
                emit(
                    out,
                    &Reply::TokenErr {
                        reason: Reason::NoVm,
                        span: *span,
                    },
                )?;
                return Ok(true);
            };
            match vm.slot_find(*as_id, *gfn) {
                Some(slot) => {
                    *found = true;
                    *gfn = slot.end();
                    emit(
                        out,
                        &Reply::Slot {
                            pid,
                            as_id: slot.as_id as u8,
                            id: slot.id,
                            gpa: slot.base_gfn << PAGE_SHIFT,
                            size: slot.npages << PAGE_SHIFT,
                            hva: slot.hva,
                            flags: slot.flags,
                        },
                    )?;
                    Ok(false)
                }
                None if *as_id == 0 => {
                    *as_id = 1;
                    *gfn = 0;
                    Ok(false)
                }
                None => {
                    if !*found {
                        emit(
                            out,
                            &Reply::TokenErr {
                                reason: Reason::NoMemslot,
                                span: *span,
                            },
                        )?;
                    }
                    Ok(true)
                }
            }
        }
        Job::Pages(p) => {
            let Some(Ok(id)) = id.as_ref() else {
                return Ok(true);
            };
            let Ok(opts) = opts else {
                return Ok(true);
            };
            let pid = opts.pid.unwrap_or(id.vmm_pid);
            if p.gfn >= p.end {
                return finish(p, pid, out);
            }
            let Some(vm) = hold(held, id) else {
                give_up(p, pid, Reason::NoVm, out)?;
                return Ok(false);
            };
            let scratch = match scratch {
                Some(s) => s,
                None => scratch.insert(KBox::new(Scratch::new()?, GFP_KERNEL)?),
            };
            walk_step(p, vm, pid, opts, scratch, out)
        }
    }
}

/// Adds one page (or run of pages) to the pending run, printing the run
/// when `next` does not continue it.
fn push(p: &mut Pages, next: Reply, out: &mut KVVec<u8>) -> Result {
    if let Some(run) = p.run.as_mut() {
        if continues(run, &next) {
            let n = match next {
                Reply::Ok(t) => t.pages,
                Reply::AddrErr { pages, .. } => pages,
                _ => 1,
            };
            grow(run, n);
            return Ok(());
        }
        emit(out, run)?;
    }
    p.run = Some(next);
    Ok(())
}

/// Ends a range or `all`: prints the last run and logs the summary.
fn finish(p: &mut Pages, pid: u32, out: &mut KVVec<u8>) -> Result<bool> {
    if let Some(run) = p.run.take() {
        emit(out, &run)?;
    }
    let t = &p.tally;
    if p.all && t.mapped + t.absent + t.failed == 0 {
        emit(
            out,
            &Reply::TokenErr {
                reason: Reason::NoMemslot,
                span: p.span,
            },
        )?;
    }
    log_line!(Summary,
        "{} at offset {} (pid {}): {} pages mapped, {} not present, {} failed, {} outside memslots\n",
        if p.all { "all" } else { "range" },
        p.span.offset,
        pid,
        t.mapped,
        t.absent,
        t.failed,
        t.holes
    );
    Ok(true)
}

/// Ends a range or `all` early, the VM or its memory being gone: the pages
/// not yet told get `reason` (a range), or the request does (`all`, whose
/// remaining memslots are no longer known).
fn give_up(p: &mut Pages, pid: u32, reason: Reason, out: &mut KVVec<u8>) -> Result {
    let gone = if p.all {
        Reply::TokenErr {
            reason,
            span: p.span,
        }
    } else {
        Reply::AddrErr {
            reason,
            gpa: p.gfn << PAGE_SHIFT,
            pid: Some(pid),
            pages: p.end - p.gfn,
        }
    };
    push(p, gone, out)?;
    p.tally.failed += 1;
    p.gfn = p.end;
    Ok(())
}

/// Walks one batch of a range or `all`; returns whether it is done.
fn walk_step(
    p: &mut Pages,
    vm: &Vm,
    pid: u32,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut KVVec<u8>,
) -> Result<bool> {
    let want = usize::try_from(p.end - p.gfn).unwrap_or(usize::MAX);
    let nr = want.min(scratch.pages.len());
    let Scratch { pages, out: facts } = scratch;
    match vm.walk(
        opts.as_id,
        p.gfn,
        !opts.fault,
        &mut pages[..nr],
        &mut facts[..nr],
    ) {
        Ok((slot, walked)) => {
            let start = p.gfn;
            for page in walked {
                let reply = page_reply(page, &slot, p.gfn, 0, pid, opts.fault);
                let n = u64::from(page.pages.max(1));
                match reply {
                    Reply::Ok(_) => p.tally.mapped += n,
                    Reply::AddrErr {
                        reason: Reason::NotPresent,
                        ..
                    } => p.tally.absent += n,
                    _ => p.tally.failed += n,
                }
                push(p, reply, out)?;
                p.gfn = p.gfn.saturating_add(n).min(p.end);
            }
            // The shim walks at least the page holding `gfn`; never stall.
            if p.gfn == start {
                p.gfn += 1;
            }
        }
        Err(e) if shim::is_no_slot(e) => {
            let hole_end = match vm.slot_find(opts.as_id, p.gfn) {
                Some(s) if s.base_gfn > p.gfn => s.base_gfn.min(p.end),
                // A memslot appeared since the walk: look again.
                Some(_) => p.gfn + 1,
                None => p.end,
            };
            if !p.all {
                // `all` skips what lies between memslots without counting it.
                p.tally.holes += hole_end - p.gfn;
                let hole = Reply::AddrErr {
                    reason: Reason::NoMemslot,
                    gpa: p.gfn << PAGE_SHIFT,
                    pid: Some(pid),
                    pages: hole_end - p.gfn,
                };
                push(p, hole, out)?;
            }
            p.gfn = hole_end;
        }
        Err(e) if e == ESRCH => give_up(p, pid, Reason::NoMm, out)?,
        Err(e) => return Err(e),
    }
    Ok(false)
}
