// SPDX-License-Identifier: GPL-2.0
//! Independent oracles: what the kernel itself says about a host page,
//! through /proc/<pid>/pagemap, /proc/kpageflags and /dev/mem (or
//! /proc/kcore where /dev/mem refuses RAM).

use gfn_client::phys;
use gfn_proto::reply::Kind;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// kpageflags bits (include/uapi/linux/kernel-page-flags.h).
const KPF_COMPOUND_HEAD: u32 = 15;
const KPF_COMPOUND_TAIL: u32 = 16;
const KPF_HUGE: u32 = 17;
const KPF_THP: u32 = 22;
pub const KPF_ZERO_PAGE: u32 = 24;

fn read_u64_at(path: &str, offset: u64) -> Result<u64, String> {
    let f = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    let mut buf = [0u8; 8];
    f.read_exact_at(&mut buf, offset)
        .map_err(|e| format!("read {path} at {offset:#x}: {e}"))?;
    Ok(u64::from_le_bytes(buf))
}

/// The host PFN mapped at `vaddr` in process `pid`, from its pagemap.
pub fn pagemap_pfn(pid: u32, vaddr: u64) -> Result<u64, String> {
    let entry = read_u64_at(&format!("/proc/{pid}/pagemap"), (vaddr >> 12) * 8)?;
    if entry >> 63 == 0 {
        return Err(format!("pagemap: {vaddr:#x} in pid {pid} is not present"));
    }
    Ok(entry & ((1 << 55) - 1))
}

/// The kpageflags word of host frame `pfn`.
pub fn kpageflags(pfn: u64) -> Result<u64, String> {
    read_u64_at("/proc/kpageflags", pfn * 8)
}

pub fn has(flags: u64, bit: u32) -> bool {
    flags >> bit & 1 == 1
}

/// The NUMA node of each page at `addrs` in process `pid`, from
/// move_pages(2) without target nodes, which only reports.
pub fn nodes(pid: u32, addrs: &[u64]) -> Result<Vec<i32>, String> {
    let pages: Vec<*mut libc::c_void> = addrs.iter().map(|&a| a as *mut libc::c_void).collect();
    let mut status = vec![i32::MIN; addrs.len()];
    // SAFETY: `pages` and `status` hold `addrs.len()` entries each; with no
    // node list the kernel only writes each page's node into `status`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            pid as libc::c_long,
            addrs.len() as libc::c_ulong,
            pages.as_ptr(),
            std::ptr::null::<i32>(),
            status.as_mut_ptr(),
            0 as libc::c_int,
        )
    };
    if ret != 0 {
        return Err(format!("move_pages: {}", std::io::Error::last_os_error()));
    }
    Ok(status)
}

/// What backs frame `pfn`, by kpageflags: HUGE for hugetlb, THP for
/// transparent huge pages.
pub fn kind(pfn: u64) -> Result<Kind, String> {
    Ok(kind_of(kpageflags(pfn)?))
}

/// What backs a frame with kpageflags word `flags`.
pub fn kind_of(flags: u64) -> Kind {
    if has(flags, KPF_HUGE) {
        Kind::Hugetlb
    } else if has(flags, KPF_THP) {
        Kind::Thp
    } else {
        Kind::Base
    }
}

/// What the oracles say of one present page: its frame (pagemap), the
/// frame's kpageflags word and its NUMA node (move_pages).
pub struct PresentPage {
    pub pfn: u64,
    pub flags: u64,
    pub node: i32,
}

/// The present pages among the `n` from `hva` in process `pid`, in order,
/// each as the oracles see it.
pub fn present_pages(pid: u32, hva: u64, n: usize) -> Result<Vec<PresentPage>, String> {
    let entries = gfn_client::pagemap::entries(pid, hva, n).map_err(|e| format!("pagemap: {e}"))?;
    let present: Vec<usize> = (0..n).filter(|&i| entries[i].present).collect();
    let addrs: Vec<u64> = present.iter().map(|&i| hva + i as u64 * 4096).collect();
    let pfns: Vec<u64> = present.iter().map(|&i| entries[i].pfn).collect();
    let nodes = nodes(pid, &addrs)?;
    let flags = kpageflags_of(&pfns)?;
    Ok((0..present.len())
        .map(|k| PresentPage {
            pfn: pfns[k],
            flags: flags[k],
            node: nodes[k],
        })
        .collect())
}

