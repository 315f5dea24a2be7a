// SPDX-License-Identifier: GPL-2.0
//! Huge pages end to end: what KVM itself maps (the `vms` line's counts,
//! against KVM's debugfs), and `gfn_test explain`'s reasons, each stated
//! here from the VMM's layout and checked against smaps.

use crate::check::ensure;
use crate::module::{ask, output};
use crate::oracle;
use crate::t_qemu;
use crate::vmm::Vmm;
use gfn_proto::reply::{KvmMaps, Reply};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// What the `vms` line of `vmm`'s VM says KVM maps, once KVM's debugfs
/// says the same just before and just after it.  A halted guest's
/// mappings change only when the host moves its memory (khugepaged, say),
/// so a few tries are allowed for that; debugfs steady and the line
/// different is a failure.
fn kvm_counts(vmm: &Vmm) -> Result<KvmMaps, String> {
    kvm_counts_of(vmm.pid, 5)
}

/// [`kvm_counts`] of the VM of process `vmm` (which created it in its
/// main thread), in at most `tries`.
fn kvm_counts_of(vmm: u32, tries: u32) -> Result<KvmMaps, String> {
    let mut seen = String::new();
    for _ in 0..tries {
        let before = oracle::kvm_debugfs(vmm)?;
        let listed = ask("vms")?
            .into_iter()
            .find_map(|r| match r {
                Reply::Vm { pid, kvm, .. } if pid == vmm => Some(kvm),
                _ => None,
            })
            .ok_or_else(|| format!("the VM of {vmm} is not listed"))?
            .ok_or("the vms line has no KVM counts")?;
        let after = oracle::kvm_debugfs(vmm)?;
        if listed == before && listed == after {
            return Ok(listed);
        }
        seen = format!("vms {listed:?}, debugfs {before:?} then {after:?}");
        ensure(before != after, || seen.clone())?;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(format!("KVM's mappings never held still: {seen}"))
}

/// Bytes of `vmm`'s memory at `hva..hva + size` that the host maps by
/// PMD-mapped THPs, by smaps (whole mappings).
fn anon_huge(vmm: &Vmm, hva: u64, size: u64) -> Result<u64, String> {
    let mut kib = 0;
    for v in oracle::smaps(vmm.pid, hva, hva + size)? {
        kib += v.kib("AnonHugePages")?;
    }
    Ok(kib << 10)
}

/// A guest that reads every page of its memory: KVM's counts are its
/// debugfs files', and map all of that memory, huge where the host is.
pub fn kvm_counts_are_debugfs() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--guest-reads",
        "--slot",
        "thp:8M@0x200000",
        "--slot",
        "anon:2M",
        "--slot",
        "hugetlb:4M",
    ])?;
    let k = kvm_counts(&vmm)?;
    // The three slots read, and the page of code the guest ran.
    let memory = 14 * MIB + 4096;
    ensure(k.mapped() >= memory, || {
        format!("KVM maps {} bytes of {memory}: {k:?}", k.mapped())
    })?;
    // 8 MiB of THPs and 4 MiB of hugetlb pages, all aligned.
    ensure(k.leaves[1] >= 6, || {
        format!("{k:?}: fewer than 6 2m leaves")
    })?;
    println!("     KVM maps {k:?}, as its debugfs says");
    vmm.stop()
}

