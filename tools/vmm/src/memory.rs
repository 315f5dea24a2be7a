//! Host memory for memslots, backed as the test asks: base pages, THP or
//! hugetlb pages.

use crate::args::Backing;
use std::io;

/// A private anonymous mapping, unmapped when dropped.
pub struct Region {
    pub addr: *mut u8,
    pub size: usize,
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping is this region's own; the VM whose memslot
        // used it is dropped first (see `run_vm`).
        unsafe { libc::munmap(self.addr.cast(), self.size) };
    }
}

fn mmap(size: usize, extra_flags: i32) -> io::Result<*mut u8> {
    // SAFETY: a fresh anonymous mapping at an address of the kernel's
    // choosing touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

fn madvise(addr: *mut u8, size: usize, advice: i32) -> io::Result<()> {
    // SAFETY: `addr..addr+size` is a mapping this process owns.
    if unsafe { libc::madvise(addr.cast(), size, advice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds `addr..addr+size` to NUMA node `node` (MPOL_BIND), before any
/// page of it is faulted in.
fn bind(addr: *mut u8, size: usize, node: u32) -> Result<(), String> {
    const MPOL_BIND: libc::c_long = 2;
    let mask: u64 = 1 << node;
    // SAFETY: mbind reads one u64 of node mask (maxnode 64) and changes only
    // the policy of this process's own mapping.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            addr,
            size,
            MPOL_BIND,
            &mask as *const u64,
            64 as libc::c_ulong,
            0 as libc::c_uint,
        )
    };
    if ret != 0 {
        return Err(format!(
            "mbind to node {node}: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Maps `size` bytes backed as `backing`; with `touch`, faults in every
/// page by writing to it, so the whole slot is present.
pub fn allocate(
    backing: Backing,
    size: usize,
    touch: bool,
    node: Option<u32>,
) -> Result<Region, String> {
    let addr = match backing {
        Backing::Anon | Backing::Ksm => {
            let p = mmap(size, libc::MAP_NORESERVE).map_err(|e| format!("mmap anon: {e}"))?;
            madvise(p, size, libc::MADV_NOHUGEPAGE).map_err(|e| format!("MADV_NOHUGEPAGE: {e}"))?;
            if backing == Backing::Ksm {
                madvise(p, size, libc::MADV_MERGEABLE)
                    .map_err(|e| format!("MADV_MERGEABLE: {e} (is CONFIG_KSM on?)"))?;
            }
            p
        }
        Backing::Thp => {
            // Over-allocate, then trim to a 2 MiB aligned window.
            let align = backing.align() as usize;
            let raw =
                mmap(size + align, libc::MAP_NORESERVE).map_err(|e| format!("mmap thp: {e}"))?;
            let start = (raw as usize).div_ceil(align) * align;
            let head = start - raw as usize;
            let tail = align - head;
            // SAFETY: both ranges lie inside the mapping just made and
            // outside the window kept.
            unsafe {
                if head > 0 {
                    libc::munmap(raw.cast(), head);
                }
                libc::munmap((start + size) as *mut libc::c_void, tail);
            }
            let p = start as *mut u8;
            madvise(p, size, libc::MADV_HUGEPAGE).map_err(|e| format!("MADV_HUGEPAGE: {e}"))?;
            p
        }
        Backing::Hugetlb | Backing::Hugetlb1g => {
            let shift = if backing == Backing::Hugetlb { 21 } else { 30 };
            mmap(size, libc::MAP_HUGETLB | (shift << libc::MAP_HUGE_SHIFT)).map_err(|e| {
                format!("mmap MAP_HUGETLB ({backing}): {e}: are enough huge pages reserved (/proc/sys/vm/nr_hugepages)?")
            })?
        }
    };
    if let Some(node) = node {
        bind(addr, size, node)?;
    }
    if touch {
        for off in (0..size).step_by(4096) {
            // SAFETY: `off` is inside the writable mapping of `size` bytes.
            unsafe { addr.add(off).write_volatile(0) };
        }
    }
    Ok(Region { addr, size })
}
