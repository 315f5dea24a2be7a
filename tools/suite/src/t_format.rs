// SPDX-License-Identifier: GPL-2.0
//! `format=bin`: the binary records tell exactly what the text lines tell,
//! for the same walk, and the records' map agrees with pagemap.

use crate::check::ensure;
use crate::module;
use crate::pages::{check_slot, per_page};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;
use std::io::{Read, Write};

/// One request on a fresh open file, its reply read as records through
/// reads of 1000 bytes (so records straddle reads, as they do for any
/// reader whose buffer is not a multiple of `RECORD`), frame lists
/// expanded into a reply per page.
pub fn ask_bin(request: &str) -> Result<Vec<Reply>, String> {
    let mut f = module::open().map_err(|e| format!("open: {e}"))?;
    f.write_all(request.as_bytes())
        .map_err(|e| format!("{request:?}: {e}"))?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    module::decode_replies(&bytes).map_err(|e| format!("{request:?}: {e}"))
}

/// Every kind of reply, asked as text and as records of the same VMs:
/// the same replies in the same order; the records' whole-VM map matches
/// pagemap and kpageflags page by page.
pub fn records_match_text() -> Result<(), String> {
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
        "0x104000=0x12",
        "--write",
        "0x40250000=0x22",
        "--write",
        "0x80000010=0x44",
    ])?;
    let pid = vmm.pid;
    let requests = [
        format!("all pid={pid}"),
        format!("0x0-0x90000000 pid={pid}"),
        format!("0x103abc 0x40250008 0x80000010 0x7000 0x7fff0000000 pid={pid}"),
        format!("slots pid={pid}"),
        "vms".to_string(),
        format!("0x1 bogus 0x5-0x1 pid={pid} as=7"),
        format!("0x1 pid={pid} mode=x"),
        "0x1 pid=4194304".to_string(),
    ];
    let mut counts = Vec::new();
    for request in &requests {
        // Page by page: text and records list different runs (text lists
        // runs of up to 15 pages, records up to 5).
        let text = crate::pages::pages_of(&module::ask(request)?);
        let bin = crate::pages::pages_of(&ask_bin(&format!("{request} format=bin"))?);
        ensure(text == bin, || {
            format!("{request:?}: text says {text:?}, records say {bin:?}")
        })?;
        ensure(!bin.is_empty(), || format!("{request:?}: no reply"))?;
        counts.push(bin.len());
    }
    // `format=bin` as the line's first word, and a second line in text.
    let two = ask_bin(&format!("format=bin slots pid={pid}"))?;
    ensure(two.len() == vmm.slots.len(), || format!("slots: {two:?}"))?;
    let map = per_page(&ask_bin(&format!("all format=bin pid={pid}"))?)?;
    for slot in &vmm.slots {
        check_slot(&vmm, slot, &map)?;
    }
    println!("     replies, a page each, per request (text = records): {counts:?}");
    vmm.stop()
}
