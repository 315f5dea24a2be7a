// SPDX-License-Identifier: GPL-2.0
//! `guest-suite --bench`: what a translation costs, against the kernel's
//! own page walk, measured in one run so that ratios hold on a noisy host.
//! Not a test: it prints a table and fails only if something errs.
//!
//! Memory: one VM per backing, each with one 64 MiB memslot (16384 pages):
//! THP, hugetlb (2 MiB), base pages faulted in in address order, base pages
//! faulted in in a random order (no two neighbours on neighbouring frames,
//! so no runs merge), and untouched memory.  Each is mapped as text and as
//! binary records, dense (the default) and `runs=plain` (the old format,
//! for comparison), and compared with one bulk pagemap read of the same
//! memory.  Each measurement is taken in `ROUNDS` rounds, each repeating it
//! for at least `ROUND_SECS` (one map of 64 MiB takes from tens of
//! microseconds to tens of milliseconds, and the guest's clock may tick
//! coarsely), and the median of the rounds kept, figure by figure.  The
//! THP and hugetlb VMs then answer single addresses, one open file against
//! the seed's protocol (open, write, read, close per address).
//!
//! Where a map's time goes, without changing the module: a read that
//! produces a chunk walks, encodes and copies it out; reading the same
//! bytes again at the same position only copies them (the open file keeps
//! its current chunk, `tools/proto/src/window.rs`).  So copy-out is the
//! time of those second reads, walk plus encoding the rest, and the walk
//! alone that of an `hpa=` search of the same VM: the same page walk, with
//! nothing matched and nothing output.
//!
//! Then `gfn_test` on a guest of about 1 TiB (`BIG_UNTOUCHED` never
//! touched, plus some memory touched in each backing), and on a small guest
//! of the same make: wall time and peak memory, which must not grow with
//! the guest.
//!
//! The micro-benchmarks are here; what one request costs, piece by piece,
//! in `bench/request.rs`; the 1 TiB guest in `bench/big.rs`, and how a
//! tool's peak memory is taken in `bench/peak.rs`.
//!
//! `guest-suite --bench KO WORDS` (`GFN_FILTER=WORDS make bench`) measures
//! only the backings whose names contain one of the comma-separated words,
//! and `requests`, `singles` (single addresses) and `big` (the 1 TiB
//! guest) when named: for a quick look at one row, not for the tables.

mod big;
mod peak;
pub mod profile;
mod request;

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
/// A read buffer that takes a whole chunk of reply (64 KiB, and up to a
/// batch of lines more) in one read.
const READ_BUF: usize = 1 << 18;
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// What one measured operation cost: seconds in all, seconds of them spent
/// copying the reply out (0 where not measured), and bytes of reply.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    secs: f64,
    copy: f64,
    bytes: f64,
}

impl Cost {
    fn secs(secs: f64) -> Cost {
        Cost {
            secs,
            ..Cost::default()
        }
    }
}

/// Median over `ROUNDS` rounds of `f`'s cost, each field on its own; each
/// round repeats `f` for at least `ROUND_SECS` and averages.
fn median(f: &mut dyn FnMut() -> Result<Cost, String>) -> Result<Cost, String> {
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let (mut sum, mut n) = (Cost::default(), 0.0);
        while n == 0.0 || start.elapsed().as_secs_f64() < ROUND_SECS {
            let c = f()?;
            sum.secs += c.secs;
            sum.copy += c.copy;
            sum.bytes += c.bytes;
            n += 1.0;
        }
        rounds.push(Cost {
            secs: sum.secs / n,
            copy: sum.copy / n,
            bytes: sum.bytes / n,
        });
    }
    let mid = |field: fn(&Cost) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(field).collect();
        v.sort_by(f64::total_cmp);
        v[ROUNDS / 2]
    };
    Ok(Cost {
        secs: mid(|c| c.secs),
        copy: mid(|c| c.copy),
        bytes: mid(|c| c.bytes),
    })
}

/// Rounds of [`paired`]: the single-address rows are the noisiest of the
/// table, and their ratio is what the goal is about.
const PAIRED_ROUNDS: usize = 15;

