// SPDX-License-Identifier: GPL-2.0
//! `guest-suite --bench`: what a translation costs, against the kernel's
//! own page walk, measured in one run so that ratios hold on a noisy host.
//! Not a test: it prints a table and fails only if something errs.
//!
//! Memory: one VM per backing, each with one 64 MiB memslot (16384 pages):
//! THP, hugetlb (2 MiB), base pages faulted in in address order, base pages
//! faulted in in a random order (no two neighbours on neighbouring frames,
//! so no runs merge), and untouched memory.  Each is mapped as text and as
//! binary records and compared with one bulk pagemap read of the same
//! memory.  Each measurement is taken `ROUNDS` times and the median kept;
//! each round lasts at least `ROUND_SECS`, as the guest's clock may tick
//! coarsely.

use crate::module;
use crate::vmm::Vmm;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const ROUNDS: usize = 5;
const ROUND_SECS: f64 = 0.3;
const PAGES: u64 = 16384;
const SINGLES: u64 = 1000;

/// Median of `f`'s result in seconds over `ROUNDS` runs.
fn median(f: &mut dyn FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut v = (0..ROUNDS)
        .map(|_| f())
        .collect::<Result<Vec<f64>, String>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[ROUNDS / 2])
}

fn timed(f: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed().as_secs_f64())
}

/// One bulk read of the slot's pagemap entries.
fn pagemap_bulk(pid: u32, hva: u64) -> Result<f64, String> {
    let f = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; PAGES as usize * 8];
    timed(|| {
        f.read_exact_at(&mut buf, (hva >> 12) * 8)
            .map_err(|e| e.to_string())
    })
}

