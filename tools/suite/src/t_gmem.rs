// SPDX-License-Identifier: GPL-2.0
//! guest_memfd memslots (a `KVM_X86_SW_PROTECTED_VM`, whose private memory
//! is not encrypted, so `/dev/mem` can check it): a private gfn is answered
//! from the guest_memfd, never from the memslot's shared address, and
//! without allocating anything; a shared gfn is answered from that address
//! as any other.

use crate::check::{ensure, phys_value};
use crate::module::{ask, translate};
use crate::pages::{per_page, Page};
use crate::vmm::Vmm;
use gfn_client::pagemap;
use gfn_proto::reply::{Kind, MapLevel, Reply};
use gfn_proto::request::Reason;

pub fn guest_memfd_private_pages() -> Result<(), crate::runner::Outcome> {
    crate::facility::kvm_sw_protected_vm()?;
    // 2 MiB: the first MiB private (the guest_memfd's), the second shared.
    let vmm = Vmm::start(&[
        "--slot",
        "gmem:2M@0x100000",
        "--write",
        "0x100010=0x1234",
        "--write",
        "0x105020=0x5678",
        "--write",
        "0x280030=0x9abc",
    ])?;
    let slot = vmm.slots[0].clone();
    let half = slot.size / 2;
    let pid = vmm.pid;
    let request = format!("{:#x}+{} pid={pid}", slot.gpa, slot.size >> 12);
    let map = per_page(&ask(&request)?)?;
    let entries = pagemap::entries(pid, slot.hva, (slot.size >> 12) as usize)
        .map_err(|e| format!("pagemap: {e}"))?;
    let (mut private, mut absent) = (0, 0);
    for (i, e) in entries.iter().enumerate() {
        let gpa = slot.gpa + i as u64 * 4096;
        let page = map.get(&(gpa >> 12));
        let bad = |why: &str| Err(format!("gpa {gpa:#x}: {why}: {page:?}, pagemap {e:?}").into());
        if (i as u64) < half >> 12 {
            match page {
                // Never from the shared address: its frame is another.
                Some(Page::Ok(t)) if t.kind == Kind::Gmem && t.map == MapLevel::None => {
                    if e.present && e.pfn == t.phys >> 12 {
                        return bad("a private page told with the shared address's frame");
                    }
                    private += 1;
                }
                Some(Page::Err(Reason::NotPresent)) => absent += 1,
                _ => return bad("private page"),
            }
        } else {
            match page {
                Some(Page::Ok(t)) if e.present && t.phys >> 12 == e.pfn && t.kind == Kind::Base => {
                }
                Some(Page::Err(Reason::NotPresent)) if !e.present => {}
                _ => return bad("shared page: module and pagemap disagree"),
            }
        }
    }
    // The vCPU wrote two private pages: only those exist in the guest_memfd.
    ensure(private == 2 && absent == (half >> 12) - 2, || {
        format!("{private} private pages told, {absent} not present")
    })?;
    // Asking allocated nothing, even with mode=fault.
    let again = per_page(&ask(&format!("{request} mode=fault"))?)?;
    let told = again
        .values()
        .take((half >> 12) as usize)
        .filter(|p| matches!(p, Page::Ok(_)))
        .count();
    ensure(told == 2, || {
        format!("{told} private pages after a second map")
    })?;
    // What the vCPU wrote is at the reported addresses, private and shared.
    for &(gpa, value, _) in &vmm.wrote {
        let t = translate(&format!("{gpa:#x} pid={pid}"))?;
        phys_value(t.phys, value)?;
    }
    // And back: the private frame belongs to that gpa.
    let t = translate(&format!("0x100010 pid={pid}"))?;
    let owners = ask(&format!("hpa={:#x}", t.phys))?;
    ensure(
        matches!(owners.as_slice(), [Reply::Ok(o)] if o.gpa == 0x100010 && o.kind == Kind::Gmem),
        || format!("hpa= of the private page: {owners:?}"),
    )?;
    println!("     2 private pages told from the guest_memfd, {absent} never allocated");
    Ok(vmm.stop()?)
}