/// `a` and `b` measured in turn, a round of at least `ROUND_SECS` each, for
/// `PAIRED_ROUNDS` rounds: the median seconds of each, and the median of
/// the rounds' ratios `b / a`, so that what the machine does meanwhile
/// weighs on both sides of each ratio alike.
fn paired(
    a: &mut dyn FnMut() -> Result<Cost, String>,
    b: &mut dyn FnMut() -> Result<Cost, String>,
) -> Result<(f64, f64, f64), String> {
    let round = |f: &mut dyn FnMut() -> Result<Cost, String>| -> Result<f64, String> {
        let start = Instant::now();
        let (mut sum, mut n) = (0.0, 0.0);
        while n == 0.0 || start.elapsed().as_secs_f64() < ROUND_SECS {
            sum += f()?.secs;
            n += 1.0;
        }
        Ok(sum / n)
    };
    let (mut va, mut vb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIRED_ROUNDS {
        let (x, y) = (round(a)?, round(b)?);
        va.push(x);
        vb.push(y);
        ratios.push(y / x);
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((mid(va), mid(vb), mid(ratios)))
}

fn timed(f: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed().as_secs_f64())
}

/// One bulk read of the slot's pagemap entries.
fn pagemap_bulk(pid: u32, hva: u64) -> Result<Cost, String> {
    let f = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; PAGES as usize * 8];
    let secs = timed(|| {
        f.read_exact_at(&mut buf, (hva >> 12) * 8)
            .map_err(|e| e.to_string())
    })?;
    Ok(Cost {
        secs,
        copy: 0.0,
        bytes: buf.len() as f64,
    })
}