/// One 8-byte pread of pagemap per page, as QEMU's gpa2hpa does.
fn pagemap_each(pid: u32, hva: u64) -> Result<f64, String> {
    let f = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 8];
    timed(|| {
        for i in 0..PAGES {
            f.read_exact_at(&mut buf, ((hva >> 12) + i) * 8)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One request, its whole text reply read; returns (seconds, bytes).
fn module_map(request: &str) -> Result<(f64, usize), String> {
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0;
    let secs = timed(|| {
        let mut f = module::open().map_err(|e| e.to_string())?;
        f.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        loop {
            let n = f.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(());
            }
            bytes += n;
        }
    })?;
    Ok((secs, bytes))
}

/// The seed's protocol: open, write one address, read, close, per address.
fn seed_protocol(pid: u32, gpa: u64) -> Result<f64, String> {
    let mut buf = [0u8; 512];
    timed(|| {
        for i in 0..SINGLES {
            let mut f = module::open().map_err(|e| e.to_string())?;
            let req = format!("{:#x} {pid}", gpa + (i % PAGES) * 4096);
            f.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            let _ = f.read(&mut buf).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One open file: write one address, pread the reply, per address.
fn one_file(pid: u32, gpa: u64) -> Result<f64, String> {
    let mut buf = [0u8; 512];
    let mut f = module::open().map_err(|e| e.to_string())?;
    timed(|| {
        for i in 0..SINGLES {
            let req = format!("{:#x} {pid}", gpa + (i % PAGES) * 4096);
            f.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            let _ = f.read_at(&mut buf, 0).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Reading a 4 MiB tmpfs file in 64 KiB reads: what moving one byte from
/// the kernel to user space costs on this machine, in seconds per byte
/// (under TCG, `rep movsb` runs a byte at a time, so replies cost by size).
fn copy_cost() -> Result<f64, String> {
    let path = "/tmp/bench-copy";
    std::fs::write(path, vec![7u8; 4 << 20]).map_err(|e| format!("{path}: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    let secs = median(&mut || {
        let f = File::open(path).map_err(|e| e.to_string())?;
        timed(|| {
            let mut at = 0;
            while at < 4 << 20 {
                at += f.read_at(&mut buf, at as u64).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    })?;
    let _ = std::fs::remove_file(path);
    Ok(secs / f64::from(4u32 << 20))
}

/// The goals, as (text, records) ratio limits per backing.
fn goals(backing: &str) -> (f64, f64) {
    match backing {
        "base pages, scattered" => (4.0, 1.5),
        "untouched" => (2.0, 0.2),
        _ => (2.0, 1.5),
    }
}

pub fn run(ko: &str) -> Result<(), String> {
    module::insmod(ko)?;
    let gpa = 0x4000_0000u64;
    let slot = |b: &str| format!("{b}:64M@0x40000000");
    let backings = [
        ("THP", vec!["--slot".to_string(), slot("thp")]),
        ("hugetlb 2M", vec!["--slot".to_string(), slot("hugetlb")]),
        (
            "base pages, in order",
            vec!["--slot".to_string(), slot("anon")],
        ),
        (
            "base pages, scattered",
            vec!["--scatter".to_string(), "--slot".to_string(), slot("anon")],
        ),
        (
            "untouched",
            vec!["--no-touch".to_string(), "--slot".to_string(), slot("anon")],
        ),
    ];
    let ns = |s: f64, n: u64| s * 1e9 / n as f64;
    println!(
        "BENCH {PAGES} pages (64 MiB) per VM; medians of {ROUNDS} rounds of {ROUND_SECS} s; \
         ns per page, and the ratio to one bulk pagemap read of the same memory"
    );
    println!(
        "BENCH {:<22} {:>9} {:>17} {:>17}  goal text/bin",
        "backing", "pagemap", "text map", "binary map"
    );
    let mut thp = None;
    let mut searches = Vec::new();
    for (name, args) in &backings {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let vmm = Vmm::start(&args)?;
        let (pid, hva) = (vmm.pid, vmm.slots[0].hva);
        let range = format!("{gpa:#x}+{PAGES} pid={pid}");
        let bulk = median(&mut || pagemap_bulk(pid, hva))?;
        let mut text_bytes = 0;
        let text = median(&mut || {
            let (s, b) = module_map(&range)?;
            text_bytes = b;
            Ok(s)
        })?;
        let mut bin_bytes = 0;
        let bin = median(&mut || {
            let (s, b) = module_map(&format!("{range} format=bin"))?;
            bin_bytes = b;
            Ok(s)
        })?;
        // hpa= of one frame in this VM only: a search of its whole memory.
        let search = median(&mut || {
            module_map(&format!("hpa=0x1000 pid={pid} format=bin")).map(|(s, _)| s)
        })?;
        searches.push((*name, search));
        let (goal_text, goal_bin) = goals(name);
        let met = |r: f64, g: f64| if r <= g { "met" } else { "MISSED" };
        println!(
            "BENCH {name:<22} {:>6.0} ns {:>6.0} ns {:>6.2}x {:>6.0} ns {:>6.2}x  \
             <={goal_text}x {} / <={goal_bin}x {}  ({text_bytes} / {bin_bytes} bytes)",
            ns(bulk, PAGES),
            ns(text, PAGES),
            text / bulk,
            ns(bin, PAGES),
            bin / bulk,
            met(text / bulk, goal_text),
            met(bin / bulk, goal_bin),
        );
        if *name == "THP" {
            thp = Some((vmm, bulk));
        } else {
            vmm.stop()?;
        }
    }
    for (name, secs) in &searches {
        println!(
            "BENCH hpa= search, {name:<22} {:>6.0} ns per guest page, {:>6.0} ms per GiB searched",
            ns(*secs, PAGES),
            secs * 1e3 * f64::from(1u32 << 30) / (PAGES * 4096) as f64
        );
    }
    let per_byte = copy_cost()?;
    println!(
        "BENCH copying to user space costs {:.1} ns per byte here (a tmpfs file read): \
         {:.0} ns for pagemap's 8 bytes per page, {:.0} ns per 48-byte record",
        per_byte * 1e9,
        per_byte * 8e9,
        per_byte * 48e9
    );
    let (vmm, bulk) = thp.ok_or("no THP VM")?;
    let (tp, th) = (vmm.pid, vmm.slots[0].hva);
    let range = format!("{gpa:#x}+{PAGES} pid={tp}");
    let each = median(&mut || pagemap_each(tp, th))?;
    let all = median(&mut || module_map(&format!("all pid={tp}")).map(|(s, _)| s))?;
    let all_bin = median(&mut || module_map(&format!("all pid={tp} format=bin")).map(|(s, _)| s))?;
    let fault = median(&mut || module_map(&format!("{range} mode=fault")).map(|(s, _)| s))?;
    let seed = median(&mut || seed_protocol(tp, gpa))?;
    let single = median(&mut || one_file(tp, gpa))?;
    let row = |what: &str, per: f64, unit: &str, ratio: f64, of: &str| {
        println!("BENCH {what:<44} {per:>9.0} ns/{unit:<5} {ratio:>7.2}x {of}");
    };
    row(
        "pagemap, one pread per page (gpa2hpa), THP",
        ns(each, PAGES),
        "page",
        each / bulk,
        "pagemap bulk",
    );
    row(
        "`all` (whole VM), text, THP",
        ns(all, PAGES),
        "page",
        all / bulk,
        "pagemap bulk",
    );
    row(
        "`all` (whole VM), binary, THP",
        ns(all_bin, PAGES),
        "page",
        all_bin / bulk,
        "pagemap bulk",
    );
    row(
        "range map, mode=fault, THP",
        ns(fault, PAGES),
        "page",
        fault / bulk,
        "pagemap bulk",
    );
    row(
        "seed protocol: open+write+read+close",
        ns(seed, SINGLES),
        "addr",
        1.0,
        "seed protocol",
    );
    row(
        "one open file: write+pread per address",
        ns(single, SINGLES),
        "addr",
        single / seed,
        "seed protocol (goal <=0.5x)",
    );
    vmm.stop()
}
