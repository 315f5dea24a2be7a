// SPDX-License-Identifier: GPL-2.0
//! Maps while the VMM's memory changes under them: the VMM drops, collapses,
//! splits, moves and remaps it (`gfn-vmm --thrash`, khugepaged pushed
//! hard), pages migrate between NUMA nodes, pages are swapped out.  Every
//! page is told once, and what is told agrees with pagemap wherever
//! pagemap is a fixed point: pages whose frame is the same before and after
//! a map must be told with that frame, if they are told translated.

use crate::check::{ensure, phys_value};
use crate::cpus;
use crate::module::{self, ask};
use crate::oracle;
use crate::pages::{check_slot, per_page, Page};
use crate::t_facts::Sysfs;
use crate::t_format::ask_bin;
use crate::vmm::{Slot, Vmm};
use gfn_client::pagemap;
use gfn_proto::reply::{Kind, MapLevel, Translation};
use gfn_proto::request::Reason;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a run of racing maps saw, for the test's summary line.
#[derive(Debug, Default)]
struct Seen {
    translated: u64,
    absent: u64,
    no_vma: u64,
    pmd: u64,
    /// Pages whose frame was the same before and after a map, checked.
    stable: u64,
}

/// Checks one map of `slot` taken while its memory changes: every page
/// told once; translated pages have the slot's addresses and a coherent
/// kind, order and level; pages present at one frame both before and
/// after the map (`before`, `after`: pagemap) are told with that frame.
fn check_racing_map(
    vmm: &Vmm,
    slot: &Slot,
    map: &BTreeMap<u64, Page>,
    before: &[pagemap::Entry],
    after: &[pagemap::Entry],
    seen: &mut Seen,
) -> Result<(), String> {
    let first = slot.gpa >> 12;
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        let gfn = first + i as u64;
        let page = map.get(&gfn);
        let bad = |why: &str| {
            Err(format!(
                "gfn {gfn:#x}: {why}: module {page:?}, pagemap before {b:?}, after {a:?}"
            ))
        };
        match page {
            Some(Page::Ok(t)) => {
                seen.translated += 1;
                if !coherent(t, slot, gfn, vmm.pid) {
                    return bad("incoherent translation");
                }
                seen.pmd += u64::from(t.map == MapLevel::Pmd);
                if b.present && a.present && b.pfn == a.pfn {
                    seen.stable += 1;
                    if t.phys >> 12 != b.pfn {
                        return bad("frame differs from pagemap's, which held still");
                    }
                }
            }
            Some(Page::Err(Reason::NotPresent)) => seen.absent += 1,
            Some(Page::Err(Reason::NoVma)) => seen.no_vma += 1,
            Some(Page::Err(_)) => return bad("unexpected error"),
            None => return bad("not told"),
        }
    }
    let told = map.range(first..first + (slot.size >> 12)).count();
    ensure(told as u64 == slot.size >> 12, || {
        format!("{told} pages told of {}", slot.size >> 12)
    })
}

/// A translated page of `slot`: the slot's addresses, a size its order
/// gives, and a level its kind allows.
fn coherent(t: &Translation, slot: &Slot, gfn: u64, pid: u32) -> bool {
    let hva = slot.hva + ((gfn << 12) - slot.gpa);
    let level_ok = match t.map {
        MapLevel::Pte => true,
        MapLevel::Pmd => t.kind == Kind::Thp && t.order == 9,
        MapLevel::Pud | MapLevel::None => false,
    };
    t.gpa == gfn << 12
        && t.hva == hva
        && t.pid == pid
        && t.size == 4096 << t.order
        && t.kind != Kind::Hugetlb
        && t.phys != 0
        && level_ok
}

fn entries(vmm: &Vmm, slot: &Slot) -> Result<Vec<pagemap::Entry>, String> {
    pagemap::entries(vmm.pid, slot.hva, (slot.size >> 12) as usize)
        .map_err(|e| format!("pagemap: {e}"))
}

