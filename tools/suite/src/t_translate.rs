// SPDX-License-Identifier: GPL-2.0
//! Translations of every backing, checked against pagemap, kpageflags and
//! the value the guest's vCPU wrote, read back through /dev/mem.

use crate::check::{self, ensure};
use crate::module::{self, ask, translate};
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, Reply};

const MIB2: u64 = 2 << 20;

/// Starts a VMM with one slot of `backing` and the given writes, given as
/// offsets into the slot; returns it with the writes' GPAs and values.
fn vmm_with(
    backing: &str,
    size: &str,
    offsets: &[(u64, u64)],
) -> Result<(Vmm, Vec<(u64, u64)>), String> {
    // The slot sits at 1 GiB (2 MiB aligned for every backing).
    let base = 0x4000_0000u64;
    let mut args = vec!["--slot".to_string(), format!("{backing}:{size}@{base:#x}")];
    let mut writes = Vec::new();
    for &(off, value) in offsets {
        args.push("--write".into());
        args.push(format!("{:#x}={value:#x}", base + off));
        writes.push((base + off, value));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok((Vmm::start(&args)?, writes))
}

fn check_backing(
    backing: &str,
    kind: Kind,
    size: u64,
    offsets: &[(u64, u64)],
) -> Result<(), String> {
    let (vmm, writes) = vmm_with(backing, "4M", offsets)?;
    for (gpa, value) in writes {
        let t = translate(&format!("{gpa:#x} {}", vmm.pid))?;
        check::translation(&vmm, gpa, &t, kind, size)?;
        check::phys_value(t.phys, value)?;
    }
    vmm.stop()
}

pub fn base_page() -> Result<(), String> {
    check_backing(
        "anon",
        Kind::Base,
        4096,
        &[(0x80, 0x5eed_0001), (0x3f_f7f4, 0x5eed_0002)],
    )
}

pub fn thp_head() -> Result<(), String> {
    check_backing("thp", Kind::Thp, MIB2, &[(0x40, 0x7a9_0001)])
}

pub fn thp_tail() -> Result<(), String> {
    // Deep inside each huge page, not in its first 4 KiB (the seed's bug).
    check_backing(
        "thp",
        Kind::Thp,
        MIB2,
        &[(0x1f_f0c8, 0x7a9_0002), (0x2a_b12c, 0x7a9_0003)],
    )
}

pub fn hugetlb_head() -> Result<(), String> {
    check_backing("hugetlb", Kind::Hugetlb, MIB2, &[(0x10, 0x4b6_0001)])
}

pub fn hugetlb_tail() -> Result<(), String> {
    check_backing(
        "hugetlb",
        Kind::Hugetlb,
        MIB2,
        &[(0x1f_e004, 0x4b6_0002), (0x3c_0a08, 0x4b6_0003)],
    )
}

/// A VM whose file sits at a lower descriptor in its VMM than the VM asked
/// for before it in another (the module starts each search for a VM's
/// file at the descriptor the last one had): a VMM holding three VMs,
/// whose newest has the highest descriptor, and one holding a single VM,
/// asked in turn, each told by its own memory (the value its vCPU wrote,
/// read back through /dev/mem, and its page in the VMM's pagemap).
pub fn vms_at_other_descriptors() -> Result<(), String> {
    let base = 0x4000_0000u64;
    let slot = format!("anon:2M@{base:#x}");
    let three = Vmm::start(&[
        "--vms",
        "3",
        "--slot",
        &slot,
        "--write",
        &format!("{:#x}=0xd3a0", base + 0x80),
    ])?;
    let one = Vmm::start(&[
        "--slot",
        &slot,
        "--write",
        &format!("{:#x}=0xd1b0", base + 0x80),
    ])?;
    for (vmm, value) in [(&three, 0xd3a0), (&one, 0xd1b0), (&three, 0xd3a0)] {
        let gpa = base + 0x80;
        let t = translate(&format!("{gpa:#x} {}", vmm.pid))?;
        check::translation(vmm, gpa, &t, Kind::Base, 4096)?;
        check::phys_value(t.phys, value)?;
    }
    three.stop()?;
    one.stop()
}

/// Two VMs in two VMM processes, the same GPA, told apart by PID.
pub fn two_vms_by_pid() -> Result<(), String> {
    let (a, wa) = vmm_with("anon", "2M", &[(0x2468, 0xa11_ce01)])?;
    let (b, wb) = vmm_with("anon", "2M", &[(0x2468, 0xb0b_0b02)])?;
    let mut phys = Vec::new();
    for (vmm, writes, form) in [(&a, &wa, "pid="), (&b, &wb, "")] {
        let (gpa, value) = writes[0];
        let req = if form.is_empty() {
            format!("{gpa:#x} {}", vmm.pid)
        } else {
            format!("pid={} {gpa:#x}", vmm.pid)
        };
        let t = translate(&req)?;
        check::translation(vmm, gpa, &t, Kind::Base, 4096)?;
        check::phys_value(t.phys, value)?;
        phys.push(t.phys);
    }
    ensure(phys[0] != phys[1], || {
        format!("both VMs answered {:#x}", phys[0])
    })?;
    a.stop()?;
    b.stop()
}

/// The seed README's own example: four addresses, no PID, first VM.
pub fn seed_four_addresses() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x0"])?;
    module::set_log("all")?; // a fresh rate-limit interval for the lines read below
    let mark = module::log_mark("seed")?;
    let gpas = [0x1111u64, 0x2222, 0x3333, 0x4444];
    let replies = ask("0x1111 0x2222 0x3333 0x4444\n")?;
    ensure(replies.len() == 4, || {
        format!("expected 4 reply lines, got {replies:?}")
    })?;
    let log = module::log_since(&mark)?.join("\n");
    for (gpa, reply) in gpas.iter().zip(&replies) {
        let Reply::Ok(t) = reply else {
            return Err(format!("gpa {gpa:#x}: {reply:?}"));
        };
        check::translation(&vmm, *gpa, t, Kind::Base, 4096)?;
        let line = format!("exact phys addr for gpa {gpa:#x}: {:#x}", t.phys);
        ensure(log.contains(&line), || format!("kernel log lacks '{line}'"))?;
    }
    ensure(log.contains("page is not huge page"), || {
        "kernel log lacks the backing line".into()
    })?;
    vmm.stop()
}

