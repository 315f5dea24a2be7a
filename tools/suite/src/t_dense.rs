// SPDX-License-Identifier: GPL-2.0
//! Dense maps of base pages: runs whose host frames step down as well as
//! up, and frame lists for pages whose frames have no order, checked page
//! by page against pagemap, with the runs counted by an oracle that reads
//! frames from pagemap, kinds from kpageflags and nodes from move_pages.

use crate::check::ensure;
use crate::module;
use crate::oracle;
use crate::pages::{check_slot, pages_of, per_page};
use crate::t_format::ask_bin;
use crate::vmm::{Slot, Vmm};
use gfn_client::pagemap;
use gfn_proto::list::{parse_item, Item};
use gfn_proto::reply::{Kind, Reply, Step};
use std::io::{Read, Write};

/// The raw reply of `request` on a fresh open file.
fn raw(request: &str) -> Result<Vec<u8>, String> {
    let mut f = module::open().map_err(|e| format!("open: {e}"))?;
    f.write_all(request.as_bytes())
        .map_err(|e| format!("{request:?}: {e}"))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| format!("{request:?}: read: {e}"))?;
    Ok(bytes)
}

/// One page as the oracle sees it: its frame, and the facts a run keeps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Seen {
    pfn: u64,
    kind: Kind,
    node: i32,
}

/// Every page of `slot` (all present) as pagemap, kpageflags and
/// move_pages see it.
fn seen(vmm: &Vmm, slot: &Slot) -> Result<Vec<Seen>, String> {
    let n = (slot.size / 4096) as usize;
    let entries = pagemap::entries(vmm.pid, slot.hva, n).map_err(|e| format!("pagemap: {e}"))?;
    let addrs: Vec<u64> = (0..n as u64).map(|i| slot.hva + i * 4096).collect();
    let nodes = oracle::nodes(vmm.pid, &addrs)?;
    let mut out = Vec::with_capacity(n);
    for (i, e) in entries.iter().enumerate() {
        ensure(e.present, || format!("page {i} of the slot is not present"))?;
        out.push(Seen {
            pfn: e.pfn,
            kind: oracle::kind(e.pfn)?,
            node: nodes[i],
        });
    }
    Ok(out)
}

/// How many runs `pages` make by the rule the README states: a page joins
/// the run before it when it has the run's kind and node and its frame is
/// one above the run's last (or one below), the way the run goes once it
/// has two pages.
fn oracle_runs(pages: &[Seen]) -> usize {
    let mut runs = 0;
    let mut run: Option<(Seen, usize, i64)> = None; // (last page, pages, step)
    for &p in pages {
        run = match run {
            Some((last, n, step)) if (last.kind, last.node) == (p.kind, p.node) => {
                let d = p.pfn as i64 - last.pfn as i64;
                if d.abs() == 1 && (n == 1 || d == step) {
                    Some((p, n + 1, d))
                } else {
                    runs += 1;
                    Some((p, 1, 0))
                }
            }
            _ => {
                runs += 1;
                Some((p, 1, 0))
            }
        };
    }
    runs
}

/// How many runs the module's dense text reply `text` tells: one per `ok`
/// line, and for a frame list, the runs its pages make by the oracle's rule
/// (a list holds short runs page by page).  Also counts the runs that step
/// down and the pages in lists.
fn told_runs(text: &str, seen: &[Seen], base_gfn: u64) -> Result<(usize, usize, u64), String> {
    let (mut runs, mut down, mut listed) = (0, 0, 0);
    for line in text.lines() {
        match parse_item(line).map_err(|e| format!("{line:?}: {e:?}"))? {
            Item::Reply(Reply::Ok(t)) => {
                runs += 1;
                down += usize::from(t.step == Step::Down);
            }
            Item::List(l) => {
                let first = (l.head.gpa >> 12) - base_gfn;
                let pages = seen
                    .get(first as usize..(first + l.len()) as usize)
                    .ok_or("a list outside the slot")?;
                runs += oracle_runs(pages);
                listed += l.len();
            }
            Item::Reply(r) => return Err(format!("unexpected {r}")),
        }
    }
    Ok((runs, down, listed))
}

