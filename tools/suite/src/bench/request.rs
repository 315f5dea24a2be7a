// SPDX-License-Identifier: GPL-2.0
//! What one request costs, piece by piece, on the hugetlb VM (whose 64 MiB
//! map is 32 entries, so what is left is the fixed cost of asking): a
//! system call that does nothing, opening and closing the file, the seed's
//! open/ask/close and parts of it, a read at the end of a reply, a line
//! refused by the parser, `vms`, a single address, a map of one page and
//! of 64 MiB (on an open file, and on a new one), and pagemap's 8 bytes,
//! each the median of `ROUNDS` rounds.  The rows tell which part of a
//! request's fixed cost a kernel makes dear: the 0.2x goal of huge pages
//! and untouched memory is that fixed cost over one bulk pagemap read, and
//! the single-address goal the cost of asking over that of opening,
//! asking and closing.

use super::{median, module_map, Cost, GPA};
use crate::module;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

/// Seconds one call of `f` takes, the median of `ROUNDS` rounds.
fn per_call(f: &mut dyn FnMut() -> Result<(), String>) -> Result<f64, String> {
    Ok(median(&mut || {
        let start = Instant::now();
        f()?;
        Ok(Cost::secs(start.elapsed().as_secs_f64()))
    })?
    .secs)
}

/// Writes `request` on the open file `f` and reads its reply to the end.
fn ask(f: &mut File, request: &str, buf: &mut [u8]) -> Result<(), String> {
    f.write_all(request.as_bytes())
        .map_err(|e| format!("{request:?}: {e}"))?;
    while f.read(buf).map_err(|e| format!("{request:?}: {e}"))? > 0 {}
    Ok(())
}

/// Prints the rows for the VM of VMM `pid`, whose memory at `GPA` is
/// `hva` in the VMM.
pub(super) fn request_costs(name: &str, pid: u32, hva: u64) -> Result<(), String> {
    let row = |what: &str, secs: f64| {
        println!("BENCH request, {name}: {what:<54} {:>8.1} us", secs * 1e6);
    };
    let mut buf = vec![0u8; 1 << 18];
    let mut f = module::open().map_err(|e| e.to_string())?;
    row(
        "a system call (getppid)",
        per_call(&mut || {
            std::hint::black_box(std::os::unix::process::parent_id());
            Ok(())
        })?,
    );
    row(
        "open and close of /proc/gfn_to_pfn",
        per_call(&mut || module::open().map(drop).map_err(|e| e.to_string()))?,
    );
    row(
        "the seed's way: open, one address (write, read), close",
        per_call(&mut || {
            let mut f = module::open().map_err(|e| e.to_string())?;
            ask(&mut f, &format!("{GPA:#x} {pid}"), &mut buf)
        })?,
    );
    for (what, request, read) in [
        (
            "open, a refused line (write), close",
            "zz".to_string(),
            false,
        ),
        (
            "open, a refused line (write, reads), close",
            "zz".to_string(),
            true,
        ),
        (
            "open, one address (write), close",
            format!("{GPA:#x} {pid}"),
            false,
        ),
    ] {
        row(
            what,
            per_call(&mut || {
                let mut f = module::open().map_err(|e| e.to_string())?;
                if read {
                    ask(&mut f, &request, &mut buf)
                } else {
                    f.write_all(request.as_bytes()).map_err(|e| e.to_string())
                }
            })?,
        );
    }
    ask(&mut f, "vms", &mut buf)?;
    row(
        "read at the end of a reply",
        per_call(&mut || {
            f.read_at(&mut buf, 1 << 20)
                .map(drop)
                .map_err(|e| e.to_string())
        })?,
    );
    for (what, request) in [
        ("a line the parser refuses (write, reads)", "zz".to_string()),
        ("vms (write, reads)", "vms".to_string()),
        (
            "one address of a process with no VM (write, reads)",
            format!("{GPA:#x} 1"),
        ),
        ("one address (write, reads)", format!("{GPA:#x} {pid}")),
        (
            "one address, format=bin (write, reads)",
            format!("{GPA:#x} pid={pid} format=bin"),
        ),
        (
            "a map of one page, format=bin (write, reads)",
            format!("{GPA:#x}+1 pid={pid} format=bin"),
        ),
        (
            "a map of 64 MiB, format=bin (write, reads)",
            format!("{GPA:#x}+16384 pid={pid} format=bin"),
        ),
    ] {
        row(what, per_call(&mut || ask(&mut f, &request, &mut buf))?);
    }
    row(
        "a map of 64 MiB, format=bin, on a new file (open..close)",
        median(&mut || module_map(&format!("{GPA:#x}+16384 pid={pid} format=bin")))?.secs,
    );
    let pagemap = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| e.to_string())?;
    let mut entry = [0u8; 8];
    row(
        "pagemap, one 8-byte pread",
        per_call(&mut || {
            pagemap
                .read_exact_at(&mut entry, (hva >> 12) * 8)
                .map_err(|e| e.to_string())
        })?,
    );
    Ok(())
}