/// The kpageflags words of many frames, the file opened once (a test
/// reading thousands: an open per frame is slow on the debug kernel).
pub fn kpageflags_of(pfns: &[u64]) -> Result<Vec<u64>, String> {
    let f = File::open("/proc/kpageflags").map_err(|e| format!("open /proc/kpageflags: {e}"))?;
    pfns.iter()
        .map(|&pfn| {
            let mut buf = [0u8; 8];
            f.read_exact_at(&mut buf, pfn * 8)
                .map_err(|e| format!("read /proc/kpageflags at pfn {pfn:#x}: {e}"))?;
            Ok(u64::from_le_bytes(buf))
        })
        .collect()
}

/// kpageflags words of frames `first..first + n` (fewer at the end of
/// memory), in one read.
fn kpageflags_run(f: &File, first: u64, n: u64) -> Result<Vec<u64>, String> {
    let mut buf = vec![0u8; n as usize * 8];
    let got = f
        .read_at(&mut buf, first * 8)
        .map_err(|e| format!("read /proc/kpageflags at pfn {first:#x}: {e}"))?;
    Ok(buf[..got - got % 8]
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect())
}

/// Size in bytes of the compound page holding `pfn`, counted from
/// kpageflags: back to the head, then forward over the tails.  Read in
/// runs of 512 frames: a 1 GiB page is 2^18 frames, and one read per frame
/// took minutes on the debug kernel.
pub fn compound_size(pfn: u64) -> Result<u64, String> {
    const MAX_PAGES: u64 = 1 << 18; // 1 GiB
    const RUN: u64 = 512;
    let f = File::open("/proc/kpageflags").map_err(|e| format!("open /proc/kpageflags: {e}"))?;
    // Back to the head: the last frame at or below `pfn` that is no tail.
    let mut end = pfn + 1; // frames below `end` are still to look at
    let (head, head_flags) = loop {
        if pfn + 1 - end >= MAX_PAGES || end == 0 {
            return Err(format!("no compound head within 1 GiB below pfn {pfn:#x}"));
        }
        let first = end.saturating_sub(RUN);
        let flags = kpageflags_run(&f, first, end - first)?;
        let below = flags.iter().rposition(|&fl| !has(fl, KPF_COMPOUND_TAIL));
        if let Some(i) = below {
            break (first + i as u64, flags[i]);
        }
        end = first;
    };
    if !has(head_flags, KPF_COMPOUND_HEAD) {
        return Ok(4096);
    }
    // Forward over the tails.
    let mut pages = 1;
    while pages < MAX_PAGES {
        let flags = kpageflags_run(&f, head + pages, RUN)?;
        let tails = flags
            .iter()
            .take_while(|&&fl| has(fl, KPF_COMPOUND_TAIL))
            .count() as u64;
        pages += tails;
        if tails < RUN {
            break;
        }
    }
    Ok(pages.min(MAX_PAGES) * 4096)
}

/// Which oracle read host physical memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhysOracle {
    /// /dev/mem, where the kernel allows it (test-bed kernels:
    /// STRICT_DEVMEM off).
    DevMem,
    /// /proc/kcore's RAM segments, where /dev/mem refuses RAM.
    Kcore,
    /// A pmem block device (this one), for its device memory, which is no
    /// RAM (not in /proc/kcore) and which IO_STRICT_DEVMEM keeps from
    /// /dev/mem while its driver holds it.
    Pmem(String),
}

impl std::fmt::Display for PhysOracle {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            PhysOracle::DevMem => f.write_str("/dev/mem"),
            PhysOracle::Kcore => f.write_str("/proc/kcore"),
            PhysOracle::Pmem(dev) => f.write_str(dev),
        }
    }
}

/// Whether `e`, from /dev/mem, is the kernel refusing the access
/// (STRICT_DEVMEM: EPERM for RAM; lockdown: EPERM at open), as opposed to
/// a broken read.
pub use gfn_client::phys::refused;

/// Reads host physical memory at `phys` into `buf` through /dev/mem.
pub fn devmem_read(phys: u64, buf: &mut [u8]) -> std::io::Result<()> {
    phys::devmem_read(phys, buf).map_err(|e| e.err)
}

