// SPDX-License-Identifier: GPL-2.0
//! Ranges, whole-VM maps and the no-fault probe, checked page by page
//! against the VMM's pagemap and /proc/kpageflags.

use crate::check::ensure;
use crate::module::{self, ask};
use crate::pages::{self, check_slot, per_page, Page};
use crate::vmm::Vmm;
use gfn_client::pagemap;
use gfn_proto::reply::{Kind, Reply, Share, MAX_LINE};
use gfn_proto::request::{Reason, GFN_LIMIT};
use gfn_proto::window::LIST_ROOM;
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// `all` covers exactly the VMM's memslots, every page of which agrees
/// with pagemap and kpageflags; THP-backed pages come as 512-page runs.
pub fn map_all_matches_pagemap() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--no-touch",
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "thp:8M@0x40000000",
        "--slot",
        "hugetlb:4M@0x80000000",
        "--write",
        "0x103000=0x11",
        "--write",
        "0x40250000=0x22",
        "--write",
        "0x40600008=0x33",
        "--write",
        "0x80000010=0x44",
    ])?;
    module::set_log("all")?; // a fresh rate-limit interval for the summary read below
    let mark = module::log_mark("all")?;
    let replies = ask(&format!("all pid={}", vmm.pid))?;
    let map = per_page(&replies)?;
    let want: BTreeSet<u64> = vmm
        .slots
        .iter()
        .flat_map(|s| (s.gpa >> 12)..((s.gpa + s.size) >> 12))
        .collect();
    let got: BTreeSet<u64> = map.keys().copied().collect();
    ensure(got == want, || {
        format!("all told {} pages, the VMM has {}", got.len(), want.len())
    })?;
    let mut total = pages::Counts::default();
    for slot in &vmm.slots {
        let c = check_slot(&vmm, slot, &map)?;
        total.present += c.present;
        total.absent += c.absent;
    }
    ensure(total.present > 0 && total.absent > 0, || {
        format!("expected present and absent pages: {total:?}")
    })?;
    // The kernel log sums the map up in one line.
    let log = module::log_since(&mark)?.join("\n");
    let summary = format!(
        "all at offset 0 (pid {}): {} pages mapped, {} not present, 0 failed, 0 outside memslots",
        vmm.pid, total.present, total.absent
    );
    ensure(log.lines().any(|l| l.ends_with(&summary)), || {
        format!("no log line ending {summary:?}")
    })?;
    let thp_runs = replies
        .iter()
        .filter(|r| matches!(r, Reply::Ok(t) if t.kind == Kind::Thp && t.pages >= 512))
        .count();
    ensure(thp_runs >= 2, || {
        format!("{thp_runs} THP runs of 512+ pages, want 2 (one per huge page)")
    })?;
    println!(
        "     all: {} lines for {} pages ({} present)",
        replies.len(),
        map.len(),
        total.present
    );
    // A range over the same THP slot tells the same, page for page.
    let range = per_page(&ask(&format!("0x40000000-0x40800000 pid={}", vmm.pid))?)?;
    for (gfn, page) in &range {
        ensure(map.get(gfn) == Some(page), || {
            format!(
                "gfn {gfn:#x}: range says {page:?}, all says {:?}",
                map.get(gfn)
            )
        })?;
    }
    ensure(range.len() == 2048, || {
        format!("range told {} pages", range.len())
    })?;
    vmm.stop()
}

