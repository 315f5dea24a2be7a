// SPDX-License-Identifier: GPL-2.0
//! `hpa=`: which guest pages are given host pages.  The oracle is the
//! forward maps of every VM (themselves checked against pagemap) and the
//! VMMs' pagemaps: the answer must list exactly the guest pages whose
//! frame is asked about, in every VM, and nothing else.

use crate::check::ensure;
use crate::module;
use crate::oracle;
use crate::pages::{check_slot, per_page, Page};
use crate::t_facts::{ksmd_fast, KSM};
use crate::t_format::ask_bin;
use crate::vmm::Vmm;
use gfn_proto::reply::{Reply, Share};
use gfn_proto::request::{Reason, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, Instant};

/// (pid, gpa) of every translated page of each VMM's VM, by host frame,
/// from whole-VM maps, checked against pagemap when `check` (not while
/// ksmd merges).
fn owners(vmms: &[&Vmm], check: bool) -> Result<BTreeMap<u64, BTreeSet<(u32, u64)>>, String> {
    let mut by_frame: BTreeMap<u64, BTreeSet<(u32, u64)>> = BTreeMap::new();
    for vmm in vmms {
        let map = per_page(&ask_bin(&format!("all pid={} format=bin", vmm.pid))?)?;
        for slot in vmm.slots.iter().filter(|_| check) {
            check_slot(vmm, slot, &map)?;
        }
        for page in map.values() {
            if let Page::Ok(t) = page {
                by_frame
                    .entry(t.phys >> 12)
                    .or_default()
                    .insert((t.pid, t.gpa));
            }
        }
    }
    Ok(by_frame)
}

/// The guest pages `hpa=...` (with `extra` options) answers, each checked
/// against its VMM's pagemap; `None` for `err:not-guest-memory`.
fn reverse(what: &str, extra: &str) -> Result<Option<BTreeSet<(u32, u64)>>, String> {
    let replies = ask_bin(&format!("hpa={what} {extra} format=bin"))?;
    if let [Reply::TokenErr {
        reason: Reason::NotGuestMemory,
        ..
    }] = replies.as_slice()
    {
        return Ok(None);
    }
    let mut told = BTreeSet::new();
    for r in &replies {
        let Reply::Ok(t) = r else {
            return Err(format!("hpa={what}: unexpected {r}"));
        };
        for i in 0..t.pages {
            let page = t.page(i);
            let pfn = oracle::pagemap_pfn(page.pid, page.hva)?;
            ensure(pfn == page.phys >> 12, || {
                format!("hpa={what}: {page:?}, but pagemap has frame {pfn:#x} there")
            })?;
            ensure(told.insert((page.pid, page.gpa & !0xfff)), || {
                format!("hpa={what}: gpa {:#x} told twice", page.gpa)
            })?;
        }
    }
    Ok(Some(told))
}