/// Reads host physical memory at `phys` into `buf` through /proc/kcore's
/// RAM segments; `None` if no segment holds it.
pub fn kcore_read(phys: u64, buf: &mut [u8]) -> Result<Option<()>, String> {
    match phys::kcore_read(phys, buf) {
        Ok(()) => Ok(Some(())),
        Err(phys::KcoreError::NotRam { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The physical address where pmem block device `name` (`pmem0`) starts.
pub fn pmem_start(name: &str) -> Result<u64, String> {
    let path = format!("/sys/block/{name}/device/resource");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let hex = text.trim().trim_start_matches("0x");
    u64::from_str_radix(hex, 16).map_err(|e| format!("{path}: {text:?}: {e}"))
}

/// The pmem block device whose namespace holds `phys`, and the offset of
/// `phys` in it: a raw namespace (the test bed's `memmap=SIZE!START`) maps
/// its device from its first byte.
pub fn pmem_of(phys: u64) -> Result<Option<(String, u64)>, String> {
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return Ok(None);
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("pmem") {
            continue;
        }
        let read = |file: &str| -> Result<u64, String> {
            let path = e.path().join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|err| format!("{}: {err}", path.display()))?;
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            }
            .map_err(|err| format!("{}: {text:?}: {err}", path.display()))
        };
        let (start, sectors) = (pmem_start(&name)?, read("size")?);
        if phys >= start && phys - start < sectors * 512 {
            return Ok(Some((format!("/dev/{name}"), phys - start)));
        }
    }
    Ok(None)
}

/// Reads `buf.len()` bytes (within one 4 KiB block) at `offset` of block
/// device `dev`, bypassing its page cache (O_DIRECT): what the device holds
/// now, not what was read through it before.
fn pmem_read(dev: &str, offset: u64, buf: &mut [u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    const BLOCK: usize = 4096;
    let within = (offset % BLOCK as u64) as usize;
    if within + buf.len() > BLOCK {
        return Err(format!("{dev}: a read across a 4 KiB block at {offset:#x}"));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(dev)
        .map_err(|e| format!("open {dev}: {e}"))?;
    // O_DIRECT wants an aligned buffer: the aligned block inside a larger one.
    let mut space = vec![0u8; 2 * BLOCK];
    let skip = space.as_ptr().align_offset(BLOCK);
    let block = &mut space[skip..skip + BLOCK];
    f.read_exact_at(block, offset - within as u64)
        .map_err(|e| format!("read {dev} at {offset:#x}: {e}"))?;
    buf.copy_from_slice(&block[within..within + buf.len()]);
    Ok(())
}

/// Says once per process which oracle reads physical memory, when it is
/// not /dev/mem.
fn tell_once(what: String) {
    static TOLD: std::sync::Once = std::sync::Once::new();
    TOLD.call_once(|| println!("     {what}"));
}

/// Reads host physical memory at `phys` into `buf`: through /dev/mem; where
/// the kernel refuses that (STRICT_DEVMEM, as on distribution kernels),
/// through /proc/kcore for RAM (as `reader` does: the same
/// `gfn_client::phys::read`) and a pmem block device for its device
/// memory.  Returns which oracle answered.
pub fn read_phys(phys: u64, buf: &mut [u8]) -> Result<PhysOracle, String> {
    let refusals = match phys::read(phys, buf, phys::Choice::Auto) {
        Ok(a) if a.source == phys::Source::DevMem => return Ok(PhysOracle::DevMem),
        Ok(a) => {
            tell_once(format!(
                "{}: physical memory read through /proc/kcore",
                a.passed_over.unwrap_or_default()
            ));
            return Ok(PhysOracle::Kcore);
        }
        Err(r) if r.devmem_refused() => r,
        Err(r) => return Err(r.to_string()),
    };
    if let Some((dev, offset)) = pmem_of(phys)? {
        pmem_read(&dev, offset, buf)?;
        tell_once(format!("{refusals}: read through {dev}"));
        return Ok(PhysOracle::Pmem(dev));
    }
    Err(format!("{refusals}; and no pmem device holds it"))
}

/// The 32-bit little-endian value at `phys`, and which oracle read it.
pub fn phys_u32(phys: u64) -> Result<(u32, PhysOracle), String> {
    let mut buf = [0u8; 4];
    let oracle = read_phys(phys, &mut buf)?;
    Ok((u32::from_le_bytes(buf), oracle))
}

/// Whether /dev/mem refuses RAM (STRICT_DEVMEM): tried on a page of this
/// process's own.  `Some(why)` when it refuses.
pub fn devmem_refuses_ram() -> Result<Option<String>, String> {
    let page = vec![0x5au8; 8192];
    let addr = (page.as_ptr() as u64 + 4096) & !4095;
    let phys = pagemap_pfn(std::process::id(), addr)? << 12;
    let mut buf = [0u8; 8];
    match devmem_read(phys, &mut buf) {
        Ok(()) => Ok(None),
        Err(e) if refused(&e) => Ok(Some(format!("/dev/mem refuses RAM at {phys:#x}: {e}"))),
        Err(e) => Err(format!("read /dev/mem at {phys:#x}: {e}")),
    }
}

/// Which of `reader`'s sources (`gfn_client::phys::read`: /dev/mem, else
/// /proc/kcore) reads RAM here, tried on a page of this process's own that
/// holds a pattern.  `Ok(Err(why))` when neither does; `Err` when one
/// reads other bytes than the page holds.
pub fn ram_source() -> Result<Result<phys::Source, phys::Refusals>, String> {
    let mut space = vec![0u8; 2 * 4096];
    let at = space.as_ptr().align_offset(4096);
    let page = &mut space[at..at + 4096];
    let seed = std::process::id() as usize;
    for (i, b) in page.iter_mut().enumerate() {
        *b = (i * 7 + seed) as u8 ^ 0x3c;
    }
    let phys = pagemap_pfn(std::process::id(), page.as_ptr() as u64)? << 12;
    // 8 bytes from the page's middle: what reader reads at most.
    let mut got = [0u8; 8];
    let answer = match phys::read(phys + 2000, &mut got, phys::Choice::Auto) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let want = &page[2000..2008];
    if got != want {
        return Err(format!(
            "{} at {:#x}: {got:02x?}, the page holds {want:02x?}",
            answer.source,
            phys + 2000
        ));
    }
    Ok(Ok(answer.source))
}

/// One mapping of /proc/<pid>/smaps: its range and its `Name: N kB` fields.
#[derive(Debug)]
pub struct SmapsVma {
    pub start: u64,
    pub end: u64,
    fields: BTreeMap<String, u64>,
}

impl SmapsVma {
    /// Field `name` in KiB.
    pub fn kib(&self, name: &str) -> Result<u64, String> {
        self.fields
            .get(name)
            .copied()
            .ok_or_else(|| format!("smaps of {:#x}-{:#x} has no {name}", self.start, self.end))
    }
}

/// The mappings of process `pid` that overlap `lo..hi`, from its smaps:
/// counted by walking the page tables under their locks, so exact.
pub fn smaps(pid: u32, lo: u64, hi: u64) -> Result<Vec<SmapsVma>, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps"))
        .map_err(|e| format!("smaps of {pid}: {e}"))?;
    let mut vmas: Vec<SmapsVma> = Vec::new();
    for line in text.lines() {
        let range = line
            .split_whitespace()
            .next()
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                ))
            });
        if let Some((start, end)) = range {
            vmas.push(SmapsVma {
                start,
                end,
                fields: BTreeMap::new(),
            });
            continue;
        }
        let (Some(vma), Some((name, value))) = (vmas.last_mut(), line.split_once(':')) else {
            continue;
        };
        if let Some(kib) = value.trim().strip_suffix(" kB") {
            if let Ok(kib) = kib.trim().parse() {
                vma.fields.insert(name.to_string(), kib);
            }
        }
    }
    vmas.retain(|v| v.start < hi && lo < v.end);
    Ok(vmas)
}

