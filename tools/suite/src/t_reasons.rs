// SPDX-License-Identifier: GPL-2.0
//! Memory without pages of its own: memory the VMM unmapped behind a
//! memslot is `no-vma`, never merely "not present"; `VM_PFNMAP` memory (a
//! `/dev/mem` mapping) is translated as `kind=pfnmap`, at the physical
//! address the mapping maps.  The oracles are the VMM's own
//! `/proc/<pid>/maps`, the offset its `/dev/mem` mapping was made at, and
//! `/dev/mem` holding what the vCPU wrote there.

use crate::check::{ensure, phys_value};
use crate::facility;
use crate::module::{ask, translate};
use crate::pages::{per_page, Page};
use crate::runner::Outcome;
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, MapLevel, Reply, Share};
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

pub fn no_vma_and_pfnmap_frames() -> Result<(), Outcome> {
    // A /dev/mem slot needs /dev/mem to map RAM (the VMM maps a hugetlb
    // page of its own through it); where the kernel refuses that, the
    // no-vma half is still checked, then the test skips.
    let pfnmap = facility::devmem_reads_ram("the VMM's /dev/mem (VM_PFNMAP) slot");
    let mut args = vec![
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "anon:1M@0x200000",
        "--unmap",
        "0x200000",
    ];
    if pfnmap.is_ok() {
        args.extend([
            "--slot",
            "devmem:64K@0x400000",
            "--write",
            "0x400010=0x5eed",
        ]);
    }
    let vmm = Vmm::start(&args)?;
    // The oracle: the VMM's own VMAs.
    let unmapped = vma_of(vmm.pid, vmm.hva_of(0x200000)?)?;
    ensure(unmapped.is_none(), || {
        format!("the unmapped slot still has a VMA: {unmapped:?}")
    })?;
    // The mapped slot next to them still translates.
    translate(&format!("0x100010 {}", vmm.pid))?;
    all_say(&vmm, 0x200000, 256, Reason::NoVma)?;
    if let Err(skip) = pfnmap {
        vmm.stop()?;
        println!("     the unmapped slot is no-vma; no /dev/mem slot here");
        return Err(skip);
    }
    pfnmap_slot(&vmm)?;
    Ok(vmm.stop()?)
}

/// The /dev/mem slot at 0x400000: its frames, whatever the mode, and what
/// the vCPU wrote is at the reported address.
fn pfnmap_slot(vmm: &Vmm) -> Result<(), String> {
    let devmem = vma_of(vmm.pid, vmm.hva_of(0x400000)?)?.unwrap_or_default();
    ensure(devmem.ends_with("/dev/mem"), || {
        format!("the devmem slot's VMA is {devmem:?}")
    })?;
    let slot = vmm
        .slots
        .iter()
        .find(|s| s.gpa == 0x400000)
        .ok_or("no devmem slot")?;
    let base = slot.phys.ok_or("the devmem slot has no phys")?;
    for mode in ["nofault", "fault"] {
        let map = per_page(&ask(&format!("0x400000+16 mode={mode} pid={}", vmm.pid))?)?;
        for (i, page) in map.values().enumerate() {
            let at = base + i as u64 * 4096;
            ensure(
                matches!(page, Page::Ok(t) if t.phys == at && t.kind == Kind::Pfnmap
                    && t.map == MapLevel::Pte && t.size == 4096 && t.share == Share::None
                    && t.node == u32::MAX && t.hva == slot.hva + i as u64 * 4096),
                || format!("devmem page {i} (mode={mode}): {page:?}, /dev/mem offset {at:#x}"),
            )?;
        }
        ensure(map.len() == 16, || format!("{} pages", map.len()))?;
    }
    let t = translate(&format!("0x400010 {}", vmm.pid))?;
    ensure(t.phys == base + 0x10 && t.kind == Kind::Pfnmap, || {
        format!("{t:?}, /dev/mem offset {:#x}", base + 0x10)
    })?;
    phys_value(t.phys, 0x5eed)
}

/// The single reply to `request`, which must be one address error.
fn error_of(request: &str) -> Result<Reason, String> {
    match ask(request)?.as_slice() {
        [Reply::AddrErr { reason, .. }] => Ok(*reason),
        other => Err(format!("{request}: expected one error, got {other:?}")),
    }
}

/// Memslots the VMM changes between two queries: a memslot moved to
/// another gpa is `no-memslot` at the old one and the same frame at the
/// new one; one shrunk is `no-memslot` past its new end; never a stale
/// translation.  A memslot whose memory the VMM moves with mremap keeps
/// its old address (KVM does not follow), where nothing is mapped any
/// more: `no-vma`, not the frames at the new address.
pub fn memslots_changed_between_queries() -> Result<(), String> {
    let mut vmm = Vmm::start(&[
        "--slot",
        "anon:2M@0x100000",
        "--slot",
        "anon:1M@0x1000000",
        "--write",
        "0x100010=0x77",
    ])?;
    let pid = vmm.pid;
    let before = translate(&format!("0x100010 pid={pid}"))?;
    vmm.command("slot 0 0x400000 0x200000")?;
    ensure(
        error_of(&format!("0x100010 pid={pid}"))? == Reason::NoMemslot,
        || "the old gpa of a moved memslot still translates".into(),
    )?;
    let moved = translate(&format!("0x400010 pid={pid}"))?;
    ensure(moved.phys == before.phys && moved.hva == before.hva, || {
        format!("moved memslot: {moved:?}, before the move {before:?}")
    })?;
    phys_value(moved.phys, 0x77)?;
    vmm.command("slot 0 0x400000 0x100000")?;
    ensure(
        error_of(&format!("0x500010 pid={pid}"))? == Reason::NoMemslot,
        || "a page past a shrunk memslot's end still translates".into(),
    )?;
    ensure(
        translate(&format!("0x400010 pid={pid}"))?.phys == before.phys,
        || "the shrunk memslot's first page moved".into(),
    )?;
    // mremap the second slot's memory away.
    let old = vmm.slots[1].hva;
    let said = vmm.command("mremap 1")?;
    let to = said
        .split_whitespace()
        .find_map(|w| w.strip_prefix("hva=0x"))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("gfn-vmm said {said:?}"))?;
    ensure(
        vma_of(pid, old)?.is_none() && vma_of(pid, to)?.is_some(),
        || format!("after mremap: old {old:#x} and new {to:#x} mappings"),
    )?;
    all_say(&vmm, 0x1000000, 256, Reason::NoVma)?;
    let frames = gfn_client::pagemap::entries(pid, to, 256).map_err(|e| e.to_string())?;
    ensure(frames.iter().all(|e| e.present), || {
        "the moved memory is not all present at its new address".into()
    })?;
    println!("     moved, shrunk and mremapped memslots: no stale translation");
    vmm.stop()
}