/// Frames of two VMs, sampled across base pages, a THP and a hugetlb page,
/// asked back one by one and as ranges: each answer is exactly the guest
/// pages the forward maps put on those frames; a line's pid narrows the
/// search to its VM; a frame no VM maps is `not-guest-memory`.
pub fn reverse_lookup() -> Result<(), String> {
    let a = Vmm::start(&[
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "thp:4M@0x40000000",
        "--write",
        "0x100abc=0x5a",
    ])?;
    let b = Vmm::start(&[
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "hugetlb:2M@0x80000000",
    ])?;
    let owners = owners(&[&a, &b], true)?;
    let frames: Vec<u64> = owners.keys().copied().collect();
    ensure(frames.len() > 1000, || format!("{} frames", frames.len()))?;
    let mut asked = 0;
    for (i, pfn) in frames.iter().enumerate() {
        if i % 97 != 0 && i != frames.len() - 1 {
            continue;
        }
        let got = reverse(&format!("{:#x}", pfn << 12), "")?;
        ensure(got.as_ref() == owners.get(pfn), || {
            format!(
                "hpa={:#x}: told {got:?}, the maps say {:?}",
                pfn << 12,
                owners.get(pfn)
            )
        })?;
        asked += 1;
    }
    // A single address keeps its offset: the owner of that very byte.
    let (gpa, _, hva) = a.wrote[0];
    let phys = (oracle::pagemap_pfn(a.pid, hva)? << 12) | (hva & 0xfff);
    let one = ask_bin(&format!("hpa={phys:#x} format=bin"))?;
    ensure(
        matches!(one.as_slice(), [Reply::Ok(t)] if t.gpa == gpa && t.phys == phys && t.pid == a.pid),
        || format!("hpa={phys:#x}: {one:?}, want gpa {gpa:#x} of pid {}", a.pid),
    )?;
    // A range: a whole THP of A, and the pages around a frame of B.
    let thp = oracle::pagemap_pfn(a.pid, a.hva_of(0x40200000)?)?;
    let range = reverse(&format!("{:#x}+512", thp << 12), "")?.unwrap_or_default();
    let want: BTreeSet<_> = (thp..thp + 512)
        .filter_map(|f| owners.get(&f))
        .flatten()
        .copied()
        .collect();
    ensure(range == want && range.len() == 512, || {
        format!(
            "hpa= of a THP: {} pages, the maps say {}",
            range.len(),
            want.len()
        )
    })?;
    // The line's pid narrows the search.
    let of_a = oracle::pagemap_pfn(a.pid, a.hva_of(0x100000)?)? << 12;
    ensure(
        reverse(&format!("{of_a:#x}"), &format!("pid={}", b.pid))?.is_none(),
        || "a frame of A was found in B's VM".into(),
    )?;
    ensure(
        reverse(&format!("{of_a:#x}"), &format!("pid={}", a.pid))?.is_some(),
        || "a frame of A was not found in A's VM".into(),
    )?;
    // A frame no VM maps: this process's own stack.
    let x = 5u64;
    let mine = oracle::pagemap_pfn(std::process::id(), &x as *const u64 as u64)?;
    ensure(
        reverse(&format!("{:#x}", mine << 12), "")?.is_none(),
        || "the test's own stack is someone's guest memory".into(),
    )?;
    // gfn_test hpa: the module's own text lines (read as records, printed
    // as text), and exit status 1 for memory no VM maps.
    let (ok, text) = module::output("gfn_test", &["hpa", &format!("{phys:#x}")])?;
    let direct = module::ask(&format!("hpa={phys:#x}"))?;
    let printed: Vec<String> = direct.iter().map(Reply::to_string).collect();
    ensure(
        ok && text.lines().eq(printed.iter().map(String::as_str)),
        || format!("gfn_test hpa printed {text:?}, the module says {printed:?}"),
    )?;
    // The same for memory no VM maps: one line, the hpa token's error.
    let token = format!("hpa={:#x}", mine << 12);
    let (ok, text) = module::output("gfn_test", &["hpa", &format!("{:#x}", mine << 12)])?;
    let direct = module::ask(&token)?;
    let nobody = Reply::TokenErr {
        reason: Reason::NotGuestMemory,
        span: Span {
            offset: 0,
            len: token.len(),
        },
    };
    let line = format!("err:not-guest-memory offset=0 len={}", token.len());
    ensure(
        !ok && direct == [nobody] && text.lines().eq([line.as_str()]),
        || {
            format!(
                "gfn_test hpa of no guest's memory: ok={ok}, {text:?}; the module says {direct:?}"
            )
        },
    )?;
    println!("     {asked} frames asked one by one, a THP as a range; all as the maps say");
    a.stop()?;
    b.stop()
}