/// The same THP-backed memory, once at a host address that agrees with the
/// guest's modulo 2 MiB and once 4 KiB off it: the host maps both by
/// PMDs, and KVM maps the second by 4 KiB pages only.
pub fn slot_moved_4k_loses_huge_kvm_maps() -> Result<(), String> {
    let aligned = Vmm::start(&["--guest-reads", "--slot", "thp:8M@0x200000"])?;
    let moved = Vmm::start(&["--guest-reads", "--slot", "thp-offset:8M@0x200000"])?;
    let slot = &moved.slots[0];
    ensure((slot.hva - slot.gpa) % (2 * MIB) == 4096, || {
        format!("{slot:?} is not 4 KiB off")
    })?;
    for vmm in [&aligned, &moved] {
        let s = &vmm.slots[0];
        let huge = anon_huge(vmm, s.hva, s.size)?;
        ensure(huge >= 8 * MIB, || {
            format!("pid {}: {huge} bytes of PMD-mapped THPs", vmm.pid)
        })?;
    }
    let a = kvm_counts(&aligned)?;
    let m = kvm_counts(&moved)?;
    ensure(a.leaves[1] >= 4, || format!("aligned: {a:?}"))?;
    ensure(m.leaves[1] == 0 && m.leaves[0] >= 2048, || {
        format!("moved by 4 KiB: {m:?}")
    })?;
    println!("     aligned {a:?}; moved by 4 KiB {m:?}");
    aligned.stop()?;
    moved.stop()
}