/// Base pages the guest faulted in in address order: the text map tells
/// every page with pagemap's frame, and exactly as many runs as the oracle
/// counts, whichever way the host's allocator handed the frames out (run
/// by run: a run that misses a page that goes on, either way, is one too
/// many; a run that takes one that does not is caught page by page).  The
/// records and `runs=plain` tell the same pages; plain runs never step
/// down and make no lists.
pub fn runs_step_either_way() -> Result<(), String> {
    // Frames come back the way they were freed, last first, when the
    // next pages are faulted in on the same CPU: free memory this thread
    // touched in order, and the VMM (inheriting the CPU) mostly gets its
    // frames in descending order, as guests faulting in order on a busy
    // host do.  Mostly: what else allocates meanwhile takes some, so a VM
    // whose runs all went up is checked as well and another tried.
    crate::cpus::pin(0)?;
    for _ in 0..3 {
        crate::cpus::recycle(8 << 20);
        if in_order_vm()? > 0 {
            return Ok(());
        }
    }
    Err("three VMs and no run stepped down: frames did not come back last freed first".into())
}

/// One VM of base pages faulted in in order, checked; returns how many of
/// its runs step down.
fn in_order_vm() -> Result<usize, String> {
    let vmm = Vmm::start(&["--slot", "anon:8M@0x40000000"])?;
    let (pid, slot) = (vmm.pid, &vmm.slots[0]);
    let request = format!("{:#x}+2048 pid={pid}", slot.gpa);
    let seen = seen(&vmm, slot)?;
    let text = String::from_utf8(raw(&request)?).map_err(|e| e.to_string())?;
    let dense = module::parse_replies(&text)?;
    check_slot(&vmm, slot, &per_page(&dense)?)?;
    let want = oracle_runs(&seen);
    let (runs, down, listed) = told_runs(&text, &seen, slot.gpa >> 12)?;
    ensure(runs == want, || {
        format!("{runs} runs told, the oracle counts {want}:\n{text}")
    })?;
    let bin = ask_bin(&format!("{request} format=bin"))?;
    ensure(pages_of(&bin) == pages_of(&dense), || {
        "records and text tell other pages".to_string()
    })?;
    let plain_text =
        String::from_utf8(raw(&format!("{request} runs=plain"))?).map_err(|e| e.to_string())?;
    ensure(
        !plain_text.contains("step=") && !plain_text.contains("list "),
        || format!("runs=plain stepped down or listed:\n{plain_text}"),
    )?;
    let plain = module::parse_replies(&plain_text)?;
    ensure(pages_of(&plain) == pages_of(&dense), || {
        "runs=plain tells other pages".to_string()
    })?;
    println!(
        "     2048 pages: {runs} runs ({down} stepping down, {listed} pages in lists), \
         {} lines dense, {} plain; {} bytes dense, {} plain",
        text.lines().count(),
        plain_text.lines().count(),
        text.len(),
        plain_text.len()
    );
    vmm.stop()?;
    Ok(down)
}

/// Base pages touched in random order (no two neighbours on neighbouring
/// frames): the map's pages go into frame lists, so records cost about
/// pagemap's 8 bytes a page and text about 8 (the old one-record-per-run
/// form cost 48 and about 126); every page is pagemap's, in text, in
/// records and in `runs=plain`, which tell the same pages.
pub fn lists_cost_a_frame_a_page() -> Result<(), String> {
    let vmm = Vmm::start(&["--scatter", "--slot", "anon:8M@0x40000000"])?;
    let (pid, slot) = (vmm.pid, &vmm.slots[0]);
    let pages = slot.size / 4096;
    let request = format!("all pid={pid}");
    let bin_bytes = raw(&format!("{request} format=bin"))?;
    let bin = module::decode_replies(&bin_bytes)?;
    check_slot(&vmm, slot, &per_page(&bin)?)?;
    let text_bytes = raw(&request)?;
    let text =
        module::parse_replies(&String::from_utf8(text_bytes.clone()).map_err(|e| e.to_string())?)?;
    ensure(pages_of(&text) == pages_of(&bin), || {
        "text and records of the same walk tell other pages".to_string()
    })?;
    let plain_bytes = raw(&format!("{request} format=bin runs=plain"))?;
    let plain = module::decode_replies(&plain_bytes)?;
    ensure(pages_of(&plain) == pages_of(&bin), || {
        "runs=plain tells other pages".to_string()
    })?;
    let per_page = |b: &[u8]| b.len() as f64 / pages as f64;
    ensure(
        per_page(&bin_bytes) <= 9.0 && per_page(&text_bytes) <= 9.0,
        || {
            format!(
                "{:.1} bytes a page in records, {:.1} in text: not lists",
                per_page(&bin_bytes),
                per_page(&text_bytes)
            )
        },
    )?;
    println!(
        "     {pages} scattered pages: {:.1} bytes a page in records ({:.1} plain), {:.1} in text",
        per_page(&bin_bytes),
        per_page(&plain_bytes),
        per_page(&text_bytes)
    );
    vmm.stop()
}