/// Ranges across holes: every page told once, holes as `no-memslot` runs
/// of the exact size, edges rounded to whole pages, bad ranges refused.
pub fn range_edges_and_holes() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:64K@0x10000", "--slot", "anon:64K@0x30000"])?;
    let pid = vmm.pid;
    let replies = ask(&format!("0x0-0x50000 pid={pid}"))?;
    let map = per_page(&replies)?;
    ensure(map.len() == 0x50, || format!("{} pages told", map.len()))?;
    for gfn in 0..0x50u64 {
        let in_slot = (0x10..0x20).contains(&gfn) || (0x30..0x40).contains(&gfn);
        let ok = match map.get(&gfn) {
            Some(Page::Ok(t)) => in_slot && t.gpa == gfn << 12,
            Some(Page::Err(Reason::NoMemslot)) => !in_slot,
            _ => false,
        };
        ensure(ok, || format!("gfn {gfn:#x}: {:?}", map.get(&gfn)))?;
    }
    let holes: Vec<(u64, u64)> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::AddrErr {
                reason: Reason::NoMemslot,
                gpa,
                pages,
                ..
            } => Some((*gpa, *pages)),
            _ => None,
        })
        .collect();
    ensure(holes == [(0, 16), (0x20000, 16), (0x40000, 16)], || {
        format!("holes {holes:?}")
    })?;
    for slot in &vmm.slots[..2] {
        let c = check_slot(&vmm, slot, &map)?;
        ensure(c.present == 16, || format!("slot {}: {c:?}", slot.id))?;
    }
    // Partial pages at both ends count whole; + counts pages.
    let edge = per_page(&ask(&format!("0x1fff-0x10001 pid={pid}"))?)?;
    ensure(edge.keys().copied().eq(1..=0x10), || format!("{edge:?}"))?;
    let plus = per_page(&ask(&format!("0x3f000+3 pid={pid}"))?)?;
    ensure(plus.keys().copied().eq(0x3f..0x42), || format!("{plus:?}"))?;
    // The whole guest physical space, mostly holes: few lines, all told.
    let whole = ask(&format!("0x0-0xffffffffffffffff pid={pid}"))?;
    let told: u64 = whole
        .iter()
        .map(|r| match r {
            Reply::Ok(t) => t.pages,
            Reply::AddrErr { pages, .. } => *pages,
            _ => 0,
        })
        .sum();
    ensure(told == GFN_LIMIT && whole.len() < 200, || {
        format!("{} lines telling {told} pages", whole.len())
    })?;
    // Bad ranges and a range in no VM.
    let bad = ask(&format!("0x2000-0x1000 0x1000+0 pid={pid}"))?;
    ensure(
        matches!(
            bad.as_slice(),
            [
                Reply::TokenErr {
                    reason: Reason::EmptyRange,
                    ..
                },
                Reply::TokenErr {
                    reason: Reason::EmptyRange,
                    ..
                }
            ]
        ),
        || format!("{bad:?}"),
    )?;
    let none = ask("0x0+4 pid=4194304")?;
    ensure(
        matches!(
            none.as_slice(),
            [Reply::AddrErr {
                reason: Reason::NoVm,
                gpa: 0,
                pages: 4,
                ..
            }]
        ),
        || format!("{none:?}"),
    )?;
    vmm.stop()
}

/// Without `mode=fault` nothing is faulted in: untouched pages read as not
/// present, and the VMM's pagemap and resident set do not change.  With
/// it, untouched anonymous pages get the shared zero page, as the seed's
/// read fault did.
pub fn nofault_probe_keeps_rss() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--no-touch",
        "--slot",
        "anon:64M@0x40000000",
        "--write",
        "0x40000000=0x1",
    ])?;
    let slot = vmm.slots[0].clone();
    let n = (slot.size >> 12) as usize;
    let present = |pid| -> Result<usize, String> {
        Ok(pagemap::entries(pid, slot.hva, n)
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|e| e.present)
            .count())
    };
    let (rss0, present0) = (pages::rss_kib(vmm.pid, slot.hva)?, present(vmm.pid)?);
    let all = per_page(&ask(&format!("all pid={}", vmm.pid))?)?;
    let c = check_slot(&vmm, &slot, &all)?;
    let single = ask(&format!("0x42000000 pid={}", vmm.pid))?;
    let (rss1, present1) = (pages::rss_kib(vmm.pid, slot.hva)?, present(vmm.pid)?);
    ensure(
        c.absent as usize == n - present0 && c.absent > 16000,
        || format!("{c:?} of {n} pages, pagemap had {present0} present"),
    )?;
    ensure((rss1, present1) == (rss0, present0), || {
        format!(
            "probing changed the VMM: RSS {rss0} -> {rss1} KiB, present {present0} -> {present1}"
        )
    })?;
    ensure(
        matches!(
            single.as_slice(),
            [Reply::AddrErr {
                reason: Reason::NotPresent,
                ..
            }]
        ),
        || format!("untouched single address: {single:?}"),
    )?;
    // mode=fault: 256 untouched pages now map the zero page.
    let faulted = ask(&format!("0x40100000+256 mode=fault pid={}", vmm.pid))?;
    let map = per_page(&faulted)?;
    for (gfn, page) in &map {
        let Page::Ok(t) = page else {
            return Err(format!("gfn {gfn:#x} not faulted in: {page:?}"));
        };
        let flags = crate::oracle::kpageflags(t.phys >> 12)?;
        ensure(
            t.share == Share::Zero && crate::oracle::has(flags, crate::oracle::KPF_ZERO_PAGE),
            || format!("gfn {gfn:#x}: {t:?}, kpageflags {flags:#x}"),
        )?;
    }
    let present2 = present(vmm.pid)?;
    ensure(map.len() == 256 && present2 == present0 + 256, || {
        format!(
            "mode=fault: {} pages told, pagemap present {present0} -> {present2}",
            map.len()
        )
    })?;
    vmm.stop()
}

