// SPDX-License-Identifier: GPL-2.0
//! `explain`: gathers what `gfn_client::explain` reasons from, for one VM:
//! its memslots and their pages from the module, its VMM's mappings from
//! smaps, the host's THP, hugetlb and KVM settings from sysfs.

use gfn_client::explain::{chosen, parse_smaps, Explainer, Host, Pool, Slot, VmReport};
use gfn_client::{names, query_bin_each, KvmMaps, Reason, Reply};

/// A sysfs setting's choice, if the file is there.
fn setting(path: &str) -> Option<String> {
    chosen(&std::fs::read_to_string(path).ok()?)
}

/// The host's settings that decide huge pages.
pub fn host() -> Host {
    const THP: &str = "/sys/kernel/mm/transparent_hugepage";
    let mut pools = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/sys/kernel/mm/hugepages") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(kib) = name
                .strip_prefix("hugepages-")
                .and_then(|n| n.strip_suffix("kB"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let read = |f: &str| {
                std::fs::read_to_string(e.path().join(f))
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            pools.push(Pool {
                size: kib << 10,
                total: read("nr_hugepages"),
                free: read("free_hugepages"),
            });
        }
    }
    pools.sort_by_key(|p| p.size);
    Host {
        thp_enabled: setting(&format!("{THP}/enabled")),
        thp_defrag: setting(&format!("{THP}/defrag")),
        shmem_enabled: setting(&format!("{THP}/shmem_enabled")),
        pools,
        nx_huge_pages: setting("/sys/module/kvm/parameters/nx_huge_pages"),
    }
}

/// Explains the VM of `pid` (whose `vms` line told `kvm`): each memslot
/// mapped as binary records, as it is (nothing faulted in).
pub fn explain(pid: u32, kvm: Option<KvmMaps>, host: &Host) -> Result<VmReport, String> {
    let mut slots = Vec::new();
    query_bin_each(&format!("slots pid={pid}"), |r| {
        slots.extend(Slot::of(&r));
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    // The VMM's mappings; none when they cannot be read (its explanation
    // then names no THP policy).
    let vmas = std::fs::read_to_string(format!("/proc/{pid}/smaps"))
        .map(|t| parse_smaps(&t))
        .unwrap_or_default();
    let mut reports = Vec::new();
    for s in slots {
        let mut e = Explainer::new(s);
        let request = format!("{:#x}+{} pid={pid} as={}", s.gpa, s.size / 4096, s.as_id);
        // The VM gone, or its memslots changed, midway: no explanation
        // rather than one of pages not told.
        let mut failed = None;
        query_bin_each(&request, |r| {
            match r {
                Reply::TokenErr { reason, .. } => failed = Some(reason),
                Reply::AddrErr {
                    reason: reason @ (Reason::NoVm | Reason::NoMemslot),
                    ..
                } => failed = Some(reason),
                r => e.add(&r),
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        if let Some(reason) = failed {
            return Err(format!(
                "VM of pid {pid}, memslot {} of address space {}: {}",
                s.id,
                s.as_id,
                reason.as_str()
            ));
        }
        reports.push(e.finish(&vmas, host));
    }
    Ok(VmReport {
        pid,
        name: names::name_of(pid),
        kvm,
        host: host.clone(),
        slots: reports,
    })
}
