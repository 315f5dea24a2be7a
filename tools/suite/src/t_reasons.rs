//! Why a page has no answer: memory the VMM unmapped behind a memslot is
//! `no-vma`, `VM_IO | VM_PFNMAP` memory (a `/dev/mem` mapping) is
//! `pfnmap`; neither reads as merely "not present".  The oracle is the
//! VMM's own `/proc/<pid>/maps`.

use crate::check::ensure;
use crate::module::{ask, translate};
use crate::pages::{per_page, Page};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;
use gfn_proto::request::Reason;

/// The line of `/proc/<pid>/maps` whose VMA holds `addr`, if any.
fn vma_of(pid: u32, addr: u64) -> Result<Option<String>, String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| e.to_string())?;
    Ok(maps
        .lines()
        .find(|l| {
            let range = l.split_whitespace().next().unwrap_or("");
            let (lo, hi) = range.split_once('-').unwrap_or(("", ""));
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).unwrap_or(u64::MAX),
                u64::from_str_radix(hi, 16).unwrap_or(0),
            );
            (lo..hi).contains(&addr)
        })
        .map(str::to_string))
}

/// Every page of `gpa+pages` in both modes is `err:reason`, and so is the
/// single address inside it.
fn all_say(vmm: &Vmm, gpa: u64, pages: u64, reason: Reason) -> Result<(), String> {
    for mode in ["nofault", "fault"] {
        let replies = ask(&format!("{gpa:#x}+{pages} mode={mode} pid={}", vmm.pid))?;
        let map = per_page(&replies)?;
        ensure(
            map.len() as u64 == pages && map.values().all(|p| *p == Page::Err(reason)),
            || format!("{gpa:#x}+{pages} mode={mode}: {replies:?}, want {reason:?}"),
        )?;
    }
    let one = ask(&format!("{:#x} {}", gpa + 0x10, vmm.pid))?;
    ensure(
        matches!(one.as_slice(), [Reply::AddrErr { reason: r, .. }] if *r == reason),
        || format!("single address in {gpa:#x}: {one:?}, want {reason:?}"),
    )
}

pub fn no_vma_and_pfnmap() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "anon:1M@0x200000",
        "--slot",
        "devmem:64K@0x400000",
        "--unmap",
        "0x200000",
    ])?;
    // The oracle: the VMM's own VMAs.
    let unmapped = vma_of(vmm.pid, vmm.hva_of(0x200000)?)?;
    ensure(unmapped.is_none(), || {
        format!("the unmapped slot still has a VMA: {unmapped:?}")
    })?;
    let devmem = vma_of(vmm.pid, vmm.hva_of(0x400000)?)?.unwrap_or_default();
    ensure(devmem.ends_with("/dev/mem"), || {
        format!("the devmem slot's VMA is {devmem:?}")
    })?;
    // The mapped slot next to them still translates.
    translate(&format!("0x100010 {}", vmm.pid))?;
    all_say(&vmm, 0x200000, 256, Reason::NoVma)?;
    all_say(&vmm, 0x400000, 16, Reason::Pfnmap)?;
    vmm.stop()
}
