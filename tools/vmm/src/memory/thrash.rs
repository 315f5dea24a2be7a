// SPDX-License-Identifier: GPL-2.0
//! `--thrash`: what a VMM (or the kernel) may do to guest memory while a
//! map reads it, a step at a time.

use super::{advise, collapse_range, move_mapping};
use rustix::mm::{self, Advice, MapFlags, MprotectFlags, ProtFlags};
use std::ffi::c_void;

/// One step of `--thrash` on the `round`-th 2 MiB chunk of the `size`
/// bytes of a region's memory at `addr`.
/// Steps in turn: drop the chunk's pages (MADV_DONTNEED) and fault them in
/// again; collapse it into a THP (MADV_COLLAPSE); split its PMD by making
/// one page read-only and writable again; move it away and back (mremap);
/// unmap it and map fresh memory in its place.  Returns whether the step
/// did what it asked (a collapse may be refused: memory is short, say).
pub fn thrash_step(addr: usize, size: usize, round: u64) -> Result<bool, String> {
    const CHUNK: usize = 2 << 20;
    let chunks = (size / CHUNK).max(1) as u64;
    let len = CHUNK.min(size);
    let at = addr + (round / 5 % chunks) as usize * CHUNK;
    let p = at as *mut c_void;
    let fail = |what: &str, e: rustix::io::Errno| format!("thrash {what}: {e}");
    let touch = || {
        for off in (0..len).step_by(4096) {
            // SAFETY: the chunk is mapped writable again before each touch.
            unsafe { (at as *mut u8).add(off).write_volatile(1) };
        }
    };
    // Every call below acts on this region's own chunk, which only this
    // thread uses while the VM holds (its vCPU has stopped), and leaves it
    // mapped read-write before the step returns.
    match round % 5 {
        0 => {
            // SAFETY: see above; the pages read as zero until touched.
            unsafe { mm::madvise(p, len, Advice::LinuxDontNeed) }
                .map_err(|e| fail("MADV_DONTNEED", e))?;
            touch();
            Ok(true)
        }
        1 => Ok(collapse_range(p, len)),
        2 => {
            let page = (at + 4096 * 7) as *mut c_void;
            // SAFETY: see above; the page is writable again at once.
            unsafe {
                mm::mprotect(page, 4096, MprotectFlags::READ)
                    .and_then(|()| {
                        mm::mprotect(page, 4096, MprotectFlags::READ | MprotectFlags::WRITE)
                    })
                    .map_err(|e| fail("mprotect", e))?;
            }
            Ok(true)
        }
        3 => {
            let away = move_mapping(p, len, None)?;
            move_mapping(away, len, Some(p))?;
            Ok(true)
        }
        _ => {
            // SAFETY: see above; the range is mapped again just below.
            unsafe { mm::munmap(p, len) }.map_err(|e| fail("munmap", e))?;
            // SAFETY: MAP_FIXED over the range just unmapped, this
            // region's own.
            let fresh = unsafe {
                mm::mmap_anonymous(
                    p,
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE | MapFlags::FIXED,
                )
            }
            .map_err(|e| fail("mmap", e))?;
            if fresh != p {
                return Err(format!("thrash mmap: mapped at {fresh:?}, not {p:?}"));
            }
            // Where THPs are allowed: the advice is a hint, never an error.
            let _ = advise(fresh.cast(), len, Advice::LinuxHugepage);
            touch();
            Ok(true)
        }
    }
}
