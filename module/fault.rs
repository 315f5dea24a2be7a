// SPDX-License-Identifier: GPL-2.0

//! `mode=fault`: a batch of pages faulted in by gup (`shim/fault.c`), then
//! described by the page walk, under the mmap lock taken again.  What
//! faulting says is decided here: a page gup cannot get is described by
//! the walk (what the VMA says), with gup's error when nothing is there,
//! and the batch goes on with the next page; a fault or a lock wait that a
//! fatal signal ended ends the call with `EINTR`.

use crate::boundary::memory::{self, Mm, WalkEntry};
use crate::request::PAGE_SHIFT;
use kernel::error::code::ERESTARTSYS;
use kernel::prelude::*;

/// Faults in the `out.len()` pages at `hva` (at most as many as `refs` has
/// room for: where gup takes its page references) and describes them into
/// `out`: the entries filled.  `EINTR` on a fatal signal.
pub(crate) fn fault_in<'a>(
    mm: &mut Mm,
    hva: u64,
    refs: &mut [usize],
    out: &'a mut [WalkEntry],
) -> Result<&'a [WalkEntry]> {
    let nr = out.len().min(refs.len());
    // Entries filled, and pages described (or skipped).
    let (mut n, mut done) = (0, 0);
    while done < nr {
        if memory::fatal_signal_pending() {
            return Err(EINTR);
        }
        let at = hva.wrapping_add((done as u64) << PAGE_SHIFT);
        let (want, error) = match mm.fault_in(at, &mut refs[..nr - done]) {
            Err(e) if e == EINTR || e == ERESTARTSYS => return Err(EINTR),
            Ok(got) if got > 0 => (got, None),
            // This page has none; gup may get the next ones.
            Ok(_) => (1, Some(0)),
            Err(e) => (1, Some(e.to_errno())),
        };
        let (filled, covered) = {
            let walked = mm.read_lock()?.walk(at, want, &mut out[n..nr], &mut [])?;
            let covered: u64 = walked.iter().map(|e| u64::from(e.pages())).sum();
            (walked.len(), covered)
        };
        if let (Some(errno), Some(first)) = (error, out.get_mut(n)) {
            // What gup said, kept only where nothing is there.
            if filled > 0 && !first.facts().present {
                first.set_fault_error(errno);
            }
        }
        n += filled;
        if error.is_some() {
            done += 1;
        } else if covered == 0 {
            // Cannot happen: each entry is a page or more.
            break;
        } else {
            done += covered as usize;
        }
    }
    Ok(&out[..n])
}