/// A reply far larger than one chunk streams with bounded memory: what the
/// file holds ahead of the reader stays under `CHUNK + BATCH` times the
/// most one walk entry can add (a line, or a run joining a frame list),
/// every page is told once, and reading back behind the chunk is refused.
/// Zero pages never merge into runs, so faulting 64 MiB of untouched
/// memory in gives one line per page in plain runs (`runs=plain`), and a
/// frame list of the zero frame in dense ones.
/// Base pages touched in a random order, read from the page tables, come
/// as stretches of up to 2048 frames a walk (`walk::FRAMES`), each frame at
/// most 32 bytes of reply (a frame in a text list is 15; a run of 16 pages
/// between two lists, a line and the next list's head, is 2 x 256 / 16).
pub fn streamed_reply_is_bounded() -> Result<(), String> {
    let vmm = Vmm::start(&["--no-touch", "--slot", "anon:64M@0x40000000"])?;
    for (runs, most) in [("plain", MAX_LINE), ("dense", LIST_ROOM)] {
        stream_bounded(&vmm, "mode=fault", runs, (64 << 10) + 512 * most as u64)?;
    }
    vmm.stop()?;
    let vmm = Vmm::start(&["--scatter", "--slot", "anon:64M@0x40000000"])?;
    let bound = (64 << 10) + 512 * LIST_ROOM as u64 + 2048 * 32;
    stream_bounded(&vmm, "", "dense", bound)?;
    vmm.stop()
}

/// Streams `all MODE runs=RUNS` of `vmm`'s slot, checking that no more
/// than `bound` bytes are ever held ahead of the reader.
fn stream_bounded(vmm: &Vmm, mode: &str, runs: &str, bound: u64) -> Result<(), String> {
    let mut f = module::open().map_err(|e| e.to_string())?;
    f.write_all(format!("all {mode} runs={runs} pid={}", vmm.pid).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut worst = 0;
    loop {
        let pos = f.stream_position().map_err(|e| e.to_string())?;
        let end = f.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
        f.seek(SeekFrom::Start(pos)).map_err(|e| e.to_string())?;
        worst = worst.max(end - pos);
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    ensure(worst <= bound, || {
        format!("runs={runs}: {worst} bytes held ahead of the reader, bound {bound}")
    })?;
    let behind = f.read_at(&mut buf, 0);
    ensure(
        // Plain runs: a line a page, far more than the bound; dense: the
        // zero frame listed a page at a time, still more than a chunk.
        text.len() as u64 > if runs == "plain" { 2 * bound } else { 64 << 10 }
            && behind.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::ESPIPE),
        || {
            format!(
                "runs={runs}: reply of {} bytes; pread at 0 after it: {behind:?}",
                text.len()
            )
        },
    )?;
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;
    let replies = crate::module::parse_replies(&text)?;
    let map = per_page(&replies)?;
    let c = check_slot(vmm, &vmm.slots[0], &map)?;
    ensure(c.present == 16384 && replies.len() >= 16384, || {
        format!("runs={runs}: {c:?} in {} replies", replies.len())
    })?;
    println!(
        "     runs={runs}: streamed {} bytes in {} lines; at most {worst} bytes held",
        text.len(),
        text.lines().count()
    );
    Ok(())
}
