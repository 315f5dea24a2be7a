// SPDX-License-Identifier: GPL-2.0
//! `gfn_test stats`: per-VM summaries, against sums computed independently
//! from each VMM's pagemap, /proc/kpageflags, move_pages(2) and smaps.

use crate::check::ensure;
use crate::module::run;
use crate::oracle::{self, has, KPF_ZERO_PAGE};
use crate::t_facts;
use crate::vmm::Vmm;
use gfn_client::pagemap;
use gfn_proto::reply::{Kind, KvmMaps};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the oracles say of one VMM's memslots, in the figures of
/// `gfn_test stats --json`.
#[derive(Debug, Default, PartialEq)]
pub struct Sums {
    pub pages: u64,
    pub present: u64,
    pub not_present: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_node: BTreeMap<String, u64>,
    pub pmd: u64,
    pub zero: u64,
    /// Present pages by "kind/order/node/share" together (the labels of
    /// `gfn_test metrics`); not in `stats --json`.  Share is zero or none:
    /// these oracles cannot tell KSM pages (see `t_facts::ksm_pages`), and
    /// the VMs summed here have none.
    pub classes: BTreeMap<String, u64>,
}

pub fn oracle_sums(vmm: &Vmm) -> Result<Sums, String> {
    let mut s = Sums::default();
    for slot in &vmm.slots {
        let n = (slot.size >> 12) as usize;
        let present = oracle::present_pages(vmm.pid, slot.hva, n)?;
        s.pages += n as u64;
        s.present += present.len() as u64;
        s.not_present += (n - present.len()) as u64;
        // The compound page last measured: huge pages are naturally
        // aligned, so its frames are `pfn & !(pages - 1)` on.
        let mut last: Option<(u64, u64)> = None;
        for &oracle::PresentPage { pfn, flags, node } in &present {
            let kind = oracle::kind_of(flags);
            let pages = match (kind, last) {
                (Kind::Base, _) => 1,
                (_, Some((head, n))) if (head..head + n).contains(&pfn) => n,
                _ => {
                    let n = oracle::compound_size(pfn)? / 4096;
                    last = Some((pfn & !(n - 1), n));
                    n
                }
            };
            let order = pages.trailing_zeros();
            *s.by_kind
                .entry(format!("{}/{order}", kind.as_str()))
                .or_default() += 1;
            *s.by_node.entry(node.to_string()).or_default() += 1;
            let zero = has(flags, KPF_ZERO_PAGE);
            s.zero += u64::from(zero);
            let share = if zero { "zero" } else { "none" };
            *s.classes
                .entry(format!("{}/{order}/{node}/{share}", kind.as_str()))
                .or_default() += 1;
        }
        // PMD-mapped: smaps' AnonHugePages, and every 2 MiB hugetlb page.
        for v in oracle::smaps(vmm.pid, slot.hva, slot.hva + slot.size)? {
            s.pmd += if v.kib("KernelPageSize")? == 2048 {
                (v.kib("Private_Hugetlb").unwrap_or(0) + v.kib("Shared_Hugetlb").unwrap_or(0)) / 4
            } else {
                v.kib("AnonHugePages")? / 4
            };
        }
    }
    Ok(s)
}

/// The same figures from `gfn_test stats --json`.
fn tool_sums(v: &Value) -> Sums {
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let map = |k: &str| -> BTreeMap<String, u64> {
        v[k].as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(u64::MAX)))
                    .collect()
            })
            .unwrap_or_default()
    };
    Sums {
        pages: n("pages"),
        present: n("present"),
        not_present: n("not_present"),
        by_kind: map("by_kind"),
        by_node: map("by_node"),
        pmd: v["by_map"]["pmd"].as_u64().unwrap_or(0),
        zero: n("zero"),
        classes: BTreeMap::new(),
    }
}