/// Several addresses of several backings in one write, one reply line each.
pub fn mixed_backings_one_write() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        "anon:2M@0x100000",
        "--slot",
        "thp:4M@0x400000",
        "--slot",
        "hugetlb:2M@0x800000",
    ])?;
    let cases = [
        (0x100abcu64, Kind::Base, 4096u64),
        (0x5ff123, Kind::Thp, MIB2),
        (0x9a5678, Kind::Hugetlb, MIB2),
    ];
    module::set_log("all")?; // a fresh rate-limit interval for the lines read below
    let mark = module::log_mark("mixed")?;
    let req = format!(
        "{:#x},{:#x}\t{:#x} {}",
        cases[0].0, cases[1].0, cases[2].0, vmm.pid
    );
    let replies = ask(&req)?;
    ensure(replies.len() == 3, || {
        format!("expected 3 lines, got {replies:?}")
    })?;
    for ((gpa, kind, size), reply) in cases.iter().zip(&replies) {
        let Reply::Ok(t) = reply else {
            return Err(format!("gpa {gpa:#x}: {reply:?}"));
        };
        check::translation(&vmm, *gpa, t, *kind, *size)?;
    }
    let log = module::log_since(&mark)?.join("\n");
    ensure(log.contains("page is THP, size 2048 KiB"), || {
        "no THP line in the kernel log".into()
    })?;
    ensure(log.contains("page is hugetlb page, size 2048 KiB"), || {
        "no hugetlb line in the kernel log".into()
    })?;
    vmm.stop()
}
