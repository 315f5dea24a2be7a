// SPDX-License-Identifier: GPL-2.0
//! Range requests racing the VM: memslots deleted and re-added while a map
//! is read, and the module unloaded while a map reply is half read.

use crate::check::ensure;
use crate::cpus;
use crate::module;
use crate::pages::{per_page, Page};
use crate::vmm::Vmm;
use gfn_proto::request::Reason;
use std::io::{Read, Write};

/// While the VMM deletes and re-adds its memslot in a loop, maps of it
/// read in small pieces stay well formed: every page told once, as
/// translated, not present or outside memslots.
pub fn memslot_churn_during_map(rounds: u64) -> Result<(), String> {
    // The VMM churns on one CPU while this maps on the other.
    let vmm = Vmm::start(&[
        "--churn",
        "--cpu",
        cpus::VMM_CPU,
        "--slot",
        "anon:16M@0x40000000",
    ])?;
    cpus::pin(cpus::TEST_CPU)?;
    let mut gaps = 0;
    for i in 0..rounds {
        let request = if i % 2 == 0 {
            format!("0x40000000+4096 pid={}", vmm.pid)
        } else {
            format!("all pid={}", vmm.pid)
        };
        let mut f = module::open().map_err(|e| e.to_string())?;
        f.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut text = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = f.read(&mut buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(text).map_err(|e| e.to_string())?;
        let replies = crate::module::parse_replies(&text).map_err(|e| format!("{request}: {e}"))?;
        let map = per_page(&replies)?;
        for (gfn, page) in &map {
            let fine = match page {
                Page::Ok(t) => t.gpa == gfn << 12,
                Page::Err(Reason::NotPresent | Reason::NoMemslot) => true,
                _ => false,
            };
            ensure(fine, || format!("{request}: gfn {gfn:#x}: {page:?}"))?;
        }
        if i % 2 == 0 {
            ensure(map.len() == 4096, || {
                format!("{request}: {} pages", map.len())
            })?;
        }
        gaps += u64::from(map.values().any(|p| *p == Page::Err(Reason::NoMemslot)));
    }
    println!("     {rounds} maps, {gaps} of them saw the memslot gone");
    vmm.stop()
}

/// rmmod while a map reply is half read: the unload completes, the file
/// reads as closed, and the module loads and maps again.
pub fn unload_while_map_read(ko: &str) -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:64M@0x40000000"])?;
    let mut f = module::open().map_err(|e| e.to_string())?;
    f.write_all(format!("all pid={}", vmm.pid).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let n = f.read(&mut buf).map_err(|e| e.to_string())?;
    ensure(n == 4096, || format!("first read of {n} bytes"))?;
    module::rmmod()?;
    let after = f.read(&mut buf);
    ensure(matches!(after, Err(_) | Ok(0)), || {
        format!("read after rmmod: {after:?}")
    })?;
    drop(f);
    module::insmod(ko)?;
    let again = module::ask(&format!("0x40000000+16 pid={}", vmm.pid))?;
    ensure(per_page(&again)?.len() == 16, || format!("{again:?}"))?;
    vmm.stop()
}