/// Two VMs with mixed backings, one bound to each NUMA node, one partly
/// untouched: `stats --json` gives, per VM, exactly the sums of the
/// oracles, and what KVM maps as its debugfs; the text form has a block
/// per VM.
pub fn gfn_test_stats() -> Result<(), String> {
    let (a, b) = two_vms()?;
    for vmm in [&a, &b] {
        let before = oracle::kvm_debugfs(vmm.pid)?;
        let text = run(
            "gfn_test",
            &["stats", "--json", "--pid", &vmm.pid.to_string()],
        )?;
        let after = oracle::kvm_debugfs(vmm.pid)?;
        let v: Value = serde_json::from_str(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
        let k = &v["kvm"];
        let said = [
            &k["leaves_4k"],
            &k["leaves_2m"],
            &k["leaves_1g"],
            &k["nx_splits"],
        ]
        .map(|n| n.as_u64().unwrap_or(u64::MAX));
        let of = |m: KvmMaps| [m.leaves[0], m.leaves[1], m.leaves[2], m.nx_splits];
        // KVM's mappings of a halted guest hold still unless the host moves
        // its memory meanwhile: the figures are debugfs's before or after.
        ensure(said == of(before) || said == of(after), || {
            format!(
                "pid {}: stats say KVM maps {said:?}, debugfs {before:?} then {after:?}",
                vmm.pid
            )
        })?;
        let want = Sums {
            classes: BTreeMap::new(),
            ..oracle_sums(vmm)?
        };
        let got = tool_sums(&v);
        ensure(got == want, || {
            format!("pid {}: stats say {got:?}, the oracles {want:?}", vmm.pid)
        })?;
        let thp = want
            .by_kind
            .iter()
            .filter(|(k, _)| k.starts_with("thp/") && !k.ends_with("/0"))
            .map(|(_, n)| n)
            .sum::<u64>();
        let pct = (thp as f64 * 1000.0 / want.present as f64).round() / 10.0;
        ensure(v["thp_percent"].as_f64() == Some(pct), || {
            format!("thp_percent {} want {pct}", v["thp_percent"])
        })?;
    }
    let text = run("gfn_test", &["stats"])?;
    for vmm in [&a, &b] {
        ensure(text.contains(&format!("vm pid={} ", vmm.pid)), || {
            format!("no block for pid {} in {text}", vmm.pid)
        })?;
    }
    println!("     two VMs on two nodes: every figure as the oracles sum it");
    a.stop()?;
    b.stop()
}

/// Two VMMs with mixed backings, one bound to each NUMA node, the second
/// partly untouched.
pub fn two_vms() -> Result<(Vmm, Vmm), String> {
    // The first guest reads all its memory: KVM maps it, huge in part.
    let a = Vmm::start(&[
        "--guest-reads",
        "--node",
        "0",
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "thp:4M@0x40000000",
        "--slot",
        "hugetlb:2M@0x80000000",
    ])?;
    let b = Vmm::start(&[
        "--node",
        "1",
        "--no-touch",
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "thp:2M@0x40000000",
        "--write",
        "0x100010=0x1",
        "--write",
        "0x40000010=0x2",
    ])?;
    Ok((a, b))
}

/// Reads `gfn_test watch --json` output until the first round marker with
/// a round above `after`; returns every change read on the way, and that
/// round.
fn changes_until(
    lines: &std::sync::mpsc::Receiver<String>,
    after: u64,
) -> Result<(Vec<Value>, u64), String> {
    let mut changes = Vec::new();
    loop {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .map_err(|_| format!("no round after {after} from gfn_test watch within 60 s"))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?;
        match v["round"].as_u64() {
            Some(r) if r > after => return Ok((changes, r)),
            Some(_) => {}
            None => changes.push(v),
        }
    }
}

/// Once something has happened to the VMM: every change `gfn_test watch`
/// told since round `round`, through the first map that started after
/// the event had ended, and that map's round.  The event may have spanned
/// rounds (ksmd merges a while): the rounds already printed are read
/// first; the one after the last of them may have started before the
/// event ended, so the one after that is the first that surely did not.
fn changes_after_event(
    lines: &std::sync::mpsc::Receiver<String>,
    round: u64,
) -> Result<(Vec<Value>, u64), String> {
    let mut changes = Vec::new();
    let mut last = round;
    while let Ok(line) = lines.try_recv() {
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?;
        match v["round"].as_u64() {
            Some(r) => last = last.max(r),
            None => changes.push(v),
        }
    }
    let (more, r) = changes_until(lines, last + 1)?;
    changes.extend(more);
    Ok((changes, r))
}

/// `gfn_test watch --json --interval 0.2` of the VM of `pid`, its output
/// lines as they come, and the round after which nothing has changed yet
/// (quiet rounds report nothing).
fn spawn_watch(
    pid: u32,
) -> Result<(std::process::Child, std::sync::mpsc::Receiver<String>, u64), String> {
    let mut watch = std::process::Command::new("gfn_test")
        .args(["watch", "--json", "--interval", "0.2", "--pid"])
        .arg(pid.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("gfn_test watch: {e}"))?;
    let stdout = watch.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let quiet = changes_until(&lines, 1).and_then(|(quiet, round)| {
        ensure(quiet.is_empty(), || {
            format!("changes while nothing moved: {quiet:?}")
        })?;
        Ok(round)
    });
    match quiet {
        Ok(round) => Ok((watch, lines, round)),
        Err(e) => {
            let _ = watch.kill();
            let _ = watch.wait();
            Err(e)
        }
    }
}

/// `gfn_test watch`: while nothing happens it reports nothing; when pages
/// of the VMM are moved to the other node (move_pages) it reports exactly
/// the pages whose frame and node move_pages and pagemap say changed, with
/// their old and new node; and again when they are moved back; a THP split
/// into PTEs and collapsed again is 512 pages changing level each time.
pub fn gfn_test_watch() -> Result<(), String> {
    let mut vmm = Vmm::start(&[
        "--node",
        "0",
        "--slot",
        "anon:1M@0x100000",
        "--slot",
        "thp:2M@0x40000000",
    ])?;
    let slot = vmm.slots[0].clone();
    let (mut watch, lines, mut round) = spawn_watch(vmm.pid)?;
    let result = (|| -> Result<(), String> {
        let addrs: Vec<u64> = (0..64).map(|i| slot.hva + i * 4096).collect();
        for (from, to) in [(0, 1), (1, 0)] {
            let before = pagemap::entries(vmm.pid, slot.hva, 256).map_err(|e| e.to_string())?;
            let moved = oracle::move_to(vmm.pid, &addrs, to)?;
            let want = frames_changed(vmm.pid, &slot, &before)?;
            let (changes, r) = changes_after_event(&lines, round)?;
            round = r;
            let mut told = Vec::new();
            for c in &changes {
                let (gpa, pages) = (
                    c["gpa"].as_u64().unwrap_or(0),
                    c["pages"].as_u64().unwrap_or(0),
                );
                ensure(
                    c["old"]["node"].as_i64() == Some(i64::from(from))
                        && c["new"]["node"].as_i64() == Some(i64::from(to)),
                    || format!("moved {from} -> {to}, watch says {c}"),
                )?;
                told.extend((0..pages).map(|i| gpa + i * 4096));
            }
            ensure(told == want && moved == 64, || {
                format!(
                    "{from} -> {to}: move_pages moved {moved}; pagemap says {} pages changed frame, watch told {} ({changes:?})",
                    want.len(),
                    told.len()
                )
            })?;
        }
        // A THP split (its PMD into PTEs) and collapsed again: the 512
        // pages change level, pmd -> pte -> pmd, as smaps' AnonHugePages
        // says; nothing else changes.
        let thp = vmm.slots[1].clone();
        let pid = vmm.pid;
        let huge_kib = || -> Result<u64, String> {
            oracle::smaps(pid, thp.hva, thp.hva + thp.size)?
                .iter()
                .map(|v| v.kib("AnonHugePages"))
                .sum()
        };
        ensure(huge_kib()? == 2048, || {
            "the THP slot is not PMD-mapped".into()
        })?;
        for (cmd, from, to) in [("protect", "pmd", "pte"), ("collapse", "pte", "pmd")] {
            let said = vmm.command(&format!("{cmd} 0x40000000"))?;
            ensure(!said.ends_with("done=0"), || {
                format!("gfn-vmm said {said:?}")
            })?;
            let want_kib = if to == "pmd" { 2048 } else { 0 };
            ensure(huge_kib()? == want_kib, || {
                format!("after {cmd}: smaps AnonHugePages is not {want_kib} kB")
            })?;
            let (changes, r) = changes_after_event(&lines, round)?;
            round = r;
            let pages: u64 = changes
                .iter()
                .map(|c| c["pages"].as_u64().unwrap_or(0))
                .sum();
            ensure(
                pages == 512
                    && changes.iter().all(|c| {
                        c["old"]["map"] == from
                            && c["new"]["map"] == to
                            && c["gpa"]
                                .as_u64()
                                .is_some_and(|g| (0x40000000..0x40200000).contains(&g))
                    }),
                || format!("{cmd}: watch told {changes:?}, want 512 pages {from} -> {to}"),
            )?;
        }
        Ok(())
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    println!("     64 pages moved to node 1 and back, a THP split and collapsed: watch told exactly those");
    vmm.stop()
}

/// The guest addresses of the pages of `slot` (as many as `before` has)
/// whose frame pagemap now gives is not the one in `before`.
fn frames_changed(
    pid: u32,
    slot: &crate::vmm::Slot,
    before: &[pagemap::Entry],
) -> Result<Vec<u64>, String> {
    let after = pagemap::entries(pid, slot.hva, before.len()).map_err(|e| e.to_string())?;
    Ok((0..before.len())
        .filter(|&i| before[i].pfn != after[i].pfn)
        .map(|i| slot.gpa + i as u64 * 4096)
        .collect())
}

/// Pages of process `pid` that KSM has merged (`ksm_merging_pages`).
fn ksm_merging(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/ksm_stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("ksm_merging_pages "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{path}: no ksm_merging_pages in {text:?}"))
}

/// `gfn_test watch` and KSM: when ksmd merges the VMM's mergeable slot,
/// watch tells, once each, exactly the pages that pagemap shows on a
/// frame shared with another page of the slot, as many as the kernel
/// counts merged (ksm_merging_pages), going from share=none to share=ksm;
/// when KSM unmerges them all (run=2), the same pages go back to
/// share=none.
pub fn gfn_test_watch_ksm() -> Result<(), String> {
    let ksm = t_facts::KSM;
    let _stopped = t_facts::Sysfs::set(&[(&format!("{ksm}/run"), "0")])?;
    let vmm = Vmm::start(&["--slot", "ksm:4M@0x40000000"])?;
    let slot = vmm.slots[0].clone();
    let n = (slot.size >> 12) as usize;
    let (mut watch, lines, mut round) = spawn_watch(vmm.pid)?;
    let result = (|| -> Result<(), String> {
        // The pages merged: those on a frame that another page of the slot
        // shares, pagemap says (no other process has mergeable memory).
        let mut merged: Vec<u64> = Vec::new();
        for (step, from, to) in [("merge", "none", "ksm"), ("unmerge", "ksm", "none")] {
            let before = pagemap::entries(vmm.pid, slot.hva, n).map_err(|e| e.to_string())?;
            if step == "merge" {
                let _fast = t_facts::ksmd_fast()?;
                let start = std::time::Instant::now();
                // Until ksmd has merged the slot (its pages are alike)
                // and then made a full pass without merging more.
                let mut last = 0;
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    let now = ksm_merging(vmm.pid)?;
                    if (now > 0 && now == last) || start.elapsed().as_secs() > 60 {
                        break;
                    }
                    last = now;
                }
                // Dropping `_fast` stops ksmd: merged pages stay merged.
            } else {
                std::fs::write(format!("{ksm}/run"), "2").map_err(|e| format!("ksm run=2: {e}"))?;
            }
            let count = ksm_merging(vmm.pid)?;
            if step == "merge" {
                let now = pagemap::entries(vmm.pid, slot.hva, n).map_err(|e| e.to_string())?;
                let mut users: std::collections::HashMap<u64, u32> = Default::default();
                for e in now.iter().filter(|e| e.present) {
                    *users.entry(e.pfn).or_default() += 1;
                }
                merged = (0..n)
                    .filter(|&i| now[i].present && users[&now[i].pfn] > 1)
                    .map(|i| slot.gpa + i as u64 * 4096)
                    .collect();
                ensure(count > 0 && merged.len() as u64 == count, || {
                    format!(
                        "ksmd merged {count} pages; pagemap shows {} on shared frames",
                        merged.len()
                    )
                })?;
            } else {
                ensure(count == 0, || {
                    format!("after run=2, {count} pages still merged")
                })?;
            }
            let moved = frames_changed(vmm.pid, &slot, &before)?;
            let (changes, r) = changes_after_event(&lines, round)?;
            round = r;
            let mut told = Vec::new();
            for c in &changes {
                ensure(c["old"]["share"] == from && c["new"]["share"] == to, || {
                    format!("{step}: watch says {c}, want share {from} -> {to}")
                })?;
                let gpa = c["gpa"].as_u64().unwrap_or(0);
                told.extend((0..c["pages"].as_u64().unwrap_or(0)).map(|i| gpa + i * 4096));
            }
            let told_pages = told.len();
            told.sort_unstable();
            told.dedup();
            ensure(
                told_pages == told.len()
                    && told == merged
                    && moved.iter().all(|g| told.contains(g)),
                || {
                    format!(
                        "{step}: watch told {told_pages} pages ({} distinct), of the {} merged; pagemap saw {} change frame",
                        told.len(),
                        merged.len(),
                        moved.len()
                    )
                },
            )?;
            println!(
                "     {step}: {} pages share {from} -> {to} ({} changed frame)",
                told.len(),
                moved.len()
            );
        }
        Ok(())
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    vmm.stop()
}