/// Idle page tracking's bitmap: one bit per frame, in 8-byte words.
const PAGE_IDLE: &str = "/sys/kernel/mm/page_idle/bitmap";

/// Marks frames `pfns` idle (the kernel ignores frames that are not on an
/// LRU list, and reads them back as not idle).
pub fn idle_mark(pfns: &[u64]) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(PAGE_IDLE)
        .map_err(|e| format!("open {PAGE_IDLE}: {e}"))?;
    let mut words: BTreeMap<u64, u64> = BTreeMap::new();
    for pfn in pfns {
        *words.entry(pfn / 64).or_default() |= 1 << (pfn % 64);
    }
    for (word, bits) in words {
        f.write_all_at(&bits.to_le_bytes(), word * 8)
            .map_err(|e| format!("write {PAGE_IDLE} at word {word}: {e}"))?;
    }
    Ok(())
}

/// Whether each frame of `pfns` is idle: not accessed through any mapping
/// since it was marked.
pub fn idle(pfns: &[u64]) -> Result<Vec<bool>, String> {
    let f = File::open(PAGE_IDLE).map_err(|e| format!("open {PAGE_IDLE}: {e}"))?;
    let mut words: BTreeMap<u64, u64> = BTreeMap::new();
    for pfn in pfns {
        if let std::collections::btree_map::Entry::Vacant(v) = words.entry(pfn / 64) {
            let mut buf = [0u8; 8];
            f.read_exact_at(&mut buf, pfn / 64 * 8)
                .map_err(|e| format!("read {PAGE_IDLE}: {e}"))?;
            v.insert(u64::from_le_bytes(buf));
        }
    }
    Ok(pfns
        .iter()
        .map(|p| words[&(p / 64)] >> (p % 64) & 1 == 1)
        .collect())
}

