// SPDX-License-Identifier: GPL-2.0
//! Host memory for memslots: the mapping a memslot uses ([`Region`]) and
//! what the VMM's commands do to it.  How a region is backed is in
//! `backing.rs`, its userfaultfd in `uffd.rs`, `--thrash` in `thrash.rs`.

mod backing;
mod thrash;
mod uffd;

pub use backing::allocate;
pub use thrash::thrash_step;
pub use uffd::never_resolve;

use rustix::mm::{self, Advice, MapFlags, MprotectFlags, MremapFlags, ProtFlags};
use std::ffi::c_void;

/// A mapping of this process, unmapped when dropped.
pub struct Region {
    pub addr: *mut u8,
    pub size: usize,
    /// What a `devmem` region maps: the hugetlb page, kept until after it (held, never read).
    pub _behind: Option<Box<Region>>,
    /// The host physical address of a `devmem` region.
    pub phys: Option<u64>,
    /// A `gmem` region's guest_memfd, open as long as the region.
    pub gmem: Option<std::os::fd::OwnedFd>,
    /// The userfaultfd its missing pages are registered with (`--uffd`),
    /// until `resolve` closes it.
    pub uffd: Option<std::os::fd::OwnedFd>,
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.size == 0 {
            return; // unmapped already (`unmap`)
        }
        // SAFETY: the mapping is this region's own; the VM whose memslot
        // used it is dropped first (see `run_vm`).
        let _ = unsafe { mm::munmap(self.addr.cast(), self.size) };
    }
}

/// Maps `size` bytes of fresh private anonymous memory, read-write, with
/// `extra` flags.
fn mmap_anon(size: usize, extra: MapFlags) -> rustix::io::Result<*mut u8> {
    // SAFETY: a fresh anonymous mapping at an address of the kernel's
    // choosing touches no existing memory.
    let p = unsafe {
        mm::mmap_anonymous(
            std::ptr::null_mut(),
            size,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | extra,
        )
    }?;
    Ok(p.cast())
}

/// Gives `advice` that changes no contents (THP or KSM hints) for
/// `addr..addr+size`, a mapping this process owns.
fn advise(addr: *mut u8, size: usize, advice: Advice) -> rustix::io::Result<()> {
    // SAFETY: callers advise only on their own mapping, and never advice
    // that drops or changes its contents.
    unsafe { mm::madvise(addr.cast(), size, advice) }
}

/// Collapses `addr..addr+len` into THPs now (MADV_COLLAPSE, which rustix's
/// `Advice` does not name); returns whether the kernel did.
fn collapse_range(addr: *mut c_void, len: usize) -> bool {
    let advice = linux_raw_sys::general::MADV_COLLAPSE as libc::c_int;
    // SAFETY: MADV_COLLAPSE changes no contents, and on a range that is not
    // mapped it fails (ENOMEM) without touching anything.
    unsafe { libc::madvise(addr, len, advice) == 0 }
}

/// Unmaps `region`'s memory now; dropping the region later unmaps nothing
/// (the address range may hold another mapping by then).
pub fn unmap(region: &mut Region) -> Result<(), String> {
    // SAFETY: the mapping is this region's own; the memslot on it stays, so
    // KVM and gfn_to_pfn find no VMA there, which is what is tested.
    unsafe { mm::munmap(region.addr.cast(), region.size) }.map_err(|e| format!("munmap: {e}"))?;
    region.size = 0;
    Ok(())
}

/// Maps 1 MiB, touches it and unmaps it: each step takes this process's
/// mmap lock for writing.
pub fn map_and_unmap() -> Result<(), String> {
    let size = 1 << 20;
    let p = mmap_anon(size, MapFlags::empty()).map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: `p` is the start of the fresh, writable mapping just made.
    unsafe { p.write_volatile(1) };
    // SAFETY: the mapping is this function's own and nothing refers to it.
    unsafe { mm::munmap(p.cast(), size) }.map_err(|e| format!("munmap: {e}"))
}

