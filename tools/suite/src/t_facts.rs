// SPDX-License-Identifier: GPL-2.0
//! Facts per page: folio order (THP, huge zero page, multi-size THP), KSM,
//! NUMA node and SMM address space, each against its own oracle
//! (kpageflags, move_pages(2), the VMM's slot table).

use crate::check::{ensure, phys_value};
use crate::module::{ask, translate};
use crate::oracle::{self, has, kpageflags, KPF_ZERO_PAGE};
use crate::pages::{check_slot, per_page, Page};
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, MapLevel, Reply, Share};
use std::time::{Duration, Instant};

/// Writes sysfs settings and puts the old values back when dropped.
pub struct Sysfs(Vec<(String, String)>);

impl Sysfs {
    pub fn set(settings: &[(&str, &str)]) -> Result<Sysfs, String> {
        let mut saved = Sysfs(Vec::new());
        for (path, value) in settings {
            let old = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            // "always [madvise] never" style files: keep the bracketed one.
            let old = match (old.find('['), old.find(']')) {
                (Some(a), Some(b)) if a < b => old[a + 1..b].to_string(),
                _ => old.trim().to_string(),
            };
            std::fs::write(path, value).map_err(|e| format!("{path} <- {value}: {e}"))?;
            saved.0.push((path.to_string(), old));
        }
        Ok(saved)
    }
}

impl Drop for Sysfs {
    fn drop(&mut self) {
        for (path, old) in self.0.iter().rev() {
            let _ = std::fs::write(path, old);
        }
    }
}

/// Every translated page of the VMM's first slot, asked with the `extra`
/// options; with `check`, each checked against the VMM's pagemap.
fn first_slot_pages(
    vmm: &Vmm,
    extra: &str,
    check: bool,
) -> Result<Vec<gfn_proto::reply::Translation>, String> {
    let slot = &vmm.slots[0];
    let map = per_page(&ask(&format!(
        "{:#x}+{} pid={} {extra}",
        slot.gpa,
        slot.size >> 12,
        vmm.pid
    ))?)?;
    if check {
        check_slot(vmm, slot, &map)?;
    }
    map.values()
        .map(|p| match p {
            Page::Ok(t) => Ok(*t),
            Page::Err(r) => Err(format!("page not translated: {r:?}")),
        })
        .collect()
}

/// A 1 GiB hugetlb page (reserved at boot: `hugepagesz=1G hugepages=1`):
/// a deep address in it has pagemap's frame, kind hugetlb, order 18 and
/// kpageflags' 1 GiB compound size; a range over it is one run.
pub fn hugetlb_1g() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        "hugetlb1g:1G@0x40000000",
        "--write",
        "0x6abc1234=0x1a1a1a1a",
    ])?;
    let t = crate::module::translate(&format!("0x6abc1234 {}", vmm.pid))?;
    crate::check::translation(&vmm, 0x6abc1234, &t, Kind::Hugetlb, 1 << 30)?;
    crate::check::phys_value(t.phys, 0x1a1a1a1a)?;
    ensure(t.order == 18, || format!("{t:?}"))?;
    let run = ask(&format!("0x40000000-0x80000000 pid={}", vmm.pid))?;
    ensure(
        matches!(run.as_slice(), [Reply::Ok(r)]
            if r.pages == 1 << 18 && r.phys == (t.phys & !((1 << 30) - 1)) && r.order == 18),
        || format!("{run:?}"),
    )?;
    vmm.stop()
}

/// Read-faulting untouched THP-eligible memory maps the huge zero page:
/// kind thp, order 9, share zero, as kpageflags says (ZERO_PAGE + THP).
pub fn huge_zero_page() -> Result<(), String> {
    let vmm = Vmm::start(&["--no-touch", "--slot", "thp:4M@0x40000000"])?;
    let pages = first_slot_pages(&vmm, "mode=fault", false)?;
    for t in &pages {
        let flags = kpageflags(t.phys >> 12)?;
        ensure(
            t.share == Share::Zero
                && t.kind == Kind::Thp
                && t.order == 9
                && has(flags, KPF_ZERO_PAGE)
                && oracle::kind(t.phys >> 12)? == Kind::Thp,
            || format!("{t:?}, kpageflags {flags:#x}"),
        )?;
    }
    ensure(pages.len() == 1024, || format!("{} pages", pages.len()))?;
    vmm.stop()
}

/// With only 64 KiB THPs enabled, anonymous memory comes in order-4
/// folios: the module's order and size match kpageflags' compound size.
pub fn mthp_order() -> Result<(), String> {
    let base = "/sys/kernel/mm/transparent_hugepage";
    let _sysfs = Sysfs::set(&[
        (&format!("{base}/hugepages-2048kB/enabled"), "never"),
        (&format!("{base}/hugepages-64kB/enabled"), "always"),
    ])?;
    let vmm = Vmm::start(&["--slot", "thp:2M@0x40000000"])?;
    let pages = first_slot_pages(&vmm, "", true)?;
    for t in &pages {
        let size = oracle::compound_size(t.phys >> 12)?;
        ensure(
            t.order == 4 && t.size == 65536 && size == 65536 && t.kind == Kind::Thp,
            || format!("{t:?}; kpageflags compound size {size}"),
        )?;
    }
    vmm.stop()
}

