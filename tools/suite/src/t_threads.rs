// SPDX-License-Identifier: GPL-2.0
//! A VM belongs to its process, whatever the shape of its threads: created
//! by a thread that exited at once (KVM records that thread), or held after
//! the main thread has exited (the leader a zombie, without files or mm).
//! `vms`, a line without a pid, `pid=` and `hpa=` all find it by the
//! process id; the oracles are the VMM's pagemap (read through a live
//! thread), kpageflags and the value its guest wrote, read in /dev/mem.

use crate::check::{self, ensure};
use crate::module::{ask, translate};
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, Reply};

const GPA: u64 = 0x4000_0000;
/// Where each VMM's guest stores its value.
const STORE: u64 = GPA + 0x80;

/// A VMM with one 2 MiB slot whose guest stores `value` at `STORE`.
fn start(flags: &[&str], value: u64) -> Result<Vmm, String> {
    let slot = format!("anon:2M@{GPA:#x}");
    let write = format!("{STORE:#x}={value:#x}");
    let mut args = flags.to_vec();
    args.extend(["--slot", &slot, "--write", &write]);
    Vmm::start(&args)
}

/// Everything that names a VM finds `vmm`'s (the newest) by its process
/// id, and none names it by `thread`, a thread of it that is not its
/// first (and, while it lives, names the VM as well as the process does).
fn found_by_process(vmm: &Vmm, value: u64, thread: u32) -> Result<(), String> {
    let listed = ask("vms")?;
    let pids: Vec<u32> = listed
        .iter()
        .filter_map(|r| match r {
            Reply::Vm { pid, .. } => Some(*pid),
            _ => None,
        })
        .collect();
    ensure(pids.contains(&vmm.pid) && !pids.contains(&thread), || {
        format!(
            "vms lists pids {pids:?}: not {} (the process) or also {thread} (a thread)",
            vmm.pid
        )
    })?;
    // The newest VM the caller can see answers a line without a pid.
    let t = translate(&format!("{STORE:#x}"))?;
    check::translation(vmm, STORE, &t, Kind::Base, 4096)?;
    check::phys_value(t.phys, value)?;
    let t = translate(&format!("{STORE:#x} pid={}", vmm.pid))?;
    check::translation(vmm, STORE, &t, Kind::Base, 4096)?;
    // Its frame is its VM's, whether or not the line names the process,
    // or a live thread of it.
    let mut pids = vec![String::new(), format!(" pid={}", vmm.pid)];
    if std::path::Path::new(&format!("/proc/{thread}")).exists() {
        pids.push(format!(" pid={thread}"));
    }
    for pid in pids {
        let owners = ask(&format!("hpa={:#x}{pid}", t.phys))?;
        ensure(
            owners
                .iter()
                .any(|r| matches!(r, Reply::Ok(o) if o.pid == vmm.pid && o.gpa == STORE)),
            || format!("hpa={:#x}{pid}: {owners:?}", t.phys),
        )?;
    }
    Ok(())
}

/// The VM is created by a thread that exits at once; an older VM of
/// another VMM is there too (the one a pid-less line must not fall back
/// to).
pub fn vm_of_an_exited_creator() -> Result<(), String> {
    let older = start(&[], 0x5eed_0011)?;
    let vmm = start(&["--create-in-thread"], 0x5eed_0012)?;
    let creator = vmm.creator.ok_or("gfn-vmm named no creator thread")?;
    ensure(creator != vmm.pid, || {
        format!("the creator {creator} is the main thread")
    })?;
    ensure(
        !std::path::Path::new(&format!("/proc/{creator}")).exists(),
        || format!("the creator thread {creator} is still there"),
    )?;
    found_by_process(&vmm, 0x5eed_0012, creator)?;
    println!(
        "     VM of process {} (created by thread {creator}, gone) found by the process",
        vmm.pid
    );
    vmm.stop()?;
    older.stop()
}

/// The VMM's main thread exits once the VM is set up; another thread
/// holds it, so the process's leader is a zombie whose file table and mm
/// are gone.  The VM, created by a thread that exited too, is found in the
/// holder's file table.
pub fn vm_after_the_main_thread_exited() -> Result<(), String> {
    let older = start(&[], 0x5eed_0021)?;
    let vmm = start(&["--main-exits", "--create-in-thread"], 0x5eed_0022)?;
    let holder = vmm.holder.ok_or("gfn-vmm named no holder thread")?;
    let state = std::fs::read_to_string(format!("/proc/{}/stat", vmm.pid))
        .map_err(|e| format!("stat of {}: {e}", vmm.pid))?;
    ensure(
        state
            .rsplit_once(") ")
            .is_some_and(|(_, s)| s.starts_with('Z')),
        || format!("the VMM's leader is not a zombie: {state}"),
    )?;
    found_by_process(&vmm, 0x5eed_0022, holder)?;
    // A map of the slot through the holder's thread id.
    let map = ask(&format!("{GPA:#x}+512 pid={holder}"))?;
    ensure(
        map.iter()
            .any(|r| matches!(r, Reply::Ok(t) if t.gpa <= STORE && STORE < t.gpa + t.pages * 4096)),
        || format!("a map through thread {holder}: {map:?}"),
    )?;
    println!(
        "     VM of process {} (leader exited, held by thread {holder}) found by the process",
        vmm.pid
    );
    vmm.stop()?;
    older.stop()
}