/// One 8-byte pread of pagemap per page, as QEMU's gpa2hpa does.
fn pagemap_each(pid: u32, hva: u64) -> Result<Cost, String> {
    let f = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 8];
    timed(|| {
        for i in 0..PAGES {
            f.read_exact_at(&mut buf, ((hva >> 12) + i) * 8)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .map(Cost::secs)
}

/// One request on a fresh file, its whole reply read, each read followed
/// by a second read of the same bytes at the same position, which only
/// copies them out.  `secs` is the write and the first reads (open and
/// close not counted, as for pagemap), `copy` the second reads.
fn map_split(request: &str) -> Result<Cost, String> {
    let mut buf = vec![0u8; READ_BUF];
    let mut f = module::open().map_err(|e| e.to_string())?;
    let mut cost = Cost::default();
    let start = Instant::now();
    f.write_all(request.as_bytes())
        .map_err(|e| format!("{request:?}: {e}"))?;
    cost.secs += start.elapsed().as_secs_f64();
    let mut pos = 0u64;
    loop {
        let first = Instant::now();
        let n = f.read(&mut buf).map_err(|e| format!("{request:?}: {e}"))?;
        let again = Instant::now();
        if n == 0 {
            cost.secs += again.duration_since(first).as_secs_f64();
            return Ok(cost);
        }
        let m = f
            .read_at(&mut buf[..n], pos)
            .map_err(|e| format!("{request:?}: re-read at {pos}: {e}"))?;
        if m != n {
            return Err(format!(
                "{request:?}: re-read at {pos} gave {m} of {n} bytes"
            ));
        }
        cost.secs += again.duration_since(first).as_secs_f64();
        cost.copy += again.elapsed().as_secs_f64();
        cost.bytes += n as f64;
        pos += n as u64;
    }
}

/// One request on a fresh file, its whole reply read (open and close
/// counted): for the rows that need no split.
fn module_map(request: &str) -> Result<Cost, String> {
    let mut buf = vec![0u8; READ_BUF];
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
    Ok(Cost {
        secs,
        copy: 0.0,
        bytes: bytes as f64,
    })
}

/// The seed's protocol: open, write one address, read, close, per address.
fn seed_protocol(requests: &Requests) -> Result<Cost, String> {
    let mut buf = [0u8; 512];
    timed(|| {
        for i in 0..SINGLES {
            let mut f = module::open().map_err(|e| e.to_string())?;
            f.write_all(requests.get(i).as_bytes())
                .map_err(|e| e.to_string())?;
            let _ = f.read(&mut buf).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .map(Cost::secs)
}

/// One open file: write one address, pread the reply, per address.
fn one_file(requests: &Requests) -> Result<Cost, String> {
    let mut buf = [0u8; 512];
    let mut f = module::open().map_err(|e| e.to_string())?;
    timed(|| {
        for i in 0..SINGLES {
            f.write_all(requests.get(i).as_bytes())
                .map_err(|e| e.to_string())?;
            let _ = f.read_at(&mut buf, 0).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .map(Cost::secs)
}

/// The `SINGLES` requests of single addresses both ways of asking send,
/// one page apart in the slot at `GPA` of the VM of VMM `pid`: written
/// before either way is timed (`Ready`), so that both time the asking; or
/// as each is sent (`Formatted`, with `format!`, as the rows before issue
/// 33's last change did), for comparison.
enum Requests {
    Ready(Vec<String>),
    Formatted(u32),
}

impl Requests {
    fn text(pid: u32, i: u64) -> String {
        format!("{:#x} {pid}", GPA + (i % PAGES) * 4096)
    }

    fn ready(pid: u32) -> Requests {
        Requests::Ready((0..SINGLES).map(|i| Requests::text(pid, i)).collect())
    }

    fn get(&self, i: u64) -> std::borrow::Cow<'_, str> {
        match self {
            Requests::Ready(all) => all[i as usize].as_str().into(),
            Requests::Formatted(pid) => Requests::text(*pid, i).into(),
        }
    }
}

/// Reading a 4 MiB tmpfs file in 64 KiB reads: what moving one byte from
/// the kernel to user space costs on this machine, in seconds per byte
/// (under TCG, `rep movsb` runs a byte at a time, so replies cost by size).
fn copy_cost() -> Result<f64, String> {
    let path = "/tmp/bench-copy";
    std::fs::write(path, vec![7u8; 4 << 20]).map_err(|e| format!("{path}: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    let cost = median(&mut || {
        let f = File::open(path).map_err(|e| e.to_string())?;
        timed(|| {
            let mut at = 0;
            while at < 4 << 20 {
                at += f.read_at(&mut buf, at as u64).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .map(Cost::secs)
    })?;
    let _ = std::fs::remove_file(path);
    Ok(cost.secs / f64::from(4u32 << 20))
}

/// The goals (issue 33), as (text, records) limits of a dense map's time
/// as a ratio to one bulk pagemap read, per backing: base pages in records
/// no dearer than pagemap, which tells less; in text 1.5x, 3x scattered
/// (hex frames are wider); huge pages and untouched memory a fifth.
fn goals(backing: &str) -> (f64, f64) {
    match backing {
        "base pages, scattered" => (3.0, 1.0),
        "base pages, in order" | "base pages, descending" => (1.5, 1.0),
        _ => (0.2, 0.2),
    }
}

/// Single addresses on one open file, as a ratio to the seed's protocol.
const SINGLE_GOAL: f64 = 0.5;

/// Whether `ratio` meets `goal`, as the tables say it.
fn met(ratio: f64, goal: f64) -> &'static str {
    if ratio <= goal {
        "met"
    } else {
        "MISSED"
    }
}

/// Nanoseconds per guest page of the bench's 64 MiB slots.
fn ns(secs: f64) -> f64 {
    secs * 1e9 / PAGES as f64
}

/// The reply formats each backing is mapped in: name, request options,
/// and whether it is the dense format the goals are for.
const FORMATS: [(&str, &str, bool); 4] = [
    ("text", "", true),
    ("binary", " format=bin", true),
    ("text, plain", " runs=plain", false),
    ("binary, plain", " format=bin runs=plain", false),
];

/// The backings, each a VM of its own: name and gfn-vmm's arguments.
fn backings() -> Vec<(&'static str, Vec<String>)> {
    let slot = |b: &str| vec!["--slot".to_string(), format!("{b}:64M@{GPA:#x}")];
    let with = |flag: &str, b: &str| [vec![flag.to_string()], slot(b)].concat();
    vec![
        ("THP", slot("thp")),
        ("hugetlb 2M", slot("hugetlb")),
        ("base pages, in order", slot("anon")),
        // Faulted in in order on frames freed just before (see `start`):
        // mostly descending, as on a busy host.
        ("base pages, descending", slot("anon")),
        ("base pages, scattered", with("--scatter", "anon")),
        ("untouched", with("--no-touch", "anon")),
    ]
}

/// Starts the VMM of backing `name`: for descending base pages, from
/// CPU 0 right after 64 MiB touched in order there were freed, so its
/// pages, faulted in in order, mostly get those frames last freed first.
fn start(name: &str, args: &[&str]) -> Result<Vmm, String> {
    if name != "base pages, descending" {
        return Vmm::start(args);
    }
    crate::cpus::pin(0)?;
    crate::cpus::recycle(64 << 20);
    let vmm = Vmm::start(args);
    crate::cpus::unpin()?;
    vmm
}

/// Guest address of the bench's 64 MiB slots.
const GPA: u64 = 0x4000_0000;

fn print_split_header() {
    println!(
        "BENCH {PAGES} pages (64 MiB) per VM; medians of {ROUNDS} rounds of at least {ROUND_SECS} s; \
         ns per guest page, and (x) the ratio to one bulk pagemap read of the same memory"
    );
    println!(
        "BENCH walk only: an hpa= search of the VM (the same walk, nothing output); walk+encode: \
         the map's time less its copy-out; copy-out: reading the reply's bytes again; \
         total: write and reads; plain: runs=plain, the old format"
    );
    println!(
        "BENCH {:<22} {:<14} {:>16} {:>16} {:>16} {:>16} {:>7}  goal (total)",
        "backing", "format", "walk only", "walk+encode", "copy-out", "total", "B/page"
    );
}

/// One cell of the split table: ns per page and the ratio to pagemap.
fn cell(secs: f64, bulk: f64) -> String {
    format!("{:>6.0} ns {:>5.2}x", ns(secs), secs / bulk)
}

/// The split of one backing's map in one format.
fn split_row(backing: &str, format: &str, walk: f64, map: &Cost, bulk: f64, goal: &str) {
    println!(
        "BENCH {backing:<22} {format:<14} {} {} {} {} {:>7.2}  {goal}",
        cell(walk, bulk),
        cell(map.secs - map.copy, bulk),
        cell(map.copy, bulk),
        cell(map.secs, bulk),
        map.bytes / PAGES as f64,
    );
}

/// Measures one backing's VM: pagemap, the walk alone, and the map in each
/// format, printed as rows of the split table.  Returns the walk's time
/// (for the `hpa=` rows) and pagemap's.
fn bench_backing(name: &str, vmm: &Vmm) -> Result<(f64, f64), String> {
    let (pid, hva) = (vmm.pid, vmm.slots[0].hva);
    let bulk = median(&mut || pagemap_bulk(pid, hva))?;
    println!(
        "BENCH {name:<22} {:<14} {:>16} {:>16} {:>16} {} {:>7.2}",
        "pagemap bulk",
        "",
        "",
        "",
        cell(bulk.secs, bulk.secs),
        bulk.bytes / PAGES as f64
    );
    // hpa= of one frame in this VM only: a search of its whole memory.
    let walk = median(&mut || module_map(&format!("hpa=0x1000 pid={pid} format=bin")))?;
    let (goal_text, goal_bin) = goals(name);
    for (format, options, dense) in FORMATS {
        let request = format!("{GPA:#x}+{PAGES} pid={pid}{options}");
        let map = median(&mut || map_split(&request))?;
        let goal = match (dense, options.contains("bin")) {
            (false, _) => "(old format)".to_string(),
            (true, bin) => {
                let g = if bin { goal_bin } else { goal_text };
                format!("<={g}x {}", met(map.secs / bulk.secs, g))
            }
        };
        split_row(name, format, walk.secs, &map, bulk.secs, &goal);
    }
    Ok((walk.secs, bulk.secs))
}

/// The rows of one backing that has the VM to itself: single addresses
/// against the seed's protocol, and (`whole`) more ways to map it.
fn bench_more(name: &str, vmm: &Vmm, bulk: f64, whole: bool) -> Result<(), String> {
    let (pid, hva) = (vmm.pid, vmm.slots[0].hva);
    let row = |what: String, per: f64, unit: &str, ratio: f64, of: &str| {
        println!("BENCH {what:<48} {per:>9.0} ns/{unit:<5} {ratio:>7.2}x {of}");
    };
    if whole {
        let each = median(&mut || pagemap_each(pid, hva))?.secs;
        row(
            format!("pagemap, one pread per page (gpa2hpa), {name}"),
            ns(each),
            "page",
            each / bulk,
            "pagemap bulk",
        );
        for (what, options) in [
            ("`all` (whole VM), text", ""),
            ("`all` (whole VM), binary", " format=bin"),
        ] {
            let all = median(&mut || module_map(&format!("all pid={pid}{options}")))?.secs;
            row(
                format!("{what}, {name}"),
                ns(all),
                "page",
                all / bulk,
                "pagemap bulk",
            );
        }
        let range = format!("{GPA:#x}+{PAGES} pid={pid} mode=fault");
        let fault = median(&mut || module_map(&range))?.secs;
        row(
            format!("range map, mode=fault, {name}"),
            ns(fault),
            "page",
            fault / bulk,
            "pagemap bulk",
        );
    }
    let per_addr = |s: f64| s * 1e9 / SINGLES as f64;
    for (requests, how) in [
        (Requests::ready(pid), ""),
        (Requests::Formatted(pid), ", formatted as sent"),
    ] {
        let (seed, single, ratio) = paired(&mut || seed_protocol(&requests), &mut || {
            one_file(&requests)
        })?;
        row(
            format!("seed protocol: open+write+read+close{how}, {name}"),
            per_addr(seed),
            "addr",
            1.0,
            "seed protocol",
        );
        let goal = if how.is_empty() {
            format!("(goal <={SINGLE_GOAL}x) {}", met(ratio, SINGLE_GOAL))
        } else {
            "(for comparison)".to_string()
        };
        row(
            format!("one open file: write+pread per address{how}, {name}"),
            per_addr(single),
            "addr",
            ratio,
            &format!("seed protocol {goal}"),
        );
    }
    Ok(())
}

pub fn run(ko: &str, only: Option<&str>) -> Result<(), String> {
    // `only`: words (comma-separated) a backing's name or `requests`,
    // `singles`, `big` must contain to be measured; all when none.
    let wanted = |what: &str| only.is_none_or(|o| o.split(',').any(|w| what.contains(w)));
    module::insmod(ko)?;
    print_split_header();
    let mut kept = Vec::new();
    let mut searches = Vec::new();
    for (name, args) in backings() {
        if !wanted(name)
            && !(matches!(name, "hugetlb 2M" | "THP") && (wanted("requests") || wanted("singles")))
        {
            continue;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let vmm = start(name, &args)?;
        let (walk, bulk) = if wanted(name) {
            bench_backing(name, &vmm)?
        } else {
            (
                0.0,
                median(&mut || pagemap_bulk(vmm.pid, vmm.slots[0].hva))?.secs,
            )
        };
        if wanted(name) {
            searches.push((name, walk));
        }
        // THP and hugetlb stay for the rows of single addresses.
        if matches!(name, "THP" | "hugetlb 2M") {
            kept.push((name, vmm, bulk));
        } else {
            vmm.stop()?;
        }
    }
    for (name, secs) in &searches {
        println!(
            "BENCH hpa= search, {name:<22} {:>6.0} ns per guest page, {:>6.0} ms per GiB searched",
            ns(*secs),
            secs * 1e3 * GIB as f64 / (PAGES * 4096) as f64
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
    for (name, vmm, bulk) in kept {
        if name == "hugetlb 2M" && wanted("requests") {
            request::request_costs(name, vmm.pid, vmm.slots[0].hva)?;
        }
        if wanted(name) || wanted("singles") {
            bench_more(name, &vmm, bulk, name == "THP")?;
        }
        vmm.stop()?;
    }
    if wanted("big") {
        big::big_guest()?;
    }
    Ok(())
}
