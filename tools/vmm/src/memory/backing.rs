// SPDX-License-Identifier: GPL-2.0
//! How a memslot's memory is backed, as the test asks: base pages, THP,
//! hugetlb pages, a memfd, a file on a DAX file system or `/dev/mem`;
//! mapped, bound to a NUMA node and faulted in.

use super::{advise, mmap_anon, Region};
use crate::args::{Backing, Touch};
use rustix::fs::{self, MemfdFlags, Mode, OFlags};
use rustix::mm::{self, Advice, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::os::fd::{AsFd, OwnedFd};

/// Binds `addr..addr+size` to NUMA node `node` (MPOL_BIND), before any
/// page of it is faulted in.  Neither rustix nor libc wraps mbind(2).
fn bind(addr: *mut u8, size: usize, node: u32) -> Result<(), String> {
    let mode = linux_raw_sys::mempolicy::MPOL_BIND as libc::c_long;
    let mask: u64 = 1 << node;
    // SAFETY: mbind reads one u64 of node mask (maxnode 64) and changes only
    // the policy of this process's own mapping.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            addr,
            size,
            mode,
            &mask as *const u64,
            64 as libc::c_ulong,
            0 as libc::c_uint,
        )
    };
    if ret != 0 {
        return Err(format!(
            "mbind to node {node}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Maps `size` bytes backed as `backing`; faults in every page by writing
/// to it, in order or scattered, unless `touch` says not to.
pub fn allocate(
    backing: Backing,
    size: usize,
    touch: Touch,
    node: Option<u32>,
) -> Result<Region, String> {
    let addr = match backing {
        Backing::Anon | Backing::Ksm | Backing::Gmem => {
            let p = mmap_anon(size, MapFlags::NORESERVE).map_err(|e| format!("mmap anon: {e}"))?;
            advise(p, size, Advice::LinuxNoHugepage)
                .map_err(|e| format!("MADV_NOHUGEPAGE: {e}"))?;
            if backing == Backing::Ksm {
                advise(p, size, Advice::LinuxMergeable)
                    .map_err(|e| format!("MADV_MERGEABLE: {e} (is CONFIG_KSM on?)"))?;
            }
            p
        }
        Backing::Thp | Backing::ThpOffset => {
            // Over-allocate, then trim to a 2 MiB aligned window: of the
            // slot's size, or for `thp-offset` of whole 2 MiB chunks
            // around a slot 4 KiB into it (the chunks' THPs mapped by PMDs
            // hold the slot's pages; the rest of the window is never
            // touched and stays mapped until the VMM exits).
            let align = backing.align() as usize;
            let (offset, window) = match backing {
                Backing::Thp => (0, size),
                _ => (4096, (size + 4096).div_ceil(align) * align),
            };
            let raw = mmap_anon(window + align, MapFlags::NORESERVE)
                .map_err(|e| format!("mmap thp: {e}"))?;
            let start = (raw as usize).div_ceil(align) * align;
            let head = start - raw as usize;
            let tail = align - head;
            // SAFETY: both ranges lie inside the mapping just made and
            // outside the window kept.
            unsafe {
                if head > 0 {
                    let _ = mm::munmap(raw.cast(), head);
                }
                let _ = mm::munmap((start + window) as *mut c_void, tail);
            }
            let p = start as *mut u8;
            advise(p, window, Advice::LinuxHugepage).map_err(|e| format!("MADV_HUGEPAGE: {e}"))?;
            // The whole window, so that no mbind splits it into mappings
            // too small for THPs.
            if let Some(node) = node {
                bind(p, window, node)?;
            }
            // SAFETY: `offset` lies inside the window (of at least
            // `offset + size` bytes).
            unsafe { p.add(offset) }
        }
        Backing::Devmem => return devmem(size),
        Backing::Memfd | Backing::MemfdThp | Backing::MemfdHugetlb | Backing::Dax => {
            memfd(backing, size)?
        }
        Backing::Hugetlb | Backing::Hugetlb1g => {
            let huge = if backing == Backing::Hugetlb {
                MapFlags::HUGE_2MB
            } else {
                MapFlags::HUGE_1GB
            };
            mmap_anon(size, MapFlags::HUGETLB | huge).map_err(|e| {
                format!("mmap MAP_HUGETLB ({backing}): {e}: are enough huge pages reserved (/proc/sys/vm/nr_hugepages)?")
            })?
        }
    };
    if let (Some(node), false) = (node, matches!(backing, Backing::Thp | Backing::ThpOffset)) {
        bind(addr, size, node)?;
    }
    // No list of pages for untouched memory: it may be a terabyte.
    let mut pages: Vec<usize> = match touch {
        Touch::None => Vec::new(),
        Touch::InOrder | Touch::Scattered => (0..size / 4096).collect(),
    };
    if touch == Touch::Scattered {
        shuffle(&mut pages);
    }
    for page in pages {
        // SAFETY: the page is inside the writable mapping of `size` bytes.
        unsafe { addr.add(page * 4096).write_volatile(0) };
    }
    Ok(Region {
        addr,
        size,
        _behind: None,
        phys: None,
        gmem: None,
        uffd: None,
    })
}

/// A new file on the DAX file system at `$GFN_DAX_DIR` (or `/mnt/dax`),
/// opened and unlinked (the mapping keeps it).
fn dax_file() -> Result<OwnedFd, String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::var_os("GFN_DAX_DIR").unwrap_or_else(|| "/mnt/dax".into());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::path::Path::new(&dir).join(format!("gfn-vmm-{}-{n}", std::process::id()));
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    let fd = fs::open(&path, flags, Mode::from_raw_mode(0o600)).map_err(|e| {
        format!(
            "open {}: {e} (is a DAX file system mounted there?)",
            path.display()
        )
    })?;
    // The descriptor keeps the file.
    let _ = fs::unlink(&path);
    Ok(fd)
}

/// Maps `size` bytes of a new memfd, shared, as QEMU's memfd backend does
/// (`share=on`): shmem pages, shmem THPs (2 MiB aligned, MADV_HUGEPAGE) or
/// hugetlb pages; or of a new file on a DAX file system (`dax`).  The
/// descriptor is closed; the mapping keeps the file.
fn memfd(backing: Backing, size: usize) -> Result<*mut u8, String> {
    let err = |what: &str, e: rustix::io::Errno| format!("{what} ({backing}): {e}");
    let fd = if backing == Backing::Dax {
        dax_file()?
    } else {
        let flags = match backing {
            Backing::MemfdHugetlb => MemfdFlags::HUGETLB | MemfdFlags::HUGE_2MB,
            _ => MemfdFlags::empty(),
        } | MemfdFlags::CLOEXEC;
        fs::memfd_create(c"gfn-vmm", flags).map_err(|e| err("memfd_create", e))?
    };
    fs::ftruncate(&fd, size as u64).map_err(|e| err("ftruncate", e))?;
    // A 2 MiB aligned window, so that shmem THPs can be mapped by PMDs.
    let align = backing.align() as usize;
    let raw = mmap_anon(size + align, MapFlags::NORESERVE).map_err(|e| format!("mmap: {e}"))?;
    let at = (raw as usize).div_ceil(align) * align;
    // SAFETY: MAP_FIXED over part of the reservation just made, which
    // nothing else uses; the rest of it is unmapped below.
    let p = unsafe {
        mm::mmap(
            at as *mut c_void,
            size,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED | MapFlags::FIXED,
            fd.as_fd(),
            0,
        )
    };
    // The mapping (if any) holds the file.
    drop(fd);
    let p = p.map_err(|e| err("mmap memfd", e))?;
    // SAFETY: both ranges lie in the reservation and outside the window.
    unsafe {
        if at > raw as usize {
            let _ = mm::munmap(raw.cast(), at - raw as usize);
        }
        let tail = raw as usize + size + align - (at + size);
        if tail > 0 {
            let _ = mm::munmap((at + size) as *mut c_void, tail);
        }
    }
    let p = p as *mut u8;
    let advice = match backing {
        Backing::MemfdThp => Advice::LinuxHugepage,
        Backing::Memfd => Advice::LinuxNoHugepage,
        _ => return Ok(p),
    };
    advise(p, size, advice).map_err(|e| format!("madvise ({backing}): {e}"))?;
    Ok(p)
}

/// Fisher-Yates with xorshift64: a fixed seed, so runs are comparable.
fn shuffle(v: &mut [usize]) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// The host physical address of this process's page at `addr`, from its
/// pagemap (root sees frame numbers).
fn phys_of(addr: *mut u8) -> Result<u64, String> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open("/proc/self/pagemap").map_err(|e| format!("pagemap: {e}"))?;
    let mut entry = [0u8; 8];
    f.read_exact_at(&mut entry, (addr as u64 >> 12) * 8)
        .map_err(|e| format!("pagemap: {e}"))?;
    let entry = u64::from_le_bytes(entry);
    let pfn = entry & ((1 << 55) - 1);
    if entry >> 63 == 0 || pfn == 0 {
        return Err("pagemap shows no frame (not root?)".into());
    }
    Ok(pfn << 12)
}

/// A `/dev/mem` mapping of `size` bytes of a 2 MiB hugetlb page that the
/// returned region keeps: VM_IO | VM_PFNMAP memory that is this process's
/// own, so writes through it hurt nobody.
fn devmem(size: usize) -> Result<Region, String> {
    let page = allocate(Backing::Hugetlb, 2 << 20, Touch::InOrder, None)?;
    let phys = phys_of(page.addr)?;
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mem")
        .map_err(|e| format!("open /dev/mem: {e}"))?;
    // SAFETY: a new shared mapping of /dev/mem at an address of the
    // kernel's choosing; it aliases only the hugetlb page held in `_behind`,
    // as long as that page is not migrated (nothing in the test guest
    // migrates hugetlb pages: no memory hot-unplug, no gigantic-page or CMA
    // allocations while a VMM runs).
    let p = unsafe {
        mm::mmap(
            std::ptr::null_mut(),
            size,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            &mem,
            phys,
        )
    }
    .map_err(|e| format!("mmap /dev/mem at {phys:#x}: {e}"))?;
    Ok(Region {
        addr: p.cast(),
        size,
        _behind: Some(Box::new(page)),
        phys: Some(phys),
        gmem: None,
        uffd: None,
    })
}
