// SPDX-License-Identifier: GPL-2.0
//! Host memory for memslots, backed as the test asks: base pages, THP or
//! hugetlb pages.

use crate::args::{Backing, Touch};
use std::io;

/// madvise(2) advice: collapse into THPs now (not in every libc).
const MADV_COLLAPSE: libc::c_int = 25;

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
            let p = mmap(size, libc::MAP_NORESERVE).map_err(|e| format!("mmap anon: {e}"))?;
            madvise(p, size, libc::MADV_NOHUGEPAGE).map_err(|e| format!("MADV_NOHUGEPAGE: {e}"))?;
            if backing == Backing::Ksm {
                madvise(p, size, libc::MADV_MERGEABLE)
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
            let raw =
                mmap(window + align, libc::MAP_NORESERVE).map_err(|e| format!("mmap thp: {e}"))?;
            let start = (raw as usize).div_ceil(align) * align;
            let head = start - raw as usize;
            let tail = align - head;
            // SAFETY: both ranges lie inside the mapping just made and
            // outside the window kept.
            unsafe {
                if head > 0 {
                    libc::munmap(raw.cast(), head);
                }
                libc::munmap((start + window) as *mut libc::c_void, tail);
            }
            let p = start as *mut u8;
            madvise(p, window, libc::MADV_HUGEPAGE).map_err(|e| format!("MADV_HUGEPAGE: {e}"))?;
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
            let shift = if backing == Backing::Hugetlb { 21 } else { 30 };
            mmap(size, libc::MAP_HUGETLB | (shift << libc::MAP_HUGE_SHIFT)).map_err(|e| {
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
fn dax_file() -> Result<i32, String> {
    use std::os::unix::ffi::OsStrExt;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::var_os("GFN_DAX_DIR").unwrap_or_else(|| "/mnt/dax".into());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::path::Path::new(&dir).join(format!("gfn-vmm-{}-{n}", std::process::id()));
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a NUL-terminated path; open(2) returns a new descriptor.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(format!(
            "open {}: {} (is a DAX file system mounted there?)",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    // SAFETY: as above; the descriptor keeps the file.
    unsafe { libc::unlink(c.as_ptr()) };
    Ok(fd)
}

/// Maps `size` bytes of a new memfd, shared, as QEMU's memfd backend does
/// (`share=on`): shmem pages, shmem THPs (2 MiB aligned, MADV_HUGEPAGE) or
/// hugetlb pages; or of a new file on a DAX file system (`dax`).  The
/// descriptor is closed; the mapping keeps the file.
fn memfd(backing: Backing, size: usize) -> Result<*mut u8, String> {
    let err = |what: &str| format!("{what} ({backing}): {}", io::Error::last_os_error());
    let fd = if backing == Backing::Dax {
        dax_file()?
    } else {
        let flags = match backing {
            Backing::MemfdHugetlb => libc::MFD_HUGETLB | libc::MFD_HUGE_2MB,
            _ => 0,
        } | libc::MFD_CLOEXEC;
        // SAFETY: the name is a NUL-terminated literal.
        let fd = unsafe { libc::memfd_create(c"gfn-vmm".as_ptr(), flags) };
        if fd < 0 {
            return Err(err("memfd_create"));
        }
        fd
    };
    // SAFETY: `fd` is the descriptor just created.
    if unsafe { libc::ftruncate(fd, size as libc::off_t) } != 0 {
        return Err(err("ftruncate"));
    }
    // A 2 MiB aligned window, so that shmem THPs can be mapped by PMDs.
    let align = backing.align() as usize;
    let raw = mmap(size + align, libc::MAP_NORESERVE).map_err(|e| format!("mmap: {e}"))?;
    let at = (raw as usize).div_ceil(align) * align;
    // SAFETY: MAP_FIXED over part of the reservation just made, which
    // nothing else uses; the rest of it is unmapped below.
    let p = unsafe {
        libc::mmap(
            at as *mut libc::c_void,
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            0,
        )
    };
    // SAFETY: `fd` is ours; the mapping (if any) holds the file.
    unsafe { libc::close(fd) };
    if p == libc::MAP_FAILED {
        return Err(err("mmap memfd"));
    }
    // SAFETY: both ranges lie in the reservation and outside the window.
    unsafe {
        if at > raw as usize {
            libc::munmap(raw.cast(), at - raw as usize);
        }
        let tail = raw as usize + size + align - (at + size);
        if tail > 0 {
            libc::munmap((at + size) as *mut libc::c_void, tail);
        }
    }
    let p = p as *mut u8;
    let advice = match backing {
        Backing::MemfdThp => libc::MADV_HUGEPAGE,
        Backing::Memfd => libc::MADV_NOHUGEPAGE,
        _ => return Ok(p),
    };
    madvise(p, size, advice).map_err(|e| format!("madvise ({backing}): {e}"))?;
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
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            std::os::unix::io::AsRawFd::as_raw_fd(&mem),
            phys as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "mmap /dev/mem at {phys:#x}: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(Region {
        addr: p.cast(),
        size,
        _behind: Some(Box::new(page)),
        phys: Some(phys),
        gmem: None,
        uffd: None,
    })
}

/// Unmaps `region`'s memory now; dropping the region later unmaps nothing
/// (the address range may hold another mapping by then).
pub fn unmap(region: &mut Region) -> Result<(), String> {
    // SAFETY: the mapping is this region's own; the memslot on it stays, so
    // KVM and gfn_to_pfn find no VMA there, which is what is tested.
    if unsafe { libc::munmap(region.addr.cast(), region.size) } != 0 {
        return Err(format!("munmap: {}", io::Error::last_os_error()));
    }
    region.size = 0;
    Ok(())
}

/// `struct uffdio_api` and `struct uffdio_register` from
/// `<linux/userfaultfd.h>`, with their ioctls (`_IOWR(0xAA, nr, size)`).
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFD_API: u64 = 0xaa;
const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;

/// Registers `region`'s missing pages with a new userfaultfd whose faults
/// are never resolved: a fault there waits until the region's `uffd` is
/// closed (then it goes on as an ordinary fault) or the process exits.
pub fn never_resolve(region: &mut Region) -> Result<(), String> {
    let err = |what: &str| format!("{what}: {}", io::Error::last_os_error());
    // SAFETY: userfaultfd(2) takes flags only and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) } as i32;
    if fd < 0 {
        return Err(err("userfaultfd"));
    }
    let mut api = UffdioApi {
        api: UFFD_API,
        features: 0,
        ioctls: 0,
    };
    // SAFETY: `api` is the struct UFFDIO_API reads and fills.
    if unsafe { libc::ioctl(fd, UFFDIO_API, &mut api) } != 0 {
        return Err(err("UFFDIO_API"));
    }
    let mut reg = UffdioRegister {
        start: region.addr as u64,
        len: region.size as u64,
        mode: UFFDIO_REGISTER_MODE_MISSING,
        ioctls: 0,
    };
    // SAFETY: `reg` is the struct UFFDIO_REGISTER reads and fills; the
    // range is this region's own mapping.
    if unsafe { libc::ioctl(fd, UFFDIO_REGISTER, &mut reg) } != 0 {
        return Err(err("UFFDIO_REGISTER"));
    }
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is the descriptor created above, owned from here on.
    region.uffd = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// Maps 1 MiB, touches it and unmaps it: each step takes this process's
/// mmap lock for writing.
pub fn map_and_unmap() -> Result<(), String> {
    let size = 1 << 20;
    let p = mmap(size, 0).map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: `p` is the start of the fresh, writable mapping just made.
    unsafe { p.write_volatile(1) };
    // SAFETY: the mapping is this function's own and nothing refers to it.
    if unsafe { libc::munmap(p.cast(), size) } != 0 {
        return Err(format!("munmap: {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// Makes the page at `offset` into `region` read-only.
pub fn read_only(region: &Region, offset: u64) -> Result<(), String> {
    if offset >= region.size as u64 {
        return Err(format!("offset {offset:#x} is outside the region"));
    }
    let page = (region.addr as u64 + offset) & !4095;
    // SAFETY: the page lies in this region's own mapping; nothing writes
    // there while the VM holds (the guest has stopped).
    if unsafe { libc::mprotect(page as *mut libc::c_void, 4096, libc::PROT_READ) } != 0 {
        return Err(format!("mprotect: {}", io::Error::last_os_error()));
    }
    Ok(())
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
    let rc = unsafe {
        libc::madvise(
            region.addr.add(offset as usize).cast(),
            len as usize,
            libc::MADV_DONTNEED,
        )
    };
    if rc != 0 {
        return Err(format!("madvise: {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// One step of `--thrash` on the `round`-th 2 MiB chunk of the `size`
/// bytes of a region's memory at `addr`: what
/// a VMM (or the kernel) may do to guest memory while a map reads it.
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
    let p = at as *mut libc::c_void;
    let fail = |what: &str| Err(format!("thrash {what}: {}", io::Error::last_os_error()));
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
            if unsafe { libc::madvise(p, len, libc::MADV_DONTNEED) } != 0 {
                return fail("MADV_DONTNEED");
            }
            touch();
            Ok(true)
        }
        // SAFETY: see above; MADV_COLLAPSE changes no contents.
        1 => Ok(unsafe { libc::madvise(p, len, MADV_COLLAPSE) } == 0),
        2 => {
            let page = (at + 4096 * 7) as *mut libc::c_void;
            // SAFETY: see above; the page is writable again at once.
            let protected = unsafe {
                libc::mprotect(page, 4096, libc::PROT_READ) == 0
                    && libc::mprotect(page, 4096, libc::PROT_READ | libc::PROT_WRITE) == 0
            };
            if !protected {
                return fail("mprotect");
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
            if unsafe { libc::munmap(p, len) } != 0 {
                return fail("munmap");
            }
            // SAFETY: MAP_FIXED over the range just unmapped, this
            // region's own.
            let fresh = unsafe {
                libc::mmap(
                    p,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if fresh != p {
                return fail("mmap");
            }
            // Where THPs are allowed: the advice is a hint, never an error.
            let _ = madvise(fresh.cast(), len, libc::MADV_HUGEPAGE);
            touch();
            Ok(true)
        }
    }
}

/// Moves the `len` bytes mapped at `from` (this process's own mapping,
/// which nothing else uses meanwhile) to `to`, or to a new place of the
/// kernel's choosing; returns where they went.
fn move_mapping(
    from: *mut libc::c_void,
    len: usize,
    to: Option<*mut libc::c_void>,
) -> Result<*mut libc::c_void, String> {
    // mremap without MREMAP_FIXED leaves a mapping whose size does not
    // change where it is: moving needs a place, a spare mapping it replaces.
    let to = match to {
        Some(to) => to,
        None => mmap(len, libc::MAP_NORESERVE)
            .map_err(|e| format!("mmap: {e}"))?
            .cast(),
    };
    // SAFETY: `from..from+len` is the caller's own mapping, and `to` either
    // a spare mapping made above or the caller's own range left empty.
    let moved = unsafe {
        libc::mremap(
            from,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            to,
        )
    };
    if moved != to {
        return Err(format!("mremap: {}", io::Error::last_os_error()));
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
    let chunk = (region.addr as u64 + offset) & !((2 << 20) - 1);
    let len = (2usize << 20).min(region.size);
    // SAFETY: the chunk lies in this region's own mapping; nothing writes
    // there while the VM holds (the guest has stopped).
    if unsafe {
        libc::mprotect(
            chunk as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    } != 0
    {
        return Err(format!("mprotect: {}", io::Error::last_os_error()));
    }
    // SAFETY: as above; MADV_COLLAPSE changes no contents.
    Ok(unsafe { libc::madvise(chunk as *mut libc::c_void, len, MADV_COLLAPSE) } == 0)
}