/// Makes the page at `offset` into `region` read-only.
pub fn read_only(region: &Region, offset: u64) -> Result<(), String> {
    if offset >= region.size as u64 {
        return Err(format!("offset {offset:#x} is outside the region"));
    }
    let page = (region.addr as u64 + offset) & !4095;
    // SAFETY: the page lies in this region's own mapping; nothing writes
    // there while the VM holds (the guest has stopped).
    unsafe { mm::mprotect(page as *mut c_void, 4096, MprotectFlags::READ) }
        .map_err(|e| format!("mprotect: {e}"))
}

/// Drops the pages of `len` bytes at `offset` into `region`
/// (MADV_DONTNEED): they are not present until touched again.
pub fn drop_pages(region: &Region, offset: u64, len: u64) -> Result<(), String> {
    if !offset.is_multiple_of(4096)
        || !len.is_multiple_of(4096)
        || offset + len > region.size as u64
    {
        return Err(format!(
            "{len:#x} bytes at {offset:#x}: not whole pages inside the region"
        ));
    }
    // SAFETY: the range lies in this region's own mapping, which stays
    // mapped; nothing holds references into it while the VM holds (the
    // guest has stopped), and dropped anonymous pages read back as zeros.
    unsafe {
        mm::madvise(
            region.addr.add(offset as usize).cast(),
            len as usize,
            Advice::LinuxDontNeed,
        )
    }
    .map_err(|e| format!("madvise: {e}"))
}

/// Moves the `len` bytes mapped at `from` (this process's own mapping,
/// which nothing else uses meanwhile) to `to`, or to a new place of the
/// kernel's choosing; returns where they went.
fn move_mapping(
    from: *mut c_void,
    len: usize,
    to: Option<*mut c_void>,
) -> Result<*mut c_void, String> {
    // mremap without MREMAP_FIXED leaves a mapping whose size does not
    // change where it is: moving needs a place, a spare mapping it replaces.
    let to = match to {
        Some(to) => to,
        None => mmap_anon(len, MapFlags::NORESERVE)
            .map_err(|e| format!("mmap: {e}"))?
            .cast(),
    };
    // SAFETY: `from..from+len` is the caller's own mapping, and `to` either
    // a spare mapping made above or the caller's own range left empty.
    let moved = unsafe { mm::mremap_fixed(from, len, len, MremapFlags::MAYMOVE, to) }
        .map_err(|e| format!("mremap: {e}"))?;
    if moved != to {
        return Err(format!("mremap: moved to {moved:?}, not {to:?}"));
    }
    Ok(moved)
}

/// Moves `region`'s memory to a new address of the kernel's choosing
/// (mremap), which the region follows; returns that address.  A memslot
/// on the old address keeps it, with nothing mapped there.
pub fn move_away(region: &mut Region) -> Result<u64, String> {
    let to = move_mapping(region.addr.cast(), region.size, None)?;
    region.addr = to.cast();
    Ok(to as u64)
}

/// Makes the 2 MiB around `offset` into `region` writable again (undoing
/// `read_only`) and collapses it into a THP (MADV_COLLAPSE); returns
/// whether the kernel collapsed it.
pub fn collapse(region: &Region, offset: u64) -> Result<bool, String> {
    if offset >= region.size as u64 {
        return Err(format!("offset {offset:#x} is outside the region"));
    }
    let chunk = ((region.addr as u64 + offset) & !((2 << 20) - 1)) as *mut c_void;
    let len = (2usize << 20).min(region.size);
    // SAFETY: the chunk lies in this region's own mapping; nothing writes
    // there while the VM holds (the guest has stopped).
    unsafe { mm::mprotect(chunk, len, MprotectFlags::READ | MprotectFlags::WRITE) }
        .map_err(|e| format!("mprotect: {e}"))?;
    Ok(collapse_range(chunk, len))
}
