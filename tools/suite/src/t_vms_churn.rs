// SPDX-License-Identifier: GPL-2.0
//! `vms` while VMMs change their memslots: the counts a listing gives a VM
//! are those of one memslot set KVM had, never a mix of the two.
//!
//! KVM keeps two memslot sets per address space and swaps the active one at
//! every change (kvm_swap_active_memslots); each set links the memslots
//! through its own `id_node[node_idx]`.  A walk that re-reads the active set
//! at each step, as `kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm,
//! as))` does (the macro expands its set argument in the bucket head, the
//! next pointer and the member container_of subtracts), mixes the two sets
//! when a swap comes between two of those reads: a memslot pointer one
//! hlist_node (16 bytes) off, whose `npages` is then the field 16 bytes
//! away (the gfn tree's `rb_left`: a pointer, or NULL and KVM's
//! WARN_ON_ONCE(!memslot->npages)), or the rest of a bucket followed in the
//! other set, leaving memslots out.  The module's walk before b1098f2 did
//! that; this test fails on it within a few hundred listings.

use crate::check::ensure;
use crate::cpus;
use crate::module;
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;

/// Fixed memslots beside the churning one in each VM: each is a step of
/// the walk (a hash bucket) that a swap can come into.
const FIXED: u64 = 500;

/// VMMs churning at once: a swap waits for an SRCU grace period (a few
/// milliseconds under TCG), so one VM swaps its sets a few hundred times a
/// second; each VM has its own SRCU, so more VMs swap more often.
const CHURNERS: usize = 4;

/// One churning VMM: its pid, and the (slots, bytes) its own table allows a
/// listing to give, with its churning slot and without it.
struct Churner {
    vmm: Vmm,
    all: (u32, u64),
    without: (u32, u64),
}

/// Starts a VMM that keeps `FIXED` memslots and deletes and re-adds one
/// more in a tight loop on the VMM CPU.
fn churner() -> Result<Churner, String> {
    // The churning slot's size is no other slot's (the code slot is 64
    // KiB), so that a fixed slot counted wrongly is never taken for it.
    let mut args = vec![
        "--churn".to_string(),
        "--cpu".into(),
        cpus::VMM_CPU.into(),
        "--slot".into(),
        "anon:12K@0x100000".into(),
    ];
    for i in 0..FIXED {
        let gpa = 0x200000 + i * 0x10000;
        args.extend(["--slot".into(), format!("anon:8K@{gpa:#x}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vmm = Vmm::start(&args)?;
    // The oracle: the VMM's table (every slot it set, the code slot too),
    // with or without its first slot, the one it deletes and re-adds.
    let all = (
        vmm.slots.len() as u32,
        vmm.slots.iter().map(|s| s.size).sum::<u64>(),
    );
    let first = vmm.slots.first().ok_or("the VMM reported no slot")?;
    ensure(first.id == 0 && first.size == 0x3000, || {
        format!("the VMM's first slot is {first:?}, not the churning one")
    })?;
    let without = (all.0 - 1, all.1 - first.size);
    Ok(Churner { vmm, all, without })
}

/// While `CHURNERS` VMMs each delete and re-add one memslot in a tight
/// loop on one CPU, `listings` `vms` listings on the other CPU each give
/// every one of their VMs the slots and memory of one of the two tables
/// the VMM's own slot table allows: with the churning slot or without it.
/// No kernel warning on the way.
pub fn vms_during_memslot_churn(listings: u64) -> Result<(), String> {
    let mark = module::log_mark("vms_during_memslot_churn")?;
    // Started side by side: setting up hundreds of memslots waits for an
    // SRCU grace period per memslot, each VM's its own.
    let started = std::time::Instant::now();
    let churners: Vec<Result<Churner, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CHURNERS).map(|_| scope.spawn(churner)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a VMM's start panicked".into()))
            })
            .collect()
    });
    let churners = churners.into_iter().collect::<Result<Vec<_>, _>>()?;
    println!(
        "     {CHURNERS} VMMs of {} memslots each started in {:.1} s",
        FIXED + 2,
        started.elapsed().as_secs_f64()
    );
    cpus::pin(cpus::TEST_CPU)?;
    let start = std::time::Instant::now();
    let result = list(&churners, listings);
    let secs = start.elapsed().as_secs_f64();
    let mut churned = 0;
    for c in churners {
        let said = c.vmm.stop_with_output()?;
        let times: u64 = said
            .split_whitespace()
            .find_map(|w| w.strip_prefix("times=")?.parse().ok())
            .unwrap_or(0);
        ensure(times > 0, || format!("a VMM did not churn: {said:?}"))?;
        churned += times;
    }
    let (with_slot, without_slot) = result?;
    println!(
        "     {listings} listings of {CHURNERS} VMs in {secs:.1} s: {with_slot} VMs with the churning slot, \
         {without_slot} without; {churned} deletions and re-additions (3 set swaps each)"
    );
    no_kernel_warning(&mark)
}

/// Reads `vms` `listings` times; every VM of the churners must be listed
/// once, with its `all` or `without` as (slots, bytes).  Returns how many
/// VMs were listed with and without the churning slot.
fn list(churners: &[Churner], listings: u64) -> Result<(u64, u64), String> {
    let mut f = module::open().map_err(|e| format!("open {}: {e}", module::PROC))?;
    let (mut with_slot, mut without_slot) = (0, 0);
    for i in 0..listings {
        let text = module::ask_on(&mut f, b"vms").map_err(|e| format!("vms: {e}"))?;
        let replies = module::parse_replies(&text)?;
        for c in churners {
            let ours: Vec<(u32, u64)> = replies
                .iter()
                .filter_map(|r| match r {
                    Reply::Vm {
                        pid, slots, memory, ..
                    } if *pid == c.vmm.pid => Some((*slots, *memory)),
                    _ => None,
                })
                .collect();
            let [got] = ours.as_slice() else {
                return Err(format!(
                    "listing {i}: VMM {} is listed {} times: {text}",
                    c.vmm.pid,
                    ours.len()
                ));
            };
            if *got == c.all {
                with_slot += 1;
            } else if *got == c.without {
                without_slot += 1;
            } else {
                return Err(format!(
                    "listing {i}: VMM {}: slots={} memory={:#x}; its table allows slots={} \
                     memory={:#x} or, without its churning slot, slots={} memory={:#x}",
                    c.vmm.pid, got.0, got.1, c.all.0, c.all.1, c.without.0, c.without.1
                ));
            }
        }
    }
    Ok((with_slot, without_slot))
}

/// No kernel warning (KVM's memslot walk's WARN_ON_ONCE among them) since
/// `mark`.  The test bed fails a run on any splat as well; this names it
/// here, beside the test that caused it.
fn no_kernel_warning(mark: &str) -> Result<(), String> {
    let log = module::dmesg()?;
    let after = log
        .rfind(mark)
        .map(|at| &log[at..])
        .ok_or_else(|| format!("the kernel log lost the mark {mark:?}"))?;
    let warning: Vec<&str> = after
        .lines()
        .filter(|l| {
            l.contains("WARNING:") || l.contains("BUG:") || l.contains("kvm_for_each_memslot")
        })
        .collect();
    ensure(warning.is_empty(), || {
        format!(
            "kernel warning during the listings: {}",
            warning.join(" | ")
        )
    })
}
