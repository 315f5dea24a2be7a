// SPDX-License-Identifier: GPL-2.0
//! Allocations that fail (the kernel's `failslab` fault injection, for
//! this test's own thread only): a write or read that fails with ENOMEM is
//! tried again, and every request still gets every reply exactly once, in
//! order, and a map's summary in the kernel log counts each page once.
//! Needs the debug kernel's CONFIG_FAILSLAB: the fast kernel's suite
//! leaves it out, and without it the test fails.

use crate::check::ensure;
use crate::module::{self, log_mark, log_since, set_log};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};

const DEBUGFS: &str = "/sys/kernel/debug";
const FAILSLAB: &str = "/sys/kernel/debug/failslab";

/// Fault injection on, for the calling thread, until dropped.
struct Failing;

impl Failing {
    /// Fails about `percent` of this thread's slab allocations,
    /// GFP_KERNEL ones included.
    fn start(percent: u32) -> Result<Failing, String> {
        for (file, value) in [
            ("task-filter", "Y"),
            ("ignore-gfp-wait", "N"),
            ("cache-filter", "N"),
            ("verbose", "0"),
            ("interval", "1"),
            ("space", "0"),
            ("times", "-1"),
            ("probability", &percent.to_string()),
        ] {
            std::fs::write(format!("{FAILSLAB}/{file}"), value)
                .map_err(|e| format!("{FAILSLAB}/{file}: {e}"))?;
        }
        std::fs::write("/proc/thread-self/make-it-fail", "1")
            .map_err(|e| format!("make-it-fail: {e}"))?;
        Ok(Failing)
    }
}

impl Drop for Failing {
    fn drop(&mut self) {
        // Opening the file allocates, and so may fail too: until it works.
        for _ in 0..10_000 {
            if std::fs::write("/proc/thread-self/make-it-fail", "0").is_ok() {
                break;
            }
        }
        let _ = std::fs::write(format!("{FAILSLAB}/probability"), "0");
    }
}

/// What the calls that failed were, for the report.
#[derive(Default)]
struct Failures {
    writes: u32,
    reads: u32,
}

/// Writes `request` and reads its whole reply on `f`, each call tried
/// again while it fails with ENOMEM, with allocations failing meanwhile.
fn ask_failing(f: &mut File, request: &str, n: &mut Failures) -> Result<String, String> {
    // Room for the whole reply first: this thread's own allocations (an
    // mmap for a growing buffer) fail too while the injection is on.
    let mut text = Vec::with_capacity(4 << 20);
    let mut buf = vec![0u8; 4096];
    let _failing = Failing::start(30)?;
    loop {
        match f.write(request.as_bytes()) {
            Ok(len) if len == request.len() => break,
            Ok(len) => return Err(format!("short write of {len}")),
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => n.writes += 1,
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(len) => text.extend_from_slice(&buf[..len]),
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => n.reads += 1,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    String::from_utf8(text).map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<Vec<Reply>, String> {
    crate::module::parse_replies(text)
}

/// 4000 single addresses in four writes, and maps of scattered base pages
/// (a reply per page or two, so the reply window grows in the middle of a
/// walk), `vms` and `slots`, while about 30 % of this thread's slab
/// allocations fail.
pub fn allocation_failures_lose_nothing() -> Result<(), String> {
    if !std::path::Path::new(FAILSLAB).exists() {
        let _ = module::run("mount", &["-t", "debugfs", "none", DEBUGFS]);
    }
    ensure(std::path::Path::new(FAILSLAB).exists(), || {
        format!("no {FAILSLAB}: the kernel lacks CONFIG_FAILSLAB or debugfs")
    })?;
    let vmm = Vmm::start(&["--scatter", "--slot", "anon:16M@0x40000000"])?;
    let mut f = module::open().map_err(|e| e.to_string())?;
    let mut failed = Failures::default();

    // Single addresses, 1000 a write (16 KiB at most): each exactly once,
    // in order.
    for quarter in 0..4u64 {
        let gpas: Vec<u64> = (0..1000)
            .map(|i| 0x4000_0000 + (quarter * 1000 + i) * 4096)
            .collect();
        let request =
            gpas.iter().map(|g| format!("{g:#x} ")).collect::<String>() + &vmm.pid.to_string();
        let replies = parse(&ask_failing(&mut f, &request, &mut failed)?)?;
        let told: Vec<u64> = replies
            .iter()
            .map(|r| match r {
                Reply::Ok(t) => Ok(t.gpa),
                other => Err(format!("{other:?}")),
            })
            .collect::<Result<_, _>>()?;
        ensure(told == gpas, || {
            format!("{} replies for {} addresses", told.len(), gpas.len())
        })?;
    }

    // Maps, listings after them: every page once, each VM and memslot
    // once, and the summary counts each page once.  The request starts
    // with 600 addresses, so that the write's chunk holds only their
    // replies and the map and listings are answered in reads, where the
    // reply window may have to grow (a step adds up to 512 lines).
    set_log("summary")?;
    let singles = (0..600u64)
        .map(|i| format!("{:#x} ", 0x4000_0000 + i * 4096))
        .collect::<String>();
    for round in 0..8 {
        let mark = log_mark(&format!("failslab map {round}"))?;
        let pid = vmm.pid;
        let request = format!("{singles}{pid}\nall pid={pid}\nvms\nslots pid={pid}");
        let mut replies = parse(&ask_failing(&mut f, &request, &mut failed)?)?;
        let firsts: Vec<u64> = replies
            .drain(..600.min(replies.len()))
            .map(|r| match r {
                Reply::Ok(t) => t.gpa,
                _ => 0,
            })
            .collect();
        ensure(
            firsts
                .iter()
                .copied()
                .eq((0..600).map(|i| 0x4000_0000 + i * 4096)),
            || "the 600 addresses before the map are not answered once each, in order".into(),
        )?;
        let lists: Vec<Reply> = replies
            .iter()
            .filter(|r| matches!(r, Reply::Vm { .. } | Reply::Slot { .. }))
            .cloned()
            .collect();
        replies.retain(|r| !matches!(r, Reply::Vm { .. } | Reply::Slot { .. }));
        let map = crate::pages::per_page(&replies)?;
        for slot in &vmm.slots {
            crate::pages::check_slot(&vmm, slot, &map)?;
        }
        let pages: u64 = vmm.slots.iter().map(|s| s.size / 4096).sum();
        let summary = log_since(&mark)?
            .into_iter()
            .find(|l| l.starts_with("all at offset"))
            .ok_or("no summary line for the map")?;
        ensure(
            summary.contains(&format!(": {pages} pages mapped, 0 not present, 0 failed")),
            || format!("{pages} pages mapped, the summary says: {summary}"),
        )?;
        let vms = lists
            .iter()
            .filter(|r| matches!(r, Reply::Vm { pid, .. } if *pid == vmm.pid))
            .count();
        let slots = lists
            .iter()
            .filter(|r| matches!(r, Reply::Slot { .. }))
            .count();
        ensure(vms == 1 && slots == vmm.slots.len(), || {
            format!("vms and slots after the map: {lists:?}")
        })?;
    }
    println!(
        "     every reply once; {} writes and {} reads failed with ENOMEM and were tried again",
        failed.writes, failed.reads
    );
    ensure(failed.writes + failed.reads > 0, || {
        "no call failed: the injection did not reach the module".into()
    })?;
    vmm.stop()
}
