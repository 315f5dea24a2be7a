// SPDX-License-Identifier: GPL-2.0
//! Checks one translation against the oracles.

use crate::oracle;
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, MapLevel, Translation};

/// Verifies `t` (the module's answer for `gpa` in `vmm`'s VM) against the
/// VMM's slot table, its pagemap, /proc/kpageflags and, for how the page is
/// mapped, its smaps.
pub fn translation(
    vmm: &Vmm,
    gpa: u64,
    t: &Translation,
    kind: Kind,
    size: u64,
) -> Result<(), String> {
    let hva = vmm.hva_of(gpa)?;
    let pfn = oracle::pagemap_pfn(vmm.task(), hva)?;
    let phys = pfn << 12 | (gpa & 0xfff);
    let oracle_kind = oracle::kind(pfn)?;
    let oracle_size = oracle::compound_size(pfn)?;
    let mut bad = Vec::new();
    if t.gpa != gpa {
        bad.push(format!("gpa {:#x} != {gpa:#x}", t.gpa));
    }
    if t.pid != vmm.pid {
        bad.push(format!("pid {} != {}", t.pid, vmm.pid));
    }
    if t.hva != hva {
        bad.push(format!("hva {:#x} != VMM's {hva:#x}", t.hva));
    }
    if t.phys != phys {
        bad.push(format!("phys {:#x} != pagemap's {phys:#x}", t.phys));
    }
    if t.kind != kind || oracle_kind != kind {
        bad.push(format!(
            "kind {:?}, kpageflags {oracle_kind:?}, expected {kind:?}",
            t.kind
        ));
    }
    if t.size != size || oracle_size != size {
        bad.push(format!(
            "size {}, kpageflags {oracle_size}, expected {size}",
            t.size
        ));
    }
    if let Some(map) = map_level(vmm.task(), hva, kind)? {
        if t.map != map {
            bad.push(format!("map {:?}, smaps says {map:?}", t.map));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("gpa {gpa:#x}: {}", bad.join("; ")))
    }
}

/// How the page at `hva` must be mapped, as far as smaps tells: a hugetlb
/// mapping at its page size, a base page by a PTE, a page of a mapping all
/// of whose memory is PMD-mapped THPs by a PMD.
fn map_level(pid: u32, hva: u64, kind: Kind) -> Result<Option<MapLevel>, String> {
    let Some(vma) = oracle::smaps(pid, hva, hva + 1)?.pop() else {
        return Err(format!("no mapping of {hva:#x} in {pid}'s smaps"));
    };
    Ok(match vma.kib("KernelPageSize")? {
        2048 => Some(MapLevel::Pmd),
        1_048_576 => Some(MapLevel::Pud),
        _ if kind == Kind::Base => Some(MapLevel::Pte),
        _ if vma.kib("AnonHugePages")? << 10 == vma.end - vma.start => Some(MapLevel::Pmd),
        _ => None,
    })
}

/// Verifies that host physical memory at `phys` holds what the guest
/// wrote, as /dev/mem (or, where it refuses, /proc/kcore) reads it.
pub fn phys_value(phys: u64, value: u64) -> Result<(), String> {
    let (got, oracle) = oracle::phys_u32(phys)?;
    if u64::from(got) == value & 0xffff_ffff {
        Ok(())
    } else {
        Err(format!(
            "{oracle} at {phys:#x} holds {got:#x}, the guest wrote {value:#x}"
        ))
    }
}

pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}
