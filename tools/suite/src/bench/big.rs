// SPDX-License-Identifier: GPL-2.0
//! `--bench` on a guest of about 1 TiB and on a small one of the same
//! make: `gfn_test`'s wall time and peak memory, which must not grow with
//! the guest.

use super::peak::{run_tool, Run};
use super::{met, GIB, MIB};
use crate::module;
use crate::vmm::Vmm;
use std::process::{Command, Stdio};

/// A guest `gfn_test` is timed on: `untouched` bytes of anonymous memory
/// never faulted in (at 4 GiB, above gfn-vmm's code slot just below it),
/// and `touched` bytes in each backing the VMM offers, from address 0 up.
#[derive(Clone, Copy)]
struct Layout {
    untouched: u64,
    touched: u64,
}

/// The touched slots of a `Layout`: backing and how it is faulted in.
const TOUCHED: [(&str, &str); 4] = [
    ("thp", "order"),
    ("hugetlb", "order"),
    ("anon", "order"),
    ("anon", "scatter"),
];

/// Where a `Layout`'s untouched slot starts.
const UNTOUCHED_GPA: u64 = 4 * GIB;

/// The size of the 1 TiB guest's untouched memslot: with the touched ones
/// below 4 GiB it ends at 1 TiB, the most guest memory KVM takes under
/// TCG (40 physical address bits).
const BIG_UNTOUCHED: u64 = 1020 * GIB;

impl Layout {
    /// Guest memory in all.
    fn size(&self) -> u64 {
        self.untouched + TOUCHED.len() as u64 * self.touched
    }

    /// gfn-vmm's arguments for this guest.
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (i, (backing, touch)) in TOUCHED.iter().enumerate() {
            let gpa = i as u64 * self.touched;
            args.push("--slot".into());
            args.push(format!("{backing}:{}K@{gpa:#x}", self.touched >> 10));
            args.push("--touch".into());
            args.push(format!("{gpa:#x}={touch}"));
        }
        args.extend(untouched_slot(self.untouched));
        args
    }
}

/// gfn-vmm's arguments for an untouched anonymous slot of `size` bytes.
fn untouched_slot(size: u64) -> Vec<String> {
    vec![
        "--slot".into(),
        format!("anon:{}K@{UNTOUCHED_GPA:#x}", size >> 10),
        "--touch".into(),
        format!("{UNTOUCHED_GPA:#x}=none"),
    ]
}

/// A size for people: GiB or MiB.
fn size(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// A number from `/proc/meminfo` (kB for sizes).
fn meminfo(key: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/meminfo"))
}

/// The 2 MiB hugetlb pool's files.
const HUGE_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";

fn huge_2m(file: &str) -> Result<u64, String> {
    let path = format!("{HUGE_2M}/{file}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.trim().parse().map_err(|e| format!("{path}: {e}"))
}

fn set_huge_2m(pages: u64) -> Result<(), String> {
    let path = format!("{HUGE_2M}/nr_hugepages");
    std::fs::write(&path, pages.to_string()).map_err(|e| format!("{path}: {e}"))
}

/// Memory the guest keeps free of the 1 TiB guest's touched memory: for
/// the kernel, the tools and the module.
const SPARE: u64 = GIB;

/// How much of each backing the 1 TiB guest can touch, and the memory
/// available: the 1 GiB does not fit (4 GiB of the test guest's
/// 6 GiB, of which a 1 GiB hugetlb page, 256 MiB of emulated pmem and
/// 400 MiB of 2 MiB hugetlb pages are set aside at boot), so the most of
/// 512 MiB and less that leaves `SPARE` of the memory available.  Hugetlb
/// pages come from the pool where it has them free, else the pool grows by
/// what is missing.
fn touched_size() -> Result<(u64, u64), String> {
    let avail = meminfo("MemAvailable")? << 10;
    let free_huge = huge_2m("free_hugepages")? * 2 * MIB;
    [512 * MIB, 256 * MIB, 128 * MIB, 64 * MIB]
        .into_iter()
        .find(|&s| 3 * s + s.saturating_sub(free_huge) + SPARE <= avail)
        .map(|s| (s, avail))
        .ok_or_else(|| format!("only {} available", size(avail)))
}

/// Makes sure the 2 MiB hugetlb pool has `bytes` of free pages; returns
/// its size before, to restore.
fn hugetlb_pool(bytes: u64) -> Result<u64, String> {
    let (total, free) = (huge_2m("nr_hugepages")?, huge_2m("free_hugepages")?);
    let want = bytes / (2 * MIB);
    if free < want {
        set_huge_2m(total + want - free)?;
    }
    let got = huge_2m("free_hugepages")?;
    if got < want {
        let _ = set_huge_2m(total);
        return Err(format!(
            "the 2 MiB hugetlb pool has {got} pages free, {want} needed"
        ));
    }
    Ok(total)
}

/// The `gfn_test` commands timed on each guest.
const TOOLS: [(&str, &[&str]); 3] = [
    ("gfn_test map", &["map"]),
    ("gfn_test map --json", &["map", "--json"]),
    ("gfn_test stats", &["stats"]),
];

/// Runs each of `TOOLS` on the VM of `pid`.
fn tools_on(pid: u32) -> Result<Vec<Run>, String> {
    let pid = pid.to_string();
    TOOLS
        .iter()
        .map(|(_, args)| run_tool(&[args, &["--pid", &pid][..]].concat()))
        .collect()
}

/// What `gfn_test stats` says of the VM of `pid`: that the guest has the
/// memory it should.
fn stats_of(pid: u32) -> Result<String, String> {
    let (ok, text) = module::output("/bin/gfn_test", &["stats", "--pid", &pid.to_string()])?;
    Ok(if ok {
        text
    } else {
        text + "(gfn_test stats failed)\n"
    })
}

/// Starts the VMM of the 1 TiB guest.  Before it, gfn-vmm is tried with
/// the untouched slot alone (quick: nothing to fault in), its error kept:
/// where KVM or the VMM refuses a size, half of it is tried.
fn start_big(touched: u64) -> Result<(Vmm, Layout), String> {
    let mut untouched = BIG_UNTOUCHED;
    loop {
        let probe = Command::new("/bin/gfn-vmm")
            .args(untouched_slot(untouched))
            .arg("--exit")
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("gfn-vmm: {e}"))?;
        if probe.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&probe.stderr);
        println!(
            "BENCH gfn-vmm refused an untouched slot of {}: {}",
            size(untouched),
            err.trim()
        );
        untouched /= 2;
        if untouched < GIB {
            return Err("no untouched slot of 1 GiB or more".into());
        }
    }
    let layout = Layout { untouched, touched };
    let args = layout.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok((Vmm::start(&args)?, layout))
}

