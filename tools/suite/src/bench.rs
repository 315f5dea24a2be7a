//! `guest-suite --bench`: what a translation costs, against the kernel's
//! own page walk, measured in one run so that ratios hold on a noisy host.
//! Not a test: it prints a table and fails only if something errs.
//!
//! Memory: one VM with a 64 MiB THP-backed memslot (16384 pages), all
//! present, and one with 64 MiB of base pages.  Each measurement is taken
//! `ROUNDS` times and the median kept; each round repeats the operation
//! for at least `ROUND_SECS`, since the guest's clock may tick coarsely.

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

pub fn run(ko: &str) -> Result<(), String> {
    module::insmod(ko)?;
    let gpa = 0x4000_0000u64;
    let thp = Vmm::start(&["--slot", "thp:64M@0x40000000"])?;
    let base = Vmm::start(&["--slot", "anon:64M@0x40000000"])?;
    let untouched = Vmm::start(&["--no-touch", "--slot", "anon:64M@0x40000000"])?;
    let (tp, th) = (thp.pid, thp.slots[0].hva);
    let range = format!("{gpa:#x}+{PAGES} pid={tp}");
    let mut lines = 0;
    let mut base_bytes = 0;
    let bulk = median(&mut || pagemap_bulk(tp, th))?;
    let each = median(&mut || pagemap_each(tp, th))?;
    let map = median(&mut || module_map(&range).map(|(s, _)| s))?;
    let all = median(&mut || module_map(&format!("all pid={tp}")).map(|(s, _)| s))?;
    let fault = median(&mut || module_map(&format!("{range} mode=fault")).map(|(s, _)| s))?;
    let base_map = median(&mut || {
        let (s, b) = module_map(&format!("{gpa:#x}+{PAGES} pid={}", base.pid))?;
        base_bytes = b;
        Ok(s)
    })?;
    let base_bulk = median(&mut || pagemap_bulk(base.pid, base.slots[0].hva))?;
    let absent = median(&mut || {
        module_map(&format!("{gpa:#x}+{PAGES} pid={}", untouched.pid)).map(|(s, _)| s)
    })?;
    let absent_bulk = median(&mut || pagemap_bulk(untouched.pid, untouched.slots[0].hva))?;
    let seed = median(&mut || seed_protocol(tp, gpa))?;
    let single = median(&mut || one_file(tp, gpa))?;
    module_map(&range).map(|(_, b)| lines = b)?;

    let us = |s: f64, n: u64| s * 1e6 / n as f64;
    let row = |what: &str, per: f64, unit: &str, ratio: f64, of: &str| {
        println!("BENCH {what:<44} {per:>9.3} µs/{unit:<5} {ratio:>7.2}x {of}");
    };
    println!("BENCH {PAGES} pages of 64 MiB per VM; medians of {ROUNDS} rounds of {ROUND_SECS} s");
    let pb = us(bulk, PAGES);
    row(
        "pagemap, one bulk read (THP)",
        pb,
        "page",
        1.0,
        "pagemap bulk",
    );
    row(
        "pagemap, one pread per page (gpa2hpa)",
        us(each, PAGES),
        "page",
        each / bulk,
        "pagemap bulk",
    );
    row(
        "gfn_to_pfn range map, text (THP)",
        us(map, PAGES),
        "page",
        map / bulk,
        "pagemap bulk",
    );
    row(
        "gfn_to_pfn `all` (whole VM, THP)",
        us(all, PAGES),
        "page",
        all / bulk,
        "pagemap bulk",
    );
    row(
        "gfn_to_pfn range map, mode=fault (THP)",
        us(fault, PAGES),
        "page",
        fault / bulk,
        "pagemap bulk",
    );
    row(
        "pagemap, one bulk read (base pages)",
        us(base_bulk, PAGES),
        "page",
        1.0,
        "itself",
    );
    row(
        "gfn_to_pfn range map, text (base pages)",
        us(base_map, PAGES),
        "page",
        base_map / base_bulk,
        "pagemap bulk (base)",
    );
    row(
        "pagemap, one bulk read (untouched)",
        us(absent_bulk, PAGES),
        "page",
        1.0,
        "itself",
    );
    row(
        "gfn_to_pfn range map, untouched (not present)",
        us(absent, PAGES),
        "page",
        absent / absent_bulk,
        "pagemap bulk (untouched)",
    );
    row(
        "seed protocol: open+write+read+close",
        us(seed, SINGLES),
        "addr",
        1.0,
        "seed protocol",
    );
    row(
        "one open file: write+pread per address",
        us(single, SINGLES),
        "addr",
        single / seed,
        "seed protocol",
    );
    println!("BENCH reply sizes: THP range {lines} bytes, base-page range {base_bytes} bytes");
    thp.stop()?;
    base.stop()?;
    untouched.stop()
}