/// Where KSM's knobs are.
pub const KSM: &str = "/sys/kernel/mm/ksm";

/// Runs ksmd scanning fast, until the returned settings are dropped.
pub fn ksmd_fast() -> Result<Sysfs, String> {
    Sysfs::set(&[
        (&format!("{KSM}/pages_to_scan"), "5000"),
        (&format!("{KSM}/sleep_millisecs"), "10"),
        (&format!("{KSM}/run"), "1"),
    ])
}

/// Pages KSM merged are told `share=ksm`: as many as KSM counts for the
/// VMM (`ksm_merging_pages` in /proc/PID/ksm_stat), on as many distinct
/// frames as it has KSM pages (`pages_shared`; the VMM is the only process
/// with mergeable memory).  kpageflags cannot serve: on 6.12 it sets its KSM
/// bit on every anonymous page (`mapping & PAGE_MAPPING_KSM` in
/// fs/proc/page.c).
pub fn ksm_pages() -> Result<(), String> {
    let ksm = KSM;
    let _sysfs = ksmd_fast()?;
    let vmm = Vmm::start(&["--slot", "ksm:4M@0x40000000"])?;
    let start = Instant::now();
    loop {
        // Not checked against pagemap yet: ksmd may merge in between.
        let pages = first_slot_pages(&vmm, "", false)?;
        let merged = pages.iter().filter(|t| t.share == Share::Ksm).count();
        if merged >= pages.len() / 2 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Stop ksmd (merged pages stay merged), so that nothing moves while the
    // module and the counters are compared.
    std::fs::write(format!("{ksm}/run"), "0").map_err(|e| format!("ksm run: {e}"))?;
    let pages = first_slot_pages(&vmm, "", true)?;
    let ksm_pages: Vec<u64> = pages
        .iter()
        .filter(|t| t.share == Share::Ksm)
        .map(|t| t.phys)
        .collect();
    let frames: std::collections::BTreeSet<u64> = ksm_pages.iter().copied().collect();
    let read = |path: &str, key: &str| -> Result<u64, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or(&text)
            .trim()
            .parse()
            .map_err(|e| format!("{path} {key}: {e}"))
    };
    let merging = read(&format!("/proc/{}/ksm_stat", vmm.pid), "ksm_merging_pages ")?;
    let shared = read(&format!("{ksm}/pages_shared"), "")?;
    ensure(
        ksm_pages.len() as u64 == merging && frames.len() as u64 == shared,
        || {
            format!(
                "share=ksm on {} pages, {} frames; ksm_stat ksm_merging_pages {merging}, pages_shared {shared}",
                ksm_pages.len(),
                frames.len()
            )
        },
    )?;
    ensure(ksm_pages.len() >= pages.len() / 2, || {
        format!(
            "KSM merged {} of {} pages in 60 s",
            ksm_pages.len(),
            pages.len()
        )
    })?;
    println!(
        "     {} of {} pages merged by KSM into {} frames",
        ksm_pages.len(),
        pages.len(),
        frames.len()
    );
    let _ = std::fs::write(format!("{ksm}/run"), "2");
    vmm.stop()
}

/// The node of each page matches move_pages(2), for memory bound to
/// either of the guest's two (fake) NUMA nodes.
pub fn numa_node() -> Result<(), String> {
    ensure(
        std::path::Path::new("/sys/devices/system/node/node1").exists(),
        || "the test guest has one NUMA node (numa=fake=2 missing?)".into(),
    )?;
    for node in [1u32, 0] {
        let vmm = Vmm::start(&["--node", &node.to_string(), "--slot", "anon:1M@0x100000"])?;
        let pages = first_slot_pages(&vmm, "", true)?;
        let hvas: Vec<u64> = pages.iter().map(|t| t.hva).collect();
        let nodes = oracle::nodes(vmm.pid, &hvas)?;
        for (t, n) in pages.iter().zip(&nodes) {
            ensure(i64::from(t.node) == i64::from(*n) && t.node == node, || {
                format!("{t:?}: move_pages says node {n}, bound to {node}")
            })?;
        }
        vmm.stop()?;
    }
    Ok(())
}

