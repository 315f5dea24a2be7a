// SPDX-License-Identifier: GPL-2.0
//! What the host may do while a reply is unread or a fault waits: the VMM
//! exits and its vendor module is unloaded (an open file holds no VM), a
//! fault never finishes (every wait can be killed, and the VMM's mmap lock
//! is not held across it).

use crate::check::{self, ensure};
use crate::module::{self, ask, output, translate};
use crate::oracle;
use crate::pages::{per_page, Page};
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, Reply, Share};
use gfn_proto::request::Reason;
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where init put the vendor module (testbed/init loads it at boot).
const KVM_AMD_KO: &str = "/kvm/kvm-amd.ko";

const SLOT_GPA: u64 = 0x4000_0000;
const SLOT_PAGES: u64 = 4096;

/// Reads `f` to its end, 4 KiB at a time.
fn read_rest(f: &mut std::fs::File) -> Result<String, String> {
    let mut text = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after the VMM exited: {e}")),
        }
    }
    String::from_utf8(text).map_err(|e| e.to_string())
}

/// Parses whole reply lines.
fn parse(text: &str) -> Result<Vec<Reply>, String> {
    crate::module::parse_replies(text)
}

/// A map reply half read, its VMM killed, the vendor module unloaded: the
/// module held nothing, so the VM is gone at once and `rmmod kvm_amd`
/// succeeds; the rest of the reply says `no-vm`, nothing crashes, and after
/// `insmod` a new VM translates.  A module that kept the VM would list it
/// after its VMM died, and crash when the file closed.
pub fn vendor_unloaded_mid_reply() -> Result<(), String> {
    // Untouched memory, mapped with `mode=fault`: every page is the zero
    // page, one line each in plain runs, so the reply is far longer than
    // one chunk.
    let vmm = Vmm::start(&[
        "--no-touch",
        "--slot",
        &format!("anon:{}K@{SLOT_GPA:#x}", SLOT_PAGES * 4),
    ])?;
    let pid = vmm.pid;
    let mut f = module::open().map_err(|e| e.to_string())?;
    f.write_all(format!("all mode=fault runs=plain pid={pid}").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut first = vec![0u8; 4096];
    let n = f.read(&mut first).map_err(|e| e.to_string())?;
    ensure(n == first.len(), || format!("first read of {n} bytes"))?;
    let first = String::from_utf8(first).map_err(|e| e.to_string())?;
    // Whole lines of the first chunk, checked against the VMM's pagemap
    // while it lives.
    let whole = &first[..first.rfind('\n').map_or(0, |i| i + 1)];
    for r in parse(whole)? {
        let Reply::Ok(t) = r else {
            return Err(format!("first chunk: {r:?}"));
        };
        let pfn = oracle::pagemap_pfn(pid, t.hva)?;
        ensure(t.phys >> 12 == pfn && t.share == Share::Zero, || {
            format!("{t:?}: pagemap says pfn {pfn:#x} (the zero page)")
        })?;
    }

    vmm.kill()?;
    let listed = ask("vms")?;
    ensure(
        !listed
            .iter()
            .any(|r| matches!(r, Reply::Vm { pid: p, .. } if *p == pid)),
        || format!("the dead VMM's VM is still alive: {listed:?}"),
    )?;
    let (unloaded, said) = output("rmmod", &["kvm_amd"])?;
    ensure(unloaded, || {
        format!("rmmod kvm_amd failed with nothing left to pin it: {said}")
    })?;

    // Whatever the rest of the reply says, KVM is loaded again after it,
    // or every later test would find no /dev/kvm.
    let checked = (|| -> Result<(), String> {
        let rest = read_rest(&mut f)?;
        drop(f);
        let replies = parse(&(first + &rest))?;
        let (last, told) = replies.split_last().ok_or("an empty reply")?;
        ensure(
            matches!(
                last,
                Reply::TokenErr {
                    reason: Reason::NoVm,
                    ..
                }
            ),
            || format!("the reply ends with {last:?}, not err:no-vm"),
        )?;
        let map = per_page(told)?;
        let gfn0 = SLOT_GPA >> 12;
        ensure(
            map.keys().copied().eq(gfn0..gfn0 + map.len() as u64)
                && (map.len() as u64) < SLOT_PAGES
                && map
                    .values()
                    .all(|p| matches!(p, Page::Ok(t) if t.share == Share::Zero)),
            || {
                format!(
                    "{} pages told before no-vm, not a prefix of zero pages",
                    map.len()
                )
            },
        )?;
        println!(
            "     {} of {SLOT_PAGES} pages told before the VM went; kvm_amd unloaded",
            map.len()
        );
        Ok(())
    })();

    module::run("insmod", &[KVM_AMD_KO])?;
    checked?;
    let vmm = Vmm::start(&[
        "--slot",
        &format!("anon:4M@{SLOT_GPA:#x}"),
        "--write",
        &format!("{:#x}=0x5eed0005", SLOT_GPA + 0x80),
    ])?;
    let t = translate(&format!("{:#x} {}", SLOT_GPA + 0x80, vmm.pid))?;
    check::translation(&vmm, SLOT_GPA + 0x80, &t, Kind::Base, 4096)?;
    check::phys_value(t.phys, 0x5eed_0005)?;
    vmm.stop()
}

/// A client faults (`mode=fault`) on memory whose faults the VMM never
/// resolves (userfaultfd): it waits without the VMM's mmap lock, SIGKILL
/// ends it within a second, and the module unloads afterwards.
pub fn fault_wait_is_killable(ko: &str) -> Result<(), String> {
    let gpa = SLOT_GPA + 0x1000;
    let mut vmm = Vmm::start(&[
        "--no-touch",
        "--slot",
        &format!("anon:2M@{SLOT_GPA:#x}"),
        "--uffd",
        &format!("{SLOT_GPA:#x}"),
    ])?;
    let request = format!("{gpa:#x} mode=fault pid={}", vmm.pid);
    let mut client = Command::new("sh")
        .args(["-c", &format!("echo '{request}' > {}", module::PROC)])
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    std::thread::sleep(Duration::from_millis(500));
    let early = client.try_wait().map_err(|e| e.to_string())?;
    ensure(early.is_none(), || {
        format!("the client did not wait for the fault: {early:?}")
    })?;
    // The VMM's mmap lock is free while the client waits.
    vmm.mmap_cycle(Duration::from_secs(5))?;
    vmm.mmap_cycle(Duration::from_secs(5))?;

    let killed = Instant::now();
    client.kill().map_err(|e| e.to_string())?;
    client.wait().map_err(|e| e.to_string())?;
    let took = killed.elapsed();
    ensure(took < Duration::from_secs(1), || {
        format!("the killed client took {took:?} to exit")
    })?;
    println!("     the killed client exited in {} ms", took.as_millis());

    // Nothing is left waiting in the module: it unloads, and the page is
    // still simply absent.
    module::rmmod()?;
    module::insmod(ko)?;
    let again = ask(&format!("{gpa:#x} {}", vmm.pid))?;
    ensure(
        matches!(
            again.as_slice(),
            [Reply::AddrErr {
                reason: Reason::NotPresent,
                ..
            }]
        ),
        || format!("nofault after the wait: {again:?}"),
    )?;
    vmm.stop()
}
