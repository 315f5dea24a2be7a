// SPDX-License-Identifier: GPL-2.0
//! The physical-memory oracles themselves: each one the kernel offers
//! (/dev/mem, /proc/kcore) reads, at the address pagemap gives, what this
//! process wrote in a page of its own, and `oracle::read_phys` answers
//! with one of them.  So a test that trusts /proc/kcore where /dev/mem
//! refuses RAM trusts an oracle checked here, on the kernel it runs on.

use crate::check::ensure;
use crate::oracle;

/// A page-aligned 4 KiB of this process's memory holding a pattern of its
/// own, and the pattern.
fn own_page(space: &mut [u8]) -> (&[u8], u64) {
    let at = space.as_ptr().align_offset(4096);
    let seed = std::process::id() as u64;
    let page = &mut space[at..at + 4096];
    for (i, b) in page.iter_mut().enumerate() {
        *b = (i as u64 * 131 + seed) as u8 ^ 0xa5;
    }
    let addr = page.as_ptr() as u64;
    (page, addr)
}

pub fn physical_memory_oracles() -> Result<(), String> {
    let mut space = vec![0u8; 2 * 4096];
    let (page, addr) = own_page(&mut space);
    let phys = oracle::pagemap_pfn(std::process::id(), addr)? << 12;
    // 64 bytes from the middle of the page: reads not at its start too.
    let (lo, hi) = (1000, 1064);
    let want = &page[lo..hi];
    let at = phys + lo as u64;
    let mut told = Vec::new();

    let mut got = vec![0u8; hi - lo];
    match oracle::devmem_read(at, &mut got) {
        Ok(()) => {
            ensure(got == want, || {
                format!("/dev/mem at {at:#x}: {got:02x?}, the page holds {want:02x?}")
            })?;
            told.push("/dev/mem reads it".to_string());
        }
        Err(e) if oracle::refused(&e) || e.kind() == std::io::ErrorKind::NotFound => {
            told.push(format!("/dev/mem does not ({e})"));
        }
        Err(e) => return Err(format!("read /dev/mem at {at:#x}: {e}")),
    }

    let mut got = vec![0u8; hi - lo];
    if std::path::Path::new("/proc/kcore").exists() {
        oracle::kcore_read(at, &mut got)?
            .ok_or_else(|| format!("no RAM segment of /proc/kcore holds {at:#x}"))?;
        ensure(got == want, || {
            format!("/proc/kcore at {at:#x}: {got:02x?}, the page holds {want:02x?}")
        })?;
        told.push("/proc/kcore reads it".to_string());
    } else {
        told.push("no /proc/kcore (CONFIG_PROC_KCORE off)".to_string());
    }

    let mut got = vec![0u8; hi - lo];
    let which = oracle::read_phys(at, &mut got)?;
    ensure(got == want, || {
        format!("read_phys ({which}) at {at:#x}: {got:02x?}, the page holds {want:02x?}")
    })?;
    println!(
        "     a page of ours at {phys:#x}: {}; read_phys answers through {which}",
        told.join(", ")
    );
    pmem_block()
}

/// Where there is a pmem device: a block written through it (O_DIRECT,
/// so on the device at once) is what `read_phys` reads at its physical
/// address: /dev/mem, or the device itself where /dev/mem refuses the
/// region its driver holds (IO_STRICT_DEVMEM; /proc/kcore has only RAM).
/// The fsdax test formats the device later.
fn pmem_block() -> Result<(), String> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const DEV: &str = "/dev/pmem0";
    const OFFSET: u64 = 1 << 20;
    if !std::path::Path::new(DEV).exists() {
        println!("     no {DEV}: its memory not checked");
        return Ok(());
    }
    let start = oracle::pmem_start("pmem0")?;
    let mut space = vec![0u8; 2 * 4096];
    let (block, _) = own_page(&mut space);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(DEV)
        .map_err(|e| format!("open {DEV}: {e}"))?;
    f.write_all_at(block, OFFSET)
        .map_err(|e| format!("write {DEV} at {OFFSET:#x}: {e}"))?;
    let at = start + OFFSET + 1000;
    let mut got = vec![0u8; 64];
    let which = oracle::read_phys(at, &mut got)?;
    ensure(got == block[1000..1064], || {
        format!(
            "read_phys ({which}) at {at:#x}: {got:02x?}, {DEV} was written {:02x?}",
            &block[1000..1064]
        )
    })?;
    println!("     {DEV} from {start:#x}: a block written through it, read through {which}");
    Ok(())
}