/// The reasons `explain --json` gives for slot `id` at level `i` (0: 2m,
/// 1: 1g), as (reason, bytes), and the bytes it says could be huge.
fn level(report: &Value, id: u16, i: usize) -> Result<(u64, Vec<(String, u64)>), String> {
    let slot = report["slots"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .ok_or_else(|| format!("no slot {id} in {report}"))?;
    let l = &slot["levels"][i];
    let reasons = l["reasons"]
        .as_array()
        .ok_or_else(|| format!("no reasons in {l}"))?
        .iter()
        .map(|b| {
            (
                b["reason"].as_str().unwrap_or("").to_string(),
                b["bytes"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    Ok((l["huge"].as_u64().unwrap_or(u64::MAX), reasons))
}

/// `gfn_test explain` says something true and specific of each memslot of
/// a VM made to hold one case each: a fully huge THP slot, one whose host
/// address is 4 KiB off, one logging dirty pages, one on MADV_NOHUGEPAGE
/// memory, one of hugetlb pages.  What it says could be huge is what KVM
/// maps huge once the guest has read all of it.
pub fn explain_says_why() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--guest-reads",
        "--slot",
        "thp:4M@0x200000",
        "--slot",
        "thp-offset:4M@0x800000",
        "--slot",
        "thp:4M@0xc00000",
        "--dirty-log",
        "0xc00000",
        "--slot",
        "anon:4M@0x1000000",
        "--slot",
        "hugetlb:4M@0x1400000",
    ])?;
    let pid = vmm.pid.to_string();
    let (ok, text) = output("gfn_test", &["explain", "--pid", &pid, "--json"])?;
    ensure(ok, || format!("gfn_test explain failed: {text}"))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    let four = 4 * MIB;
    // Slot id, bytes that could be huge at 2m, the reasons for the rest.
    type Case<'a> = (u16, u64, &'a [(&'a str, u64)]);
    let want: [Case; 5] = [
        (0, four, &[]),
        (1, 0, &[("incongruent", four)]),
        (2, 0, &[("dirty-log", four)]),
        (3, 0, &[("nohugepage", four)]),
        (4, four, &[]),
    ];
    // Behind the slots' own reasons, the host maps all of them huge.
    for id in [1, 2] {
        let behind = report["slots"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .map(|s| s["levels"][0]["behind"].clone())
            .unwrap_or_default();
        ensure(behind.as_array().is_some_and(|b| b.is_empty()), || {
            format!("slot {id}: behind its reason {behind}")
        })?;
    }
    for (id, huge, reasons) in want {
        let got = level(&report, id, 0)?;
        let want: Vec<(String, u64)> = reasons.iter().map(|(r, n)| (r.to_string(), *n)).collect();
        ensure(got == (huge, want.clone()), || {
            format!("slot {id} at 2m: {got:?}, want {:?}", (huge, want))
        })?;
        // No whole gigabyte in any of them.
        let got = level(&report, id, 1)?;
        ensure(got == (0, vec![("edge".into(), four)]), || {
            format!("slot {id} at 1g: {got:?}")
        })?;
    }
    // What the reasons rest on, by the oracles: the VMM's table, smaps.
    let s = &vmm.slots;
    ensure((s[1].hva - s[1].gpa) % (2 * MIB) == 4096, || {
        format!("{:?}", s[1])
    })?;
    for i in [0, 2] {
        let huge = anon_huge(&vmm, s[i].hva, s[i].size)?;
        ensure(huge >= four, || {
            format!("slot {i}: {huge} bytes of PMD THPs")
        })?;
    }
    let nh = oracle::smaps(vmm.pid, s[3].hva, s[3].hva + s[3].size)?;
    ensure(
        !nh.is_empty() && anon_huge(&vmm, s[3].hva, s[3].size)? == 0,
        || format!("slot 3's mappings: {nh:?}"),
    )?;
    let flags = ask(&format!("slots pid={pid}"))?
        .into_iter()
        .find_map(|r| match r {
            Reply::Slot { id: 2, flags, .. } => Some(flags),
            _ => None,
        });
    ensure(flags == Some(1), || format!("slot 2's flags: {flags:?}"))?;
    // The text says the same in words.
    let (_, words) = output("gfn_test", &["explain", "--pid", &pid])?;
    for want in [
        "4 MiB     incongruent: host address",
        "is 4 KiB off the 2 MiB alignment of guest address 0x800000",
        "4 MiB     dirty-log: dirty logging is on",
        "(the host maps all of that huge: only the slot keeps it small)",
        "4 MiB     nohugepage: the VMM advised MADV_NOHUGEPAGE",
        "note       hugetlb pool of 2 MiB pages:",
    ] {
        ensure(words.contains(want), || format!("{want:?} not in\n{words}"))?;
    }
    // KVM maps huge exactly what nothing keeps small: the fully huge THP
    // slot and the hugetlb slot.
    let k = kvm_counts(&vmm)?;
    ensure(
        k.leaves[1] * 2 * MIB == 2 * four && k.leaves[2] == 0,
        || format!("KVM maps {k:?}; explain allows 8 MiB by 2m"),
    )?;
    println!("     five slots, five reasons; KVM maps {k:?}");
    vmm.stop()
}

/// The QEMU Linux guest on THP-backed RAM (anonymous, which QEMU aligns
/// to 2 MiB and advises MADV_HUGEPAGE), booted and idle: KVM's counts are
/// its debugfs's, with 2 MiB mappings among them, and `explain` says its
/// RAM memslot could be huge but for the megabyte below its first 2 MiB
/// boundary.
pub fn qemu_guest_is_huge() -> Result<(), String> {
    let (qemu, _) = t_qemu::boot(
        &[
            "-object",
            "memory-backend-ram,id=m0,size=256M,prealloc=on",
            "-machine",
            "memory-backend=m0",
        ],
        96,
    )?;
    let pid = qemu.0.id();
    // A running guest maps on: more tries than for a halted one.
    let k = kvm_counts_of(pid, 20)?;
    ensure(k.leaves[1] > 0, || {
        format!("KVM maps {k:?}: nothing by 2 MiB")
    })?;
    let (ok, text) = output(
        "gfn_test",
        &["explain", "--pid", &pid.to_string(), "--json"],
    )?;
    ensure(ok, || format!("gfn_test explain failed: {text}"))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    // The pc machine's RAM above 1 MiB, in address space 0.
    let ram = report["slots"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["as"] == 0 && s["gpa"] == 0x10_0000))
        .ok_or_else(|| format!("no RAM memslot at 1 MiB in {text}"))?;
    let l = &ram["levels"][0];
    let size = ram["size"].as_u64().unwrap_or(0);
    ensure(
        l["huge"].as_u64() == Some(size - MIB)
            && l["reasons"].as_array().map(Vec::len) == Some(1)
            && l["reasons"][0]["reason"] == "edge"
            && l["reasons"][0]["bytes"] == MIB,
        || format!("RAM memslot at 2m: {l}"),
    )?;
    println!(
        "     KVM maps {k:?}; explain: {} MiB could be huge",
        (size - MIB) >> 20
    );
    drop(qemu);
    Ok(())
}