/// A page KSM merged across two VMs is told in both: the answer for a KSM
/// frame is every guest page of both VMs that the forward maps put on it.
pub fn reverse_lookup_ksm() -> Result<(), String> {
    let ksm = KSM;
    let _sysfs = ksmd_fast()?;
    let a = Vmm::start(&["--slot", "ksm:256K@0x100000"])?;
    let b = Vmm::start(&["--slot", "ksm:256K@0x100000"])?;
    let start = Instant::now();
    let shared = loop {
        let owners = owners(&[&a, &b], false)?;
        let both = owners.iter().find(|(_, o)| {
            o.iter().any(|(p, _)| *p == a.pid) && o.iter().any(|(p, _)| *p == b.pid)
        });
        if let Some((pfn, _)) = both {
            break *pfn;
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err("KSM merged no page of the two VMs in 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Stop ksmd (merged pages stay merged) and compare at rest.
    std::fs::write(format!("{ksm}/run"), "0").map_err(|e| format!("ksm run: {e}"))?;
    let owners = owners(&[&a, &b], true)?;
    let want = owners.get(&shared).cloned().unwrap_or_default();
    let got = reverse(&format!("{:#x}", shared << 12), "")?.unwrap_or_default();
    ensure(got == want, || {
        format!("KSM frame: told {got:?}, the maps say {want:?}")
    })?;
    let map = per_page(&ask_bin(&format!("all pid={} format=bin", a.pid))?)?;
    ensure(
        map.values()
            .any(|p| matches!(p, Page::Ok(t) if t.phys >> 12 == shared && t.share == Share::Ksm)),
        || "the shared frame is not told share=ksm".into(),
    )?;
    println!(
        "     a KSM frame of two VMs: {} guest pages told, in both",
        got.len()
    );
    let _ = std::fs::write(format!("{ksm}/run"), "2");
    a.stop()?;
    b.stop()
}

/// A reverse lookup over a VM of 64 MiB of THPs (the guest touches each
/// 2 MiB once) and 64 GiB of untouched memory after them: every read of
/// the answer, and the write that asks, returns within `limit` (each
/// system call's work is bounded), and the answer is exactly the guest
/// pages pagemap puts on frames (the THP slot's and the code slot's; the
/// untouched slots have none).
pub fn reverse_lookup_is_bounded(limit: Duration) -> Result<(), String> {
    const THP: u64 = 0;
    let writes: Vec<String> = (0..32)
        .map(|i| format!("{:#x}={:#x}", THP + i * 0x20_0000, 0x5eed_0100 + i))
        .collect();
    let mut args = vec![
        "--no-touch",
        "--slot",
        "thp:64M@0x0",
        "--slot",
        "anon:64G@0x100000000",
    ];
    for w in &writes {
        args.extend(["--write", w]);
    }
    let vmm = Vmm::start(&args)?;
    let mut f = module::open().map_err(|e| e.to_string())?;
    let request = format!("hpa=0x0-0x400000000 pid={}", vmm.pid);
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    std::io::Write::write_all(&mut f, request.as_bytes()).map_err(|e| e.to_string())?;
    slowest = slowest.max(started.elapsed());
    let (mut text, mut buf, mut calls) = (Vec::new(), vec![0u8; 65536], 1);
    loop {
        let started = Instant::now();
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        slowest = slowest.max(started.elapsed());
        calls += 1;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;
    let replies = crate::module::parse_replies(&text)?;
    let told = per_page(&replies)?;
    // The oracle: pagemap of every page of the THP and code slots.
    let mut want = BTreeMap::new();
    for slot in vmm.slots.iter().filter(|s| s.size <= 64 << 20) {
        for i in 0..slot.size / 4096 {
            if let Ok(pfn) = oracle::pagemap_pfn(vmm.pid, slot.hva + i * 4096) {
                want.insert((slot.gpa >> 12) + i, pfn);
            }
        }
    }
    let got: BTreeMap<u64, u64> = told
        .iter()
        .map(|(gfn, p)| match p {
            Page::Ok(t) => Ok((*gfn, t.phys >> 12)),
            Page::Err(r) => Err(format!("gfn {gfn:#x}: {r:?}")),
        })
        .collect::<Result<_, _>>()?;
    ensure(got == want, || {
        let extra = got.iter().find(|(g, p)| want.get(g) != Some(p));
        let missing = want.iter().find(|(g, p)| got.get(g) != Some(p));
        format!(
            "{} pages told, pagemap has {}: first told not in pagemap {extra:x?}, first missing {missing:x?}",
            got.len(),
            want.len()
        )
    })?;
    ensure(want.len() >= 32 * 512, || {
        format!("only {} pages present: the THPs are not there", want.len())
    })?;
    ensure(slowest < limit, || {
        format!("a system call took {slowest:?} (limit {limit:?}) over {calls} calls")
    })?;
    println!(
        "     {} guest pages found over {calls} system calls, the slowest {} ms (limit {} ms)",
        got.len(),
        slowest.as_millis(),
        limit.as_millis()
    );
    vmm.stop()
}