/// `rounds` maps (text `all`, binary `all`, text range in turn) while the
/// VMM drops, collapses, splits, moves and remaps its THP memory and
/// khugepaged scans without pause.
pub fn maps_while_memory_moves(rounds: u64) -> Result<(), String> {
    let khugepaged = "/sys/kernel/mm/transparent_hugepage/khugepaged";
    let _fast = Sysfs::set(&[
        (&format!("{khugepaged}/scan_sleep_millisecs"), "0"),
        (&format!("{khugepaged}/alloc_sleep_millisecs"), "0"),
        (&format!("{khugepaged}/pages_to_scan"), "4096"),
    ])?;
    // The VMM moves memory on one CPU while this maps on the other.
    let vmm = Vmm::start(&[
        "--thrash",
        "--cpu",
        cpus::VMM_CPU,
        "--slot",
        "thp:8M@0x40000000",
    ])?;
    cpus::pin(cpus::TEST_CPU)?;
    let slot = vmm.slots[0].clone();
    let pid = vmm.pid;
    let mut seen = Seen::default();
    for i in 0..rounds {
        let before = entries(&vmm, &slot)?;
        let replies = match i % 3 {
            0 => ask(&format!("all pid={pid}"))?,
            1 => ask_bin(&format!("all pid={pid} format=bin"))?,
            _ => ask(&format!("{:#x}+{} pid={pid}", slot.gpa, slot.size >> 12))?,
        };
        let after = entries(&vmm, &slot)?;
        let map = per_page(&replies).map_err(|e| format!("round {i}: {e}"))?;
        check_racing_map(&vmm, &slot, &map, &before, &after, &mut seen)
            .map_err(|e| format!("round {i}: {e}"))?;
    }
    let said = vmm.stop_with_output()?;
    let steps: u64 = said
        .split_whitespace()
        .find_map(|w| w.strip_prefix("steps="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no THRASHED line in {said:?}"))?;
    ensure(
        steps >= 5 && seen.absent + seen.no_vma > 0 && seen.stable > 0,
        || format!("the race did not happen: {steps} VMM steps, {seen:?}"),
    )?;
    println!("     {rounds} maps against {steps} VMM steps: {seen:?}");
    Ok(())
}

/// `rounds` maps while a thread migrates the VMM's pages between the two
/// NUMA nodes (move_pages(2)); afterwards every page's frame agrees with
/// pagemap and its node with move_pages.
pub fn maps_during_migration(rounds: u64) -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x100000", "--slot", "thp:4M@0x40000000"])?;
    let pid = vmm.pid;
    let addrs: Vec<u64> = vmm
        .slots
        .iter()
        .flat_map(|s| (0..s.size >> 12).map(move |i| s.hva + i * 4096))
        .collect();
    let stop = AtomicBool::new(false);
    let moved = AtomicU64::new(0);
    let mut seen = Seen::default();
    std::thread::scope(|scope| {
        let mover = scope.spawn(|| -> Result<(), String> {
            let mut to = 1;
            while !stop.load(Ordering::Relaxed) {
                moved.fetch_add(oracle::move_to(pid, &addrs, to)?, Ordering::Relaxed);
                to = 1 - to;
            }
            Ok(())
        });
        let maps = (|| {
            for i in 0..rounds {
                let before: Vec<_> = vmm
                    .slots
                    .iter()
                    .map(|s| entries(&vmm, s))
                    .collect::<Result<_, _>>()?;
                let replies = if i % 2 == 0 {
                    ask(&format!("all pid={pid}"))?
                } else {
                    ask_bin(&format!("all pid={pid} format=bin"))?
                };
                let map = per_page(&replies)?;
                for (slot, before) in vmm.slots.iter().zip(&before) {
                    let after = entries(&vmm, slot)?;
                    check_racing_map(&vmm, slot, &map, before, &after, &mut seen)
                        .map_err(|e| format!("round {i}: {e}"))?;
                }
            }
            Ok::<(), String>(())
        })();
        stop.store(true, Ordering::Relaxed);
        let moving = mover.join().unwrap_or(Err("mover panicked".into()));
        maps.and(moving)
    })?;
    let moved = moved.load(Ordering::Relaxed);
    ensure(moved > 0, || "move_pages moved nothing".into())?;
    // At rest: frames as pagemap says, nodes as move_pages says.
    let map = per_page(&ask(&format!("all pid={pid}"))?)?;
    for slot in &vmm.slots {
        check_slot(&vmm, slot, &map)?;
    }
    let nodes = oracle::nodes(pid, &addrs)?;
    for (addr, node) in addrs.iter().zip(&nodes) {
        let slot = vmm
            .slots
            .iter()
            .find(|s| (s.hva..s.hva + s.size).contains(addr));
        let gfn = slot.map(|s| (s.gpa + (addr - s.hva)) >> 12).unwrap_or(0);
        ensure(
            matches!(map.get(&gfn), Some(Page::Ok(t)) if i64::from(t.node) == i64::from(*node)),
            || {
                format!(
                    "gfn {gfn:#x}: move_pages says node {node}, module {:?}",
                    map.get(&gfn)
                )
            },
        )?;
    }
    println!("     {rounds} maps while {moved} pages moved: {seen:?}");
    vmm.stop()
}

/// Pages swapped out (MADV_PAGEOUT to a zram swap device) are told
/// `not-present` without being swapped in, exactly where pagemap says
/// swapped; `mode=fault` brings one back, at the frame pagemap then gives,
/// holding what the guest wrote there.
pub fn swapped_out_pages() -> Result<(), crate::runner::Outcome> {
    let _swap = oracle::zram_swap()?;
    let vmm = Vmm::start(&[
        "--slot",
        "anon:2M@0x100000",
        "--write",
        "0x100010=0x5a5a",
        "--write",
        "0x1ff000=0x77",
    ])?;
    let slot = vmm.slots[0].clone();
    let half = slot.size / 2;
    oracle::page_out(vmm.pid, slot.hva, half)?;
    let map = per_page(&ask(&format!("all pid={}", vmm.pid))?)?;
    let after = entries(&vmm, &slot)?;
    let swapped = after.iter().filter(|e| e.swapped).count();
    ensure(swapped > 0, || "MADV_PAGEOUT swapped nothing out".into())?;
    for (i, e) in after.iter().enumerate() {
        let gfn = (slot.gpa >> 12) + i as u64;
        if e.swapped {
            ensure(
                map.get(&gfn) == Some(&Page::Err(Reason::NotPresent)),
                || {
                    format!(
                        "gfn {gfn:#x} is swapped out, module says {:?}",
                        map.get(&gfn)
                    )
                },
            )?;
        }
    }
    // The map swapped nothing in, and agrees with pagemap page by page.
    check_slot(&vmm, &slot, &map)?;
    let (gpa, value, hva) = vmm.wrote[0];
    ensure(
        entries(&vmm, &slot)?[((hva - slot.hva) >> 12) as usize].swapped,
        || format!("gpa {gpa:#x} is not swapped out"),
    )?;
    let t = module::translate(&format!("{gpa:#x} pid={} mode=fault", vmm.pid))?;
    ensure(oracle::pagemap_pfn(vmm.pid, hva)? == t.phys >> 12, || {
        format!("{t:?}: pagemap has another frame")
    })?;
    phys_value(t.phys, value)?;
    println!(
        "     {swapped} of {} pages swapped out, told not-present; one faulted back in",
        after.len()
    );
    Ok(vmm.stop()?)
}