/// A memslot in address space 1 (SMM) at the same guest address as one in
/// address space 0: `as=1` reaches it, the default does not, and `slots`
/// lists both.
pub fn smm_address_space() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        "anon:64K@0x30000",
        "--slot",
        "as1:anon:64K@0x30000",
    ])?;
    let (normal, smm) = (&vmm.slots[0], &vmm.slots[1]);
    for (slot, opt) in [(normal, ""), (smm, "as=1")] {
        let replies = ask(&format!("0x30010 pid={} {opt}", vmm.pid))?;
        ensure(
            matches!(replies.as_slice(), [Reply::Ok(t)]
                if t.hva == slot.hva + 0x10 && t.slot == slot.id && t.as_id == slot.as_id),
            || format!("{opt:?}: {replies:?}, want slot {slot:?}"),
        )?;
    }
    let listed = ask(&format!("slots pid={}", vmm.pid))?;
    for slot in &vmm.slots {
        ensure(
            listed.iter().any(|r| {
                *r == Reply::Slot {
                    pid: vmm.pid,
                    as_id: slot.as_id,
                    id: slot.id,
                    gpa: slot.gpa,
                    size: slot.size,
                    hva: slot.hva,
                    flags: 0,
                }
            }),
            || format!("slot {slot:?} not in {listed:?}"),
        )?;
    }
    vmm.stop()
}

/// `vms` lists every VM with its memslots and memory; `slots` each memslot
/// as the VMM set it up.
pub fn discovery_vms_slots() -> Result<(), String> {
    let a = Vmm::start(&["--slot", "anon:1M@0x100000"])?;
    let b = Vmm::start(&["--slot", "thp:4M@0x40000000", "--slot", "anon:64K@0x0"])?;
    let vms = ask("vms")?;
    for vmm in [&a, &b] {
        let memory: u64 = vmm.slots.iter().map(|s| s.size).sum();
        // KVM's own counts are t_huge.rs's; on x86 they are there.
        let listed = vms.iter().any(|r| {
            matches!(*r, Reply::Vm { pid, slots, memory: m, kvm: Some(_) }
                if pid == vmm.pid && slots as usize == vmm.slots.len() && m == memory)
        });
        ensure(listed, || {
            format!("vm pid={} of {memory} bytes not in {vms:?}", vmm.pid)
        })?;
        let slots = ask(&format!("slots pid={}", vmm.pid))?;
        ensure(slots.len() == vmm.slots.len(), || format!("{slots:?}"))?;
        for slot in &vmm.slots {
            let want = Reply::Slot {
                pid: vmm.pid,
                as_id: 0,
                id: slot.id,
                gpa: slot.gpa,
                size: slot.size,
                hva: slot.hva,
                flags: 0,
            };
            ensure(slots.contains(&want), || format!("{want} not in {slots:?}"))?;
        }
    }
    a.stop()?;
    b.stop()?;
    let none = ask("vms")?;
    ensure(
        matches!(none.as_slice(), [Reply::TokenErr { reason, .. }] if *reason == gfn_proto::request::Reason::NoVms),
        || format!("vms with no VM: {none:?}"),
    )
}

/// Guest memory on shared memfds, as QEMU's memory-backend-memfd gives it
/// (vhost-user, live update): shmem base pages, shmem THPs
/// (`shmem_enabled=advise` and MADV_HUGEPAGE) and memfd hugetlb pages.
/// Every page agrees with pagemap and kpageflags (frame, kind, level as
/// smaps' ShmemPmdMapped counts), and what the vCPU wrote into each is at
/// the reported address (`/dev/mem`).
pub fn memfd_memory() -> Result<(), String> {
    let _shmem = Sysfs::set(&[(
        "/sys/kernel/mm/transparent_hugepage/shmem_enabled",
        "advise",
    )])?;
    let vmm = Vmm::start(&[
        "--slot",
        "memfd:1M@0x100000",
        "--slot",
        "memfd-thp:4M@0x40000000",
        "--slot",
        "memfd-hugetlb:2M@0x80000000",
        "--write",
        "0x100010=0x1111",
        "--write",
        "0x40200020=0x2222",
        "--write",
        "0x80000030=0x3333",
    ])?;
    let map = per_page(&ask(&format!("all pid={}", vmm.pid))?)?;
    for slot in &vmm.slots {
        check_slot(&vmm, slot, &map)?;
    }
    let kinds = |lo: u64, hi: u64| -> Vec<(Kind, MapLevel)> {
        let mut v: Vec<_> = map
            .range(lo >> 12..hi >> 12)
            .filter_map(|(_, p)| match p {
                Page::Ok(t) => Some((t.kind, t.map)),
                Page::Err(_) => None,
            })
            .collect();
        v.dedup();
        v
    };
    let base = kinds(0x100000, 0x200000);
    let thp = kinds(0x40000000, 0x40400000);
    let huge = kinds(0x80000000, 0x80200000);
    ensure(
        base == [(Kind::Base, MapLevel::Pte)]
            && thp.contains(&(Kind::Thp, MapLevel::Pmd))
            && huge == [(Kind::Hugetlb, MapLevel::Pmd)],
        || format!("memfd kinds and levels: {base:?}, shmem THP {thp:?}, hugetlb {huge:?}"),
    )?;
    for &(gpa, value, _) in &vmm.wrote {
        let t = translate(&format!("{gpa:#x} pid={}", vmm.pid))?;
        phys_value(t.phys, value)?;
    }
    vmm.stop()
}