/// Peak memory of `gfn_test` on the 1 TiB guest, as a ratio to that on
/// the small one, that counts as independent of the guest's size.
const RSS_GOAL: f64 = 1.5;

/// `gfn_test` on the 1 TiB guest and on a small one of the same make:
/// wall time and peak resident memory, which must not grow with the guest.
pub(super) fn big_guest() -> Result<(), String> {
    let small = Layout {
        untouched: 64 * MIB,
        touched: 16 * MIB,
    };
    let vmm = Vmm::start(&small.args().iter().map(String::as_str).collect::<Vec<_>>())?;
    let small_runs = tools_on(vmm.pid)?;
    vmm.stop()?;
    let floor = run_tool(&["--version"])?;
    let (touched, avail) = touched_size()?;
    let pool = hugetlb_pool(touched)?;
    let big = start_big(touched).and_then(|(vmm, layout)| {
        let runs = tools_on(vmm.pid);
        let stats = stats_of(vmm.pid);
        vmm.stop()?;
        Ok((layout, runs?, stats?))
    });
    set_huge_2m(pool)?;
    let (layout, big_runs, stats) = big?;
    println!("BENCH gfn_test: wall time, and peak resident memory (its VmHWM as it exits)");
    println!("BENCH big:   {}", describe(&layout));
    println!(
        "BENCH         ({} touched per backing rather than 1 GiB: 4 GiB does not fit beside what \
         the 6 GiB test guest sets aside; {} was available)",
        size(layout.touched),
        size(avail)
    );
    for line in stats.lines() {
        println!("BENCH         | {line}");
    }
    println!("BENCH small: {}", describe(&small));
    print_tool_table(&floor, &big_runs, &small_runs);
    Ok(())
}

/// What a guest of `layout` holds.
fn describe(layout: &Layout) -> String {
    format!(
        "{} guest: {} untouched anon + {} each of thp, hugetlb 2M, anon in order, anon scattered",
        size(layout.size()),
        size(layout.untouched),
        size(layout.touched)
    )
}

/// The runs of `TOOLS` on the big and the small guest, side by side.
fn print_tool_table(floor: &Run, big: &[Run], small: &[Run]) {
    println!(
        "BENCH {:<22} {:>9} {:>12} {:>9} {:>12} {:>8}  goal: memory independent of guest size",
        "command", "big", "peak RSS", "small", "peak RSS", "RSS big/small"
    );
    println!(
        "BENCH {:<22} {:>7.2} s {:>8} KiB  (the least gfn_test takes)",
        "gfn_test --version", floor.secs, floor.max_rss_kib
    );
    let status = |r: &Run| {
        if r.status == "exit 0" {
            String::new()
        } else {
            format!(" ({})", r.status)
        }
    };
    for (((what, _), b), s) in TOOLS.iter().zip(big).zip(small) {
        let ratio = b.max_rss_kib as f64 / s.max_rss_kib.max(1) as f64;
        println!(
            "BENCH {what:<22} {:>7.2} s {:>8} KiB {:>7.2} s {:>8} KiB {ratio:>8.2}x  <={RSS_GOAL}x {}{}{}",
            b.secs,
            b.max_rss_kib,
            s.secs,
            s.max_rss_kib,
            met(ratio, RSS_GOAL),
            status(b),
            status(s),
        );
    }
}
