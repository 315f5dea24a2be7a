// SPDX-License-Identifier: GPL-2.0

//! Loading on a kernel that does not export what the module needs: the
//! kernel internals of `shim/symbols.h` that this kernel does not export
//! to the module are found, in module init, in the kernel's own symbol
//! table (`/proc/kallsyms`, read as the loading task would read it), each
//! address checked against what the kernel calls it, and stored before the
//! proc file exists.  Anything that cannot be had refuses the load with one
//! kernel-log line saying what and what to do (`tools/proto/src/
//! kallsyms.rs` words it), before anything is registered.

use crate::boundary::symbols::{check, releases, store, KallsymsFile, Needs};
use crate::kallsyms::{Refusal, Scan};
use kernel::prelude::*;

/// How much of the table one read takes.
const CHUNK: usize = 16384;

/// Finds and stores what the shim needs, or refuses the load.
pub(crate) fn resolve() -> Result {
    let (built, running) = releases();
    if built != running {
        return Err(refuse(Refusal::Release { built, running }, built, ENOEXEC));
    }
    let needs = Needs::of_shim()?;
    if needs.wanted().is_empty() {
        return Ok(());
    }
    let mut scan = Scan::new(needs.wanted()).ok_or(EINVAL)?;
    {
        let mut file = KallsymsFile::open()
            .map_err(|e| refuse(Refusal::Unreadable(e), built, Error::from_errno(e)))?;
        let mut buf = KVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| refuse(Refusal::Unreadable(e), built, Error::from_errno(e)))?;
            if n == 0 {
                break;
            }
            scan.feed(&buf[..n]);
        }
    }
    let addrs = scan.finish().map_err(|r| {
        let errno = match r {
            Refusal::Hidden(_) => EPERM,
            Refusal::Missing(_) => ENOENT,
            _ => EINVAL,
        };
        refuse(r, built, errno)
    })?;
    match check(&needs, &addrs)? {
        Ok(checked) => store(checked),
        Err((w, described)) => Err(refuse(
            Refusal::Disowned(w, described.bytes()),
            built,
            EINVAL,
        )),
    }
}

/// Says why the module (built for kernel release `built`) does not load, in
/// one line, and gives the error `insmod` reports.
fn refuse(why: Refusal<'_>, built: &[u8], errno: Error) -> Error {
    // Through `Arguments`, which both series' `pr_err!` print (7.3's takes
    // its own `kernel::fmt::Display`, which `Said` does not implement).
    pr_err!("{}\n", format_args!("{}", why.line(built)));
    errno
}