/// Moves each page at `addrs` of process `pid` to NUMA node `node` with
/// move_pages(2); returns how many are on `node` afterwards.
pub fn move_to(pid: u32, addrs: &[u64], node: i32) -> Result<u64, String> {
    let pages: Vec<*mut libc::c_void> = addrs.iter().map(|&a| a as *mut libc::c_void).collect();
    let nodes = vec![node; addrs.len()];
    let mut status = vec![i32::MIN; addrs.len()];
    const MPOL_MF_MOVE: libc::c_int = 1 << 1;
    // SAFETY: `pages`, `nodes` and `status` hold `addrs.len()` entries each.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            pid as libc::c_long,
            addrs.len() as libc::c_ulong,
            pages.as_ptr(),
            nodes.as_ptr(),
            status.as_mut_ptr(),
            MPOL_MF_MOVE,
        )
    };
    if ret < 0 {
        return Err(format!("move_pages: {}", std::io::Error::last_os_error()));
    }
    Ok(status.iter().filter(|&&s| s == node).count() as u64)
}

/// A swap device while it lives: zram0, 64 MiB.  Other tests run without
/// swap, so that nothing of theirs is swapped out behind their backs.
pub struct Swap;

impl Drop for Swap {
    fn drop(&mut self) {
        let _ = std::process::Command::new("swapoff")
            .arg("/dev/zram0")
            .status();
        let _ = std::fs::write("/sys/block/zram0/reset", "1");
    }
}

/// Sets up zram0 as swap, until the returned guard is dropped; skips
/// where the kernel has no zram0 (no CONFIG_ZRAM, or its module not loaded).
pub fn zram_swap() -> Result<Swap, crate::runner::Outcome> {
    crate::facility::file(
        "/sys/block/zram0",
        "no zram device (CONFIG_ZRAM) to swap to",
    )?;
    std::fs::write("/sys/block/zram0/disksize", "64M")
        .map_err(|e| format!("zram0 disksize: {e}"))?;
    for (cmd, what) in [("mkswap", "mkswap"), ("swapon", "swapon")] {
        let ok = std::process::Command::new(cmd)
            .arg("/dev/zram0")
            .status()
            .map_err(|e| format!("{cmd}: {e}"))?
            .success();
        if !ok {
            return Err(format!("{what} /dev/zram0 failed").into());
        }
    }
    Ok(Swap)
}

/// Has the kernel reclaim (swap out) `len` bytes at `addr` of process
/// `pid` now: process_madvise(2) with MADV_PAGEOUT.
pub fn page_out(pid: u32, addr: u64, len: u64) -> Result<(), String> {
    const MADV_PAGEOUT: libc::c_int = 21;
    let err = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0) };
    if pidfd < 0 {
        return Err(err("pidfd_open"));
    }
    let iov = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len as usize,
    };
    // SAFETY: one iovec describing the other process's range; the kernel
    // only reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            pidfd,
            &iov as *const libc::iovec,
            1 as libc::c_ulong,
            MADV_PAGEOUT,
            0 as libc::c_uint,
        )
    };
    let saved = err("process_madvise(MADV_PAGEOUT)");
    // SAFETY: `pidfd` is the descriptor opened above, closed once.
    unsafe { libc::close(pidfd as libc::c_int) };
    if ret < 0 {
        return Err(saved);
    }
    Ok(())
}

/// Where debugfs is mounted in the test guest.
const DEBUGFS: &str = "/sys/kernel/debug";

/// KVM's own counts for the VM whose creating thread is `tid` (the VMM's
/// pid, unless it created its VM in another thread), from its debugfs
/// directory `/sys/kernel/debug/kvm/<tid>-<fd>/`: stage-2 leaves per
/// level and NX splits.  Mounts debugfs if it is not mounted.
pub fn kvm_debugfs(tid: u32) -> Result<gfn_proto::reply::KvmMaps, String> {
    let root = format!("{DEBUGFS}/kvm");
    if !std::path::Path::new(&root).exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "debugfs", "none", DEBUGFS])
            .status();
    }
    let prefix = format!("{tid}-");
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("{root}: {e} (is CONFIG_DEBUG_FS on?)"))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    let [dir] = dirs.as_slice() else {
        return Err(format!("{} VM directories {prefix}* in {root}", dirs.len()));
    };
    let read = |name: &str| -> Result<u64, String> {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .trim()
            .parse()
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    Ok(gfn_proto::reply::KvmMaps {
        leaves: [read("pages_4k")?, read("pages_2m")?, read("pages_1g")?],
        nx_splits: read("nx_lpage_splits")?,
    })
}
