// SPDX-License-Identifier: GPL-2.0
//! The seed's workflow with a real VMM: Debian's QEMU, inside the test
//! guest, boots a Linux guest that runs `writer`; its printed guest
//! physical address is translated with QEMU's pid through `gfn_test`, and
//! `reader` finds the guest's value at the reported host address.

use crate::check::ensure;
use crate::module::{output, run};
use crate::oracle;
use gfn_proto::reply::{parse_line, Kind, Reply, Translation};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the second-level guest may take to boot and print.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// A running QEMU, killed when dropped.
pub struct Qemu(pub Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The host's TSC rate as this guest knows it, for the inner guest.
fn tsc_khz() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            let mhz = c
                .lines()
                .find(|l| l.starts_with("cpu MHz"))?
                .split(':')
                .nth(1)?;
            let mhz: f64 = mhz.trim().parse().ok()?;
            Some(format!("tsc_early_khz={}", (mhz * 1000.0) as u64))
        })
        .unwrap_or_default()
}

/// Boots the inner guest with `memory` options; returns QEMU and the gpa
/// writer printed.
/// The name each test's QEMU is given (`-name guest=...`).
fn name_of(value: u8) -> String {
    format!("gfn-qemu-{value}")
}

pub fn boot(memory: &[&str], value: u8) -> Result<(Qemu, u64), String> {
    let append = format!(
        "console=ttyS0 loglevel=3 panic=-1 {} writer.value={value}",
        tsc_khz()
    );
    let mut child = Command::new("/usr/bin/qemu-system-x86_64")
        .args(["-M", "pc", "-accel", "kvm", "-cpu", "host", "-m", "256"])
        .args([
            "-name",
            &format!("guest={},debug-threads=on", name_of(value)),
        ])
        .args(memory)
        .args([
            "-nic",
            "none",
            "-vga",
            "none",
            "-nographic",
            "-no-reboot",
            "-L",
            "/qemu-fw",
        ])
        .args([
            "-kernel",
            "/inner/bzImage",
            "-initrd",
            "/inner/initramfs.gz",
        ])
        .args(["-append", &append])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start qemu: {e}"))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let qemu = Qemu(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // The console's last lines, to say why when no WRITER line comes.
        let mut last = std::collections::VecDeque::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("WRITER gpa=0x") {
                let gpa = rest
                    .split_whitespace()
                    .next()
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
                let _ = tx.send(Ok(gpa));
                return;
            }
            if last.len() == 8 {
                last.pop_front();
            }
            last.push_back(line);
        }
        let _ = tx.send(Err(Vec::from(last)));
    });
    match rx.recv_timeout(BOOT_TIMEOUT) {
        Ok(Ok(Some(gpa))) => Ok((qemu, gpa)),
        Ok(Ok(None)) => Err("the inner guest's WRITER line has no address".into()),
        Ok(Err(console)) => Err(format!(
            "QEMU ended before the inner guest's writer printed; QEMU said {:?}; the console's last lines: {console:?}",
            qemu_stderr(qemu)
        )),
        Err(_) => Err(format!(
            "no WRITER line from the inner guest within {BOOT_TIMEOUT:?}"
        )),
    }
}

/// What QEMU, which has ended, wrote to stderr (its last 600 bytes).
fn qemu_stderr(mut qemu: Qemu) -> String {
    let mut err = String::new();
    if let Some(mut e) = qemu.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let cut = err.len().saturating_sub(600);
    err[err.ceil_char_boundary(cut)..].trim().to_string()
}

/// The whole workflow for one memory backing; `want` is the backing the
/// scenario must produce (checked against kpageflags too), or `None` to
/// accept whatever kpageflags says.
fn workflow(memory: &[&str], value: u8, want: Option<Kind>) -> Result<(), String> {
    let (qemu, gpa) = boot(memory, value)?;
    let pid = qemu.0.id();
    let text = run("gfn_test", &[&format!("{gpa:#x}"), &pid.to_string()])?;
    let line = text.trim().strip_prefix("Kernel reply: ").unwrap_or(&text);
    let t: Translation = match parse_line(line) {
        Ok(Reply::Ok(t)) => t,
        _ => return Err(format!("gfn_test {gpa:#x} {pid}: {text}")),
    };
    ensure(t.gpa == gpa && t.pid == pid, || {
        format!("reply for another address or VM: {line}")
    })?;
    let pfn = oracle::pagemap_pfn(pid, t.hva)?;
    ensure(t.phys == pfn << 12 | (gpa & 0xfff), || {
        format!("phys {:#x}, QEMU's pagemap says pfn {pfn:#x}", t.phys)
    })?;
    let kind = oracle::kind(pfn)?;
    ensure(t.kind == kind && want.is_none_or(|w| w == kind), || {
        format!(
            "kind {:?}, kpageflags {kind:?}, scenario wants {want:?}",
            t.kind
        )
    })?;
    let size = oracle::compound_size(pfn)?;
    ensure(t.size == size, || {
        format!("size {}, kpageflags {size}", t.size)
    })?;
    let read = run("reader", &[&format!("{:#x}", t.phys)])?;
    ensure(read.trim() == value.to_string(), || {
        format!(
            "reader at {:#x} printed {read:?}, the inner guest wrote {value}",
            t.phys
        )
    })?;
    // By name: `vms` shows QEMU's -name, and --domain finds the VM by it.
    let name = name_of(value);
    let vms = run("gfn_test", &["vms"])?;
    ensure(
        vms.lines().any(|l| {
            l.starts_with(&format!("vm pid={pid} ")) && l.ends_with(&format!(" name={name}"))
        }),
        || format!("gfn_test vms: {vms:?}, want pid {pid} named {name}"),
    )?;
    let by_name = run("gfn_test", &["--domain", &name, &format!("{gpa:#x}")])?;
    ensure(by_name == text, || {
        format!("--domain {name}: {by_name:?}, by pid: {text:?}")
    })?;
    // And back: the host page's owner is that guest address of this VM,
    // in address space 0 and, where QEMU's SMM address space aliases RAM
    // (the pc machine's), in address space 1 too.
    let (_, text) = output("gfn_test", &["hpa", &format!("{:#x}", t.phys)])?;
    let owners: Vec<Reply> = text.lines().filter_map(|l| parse_line(l).ok()).collect();
    let spaces: Vec<u8> = owners
        .iter()
        .filter_map(|r| match r {
            Reply::Ok(o) if o.gpa == gpa && o.pid == pid && o.phys == t.phys => Some(o.as_id),
            _ => None,
        })
        .collect();
    ensure(
        spaces.len() == owners.len() && (spaces == [0] || spaces == [0, 1]),
        || {
            format!(
                "gfn_test hpa {:#x}: {text:?}, want gpa {gpa:#x} of pid {pid}",
                t.phys
            )
        },
    )?;
    drop(qemu);
    Ok(())
}

pub fn qemu_default_memory() -> Result<(), String> {
    workflow(&[], 91, None)
}

pub fn qemu_thp_memory() -> Result<(), String> {
    workflow(
        &[
            "-object",
            "memory-backend-ram,id=m0,size=256M,prealloc=on",
            "-machine",
            "memory-backend=m0",
        ],
        92,
        Some(Kind::Thp),
    )
}

pub fn qemu_hugetlbfs_memory() -> Result<(), String> {
    workflow(
        &[
            "-object",
            "memory-backend-file,id=m0,size=256M,mem-path=/dev/hugepages,share=on,prealloc=on",
            "-machine",
            "memory-backend=m0",
        ],
        93,
        Some(Kind::Hugetlb),
    )
}

/// QEMU's memfd backend (what vhost-user and live update use), shared:
/// shmem pages.
pub fn qemu_memfd_memory() -> Result<(), String> {
    workflow(
        &[
            "-object",
            "memory-backend-memfd,id=m0,size=256M,share=on",
            "-machine",
            "memory-backend=m0",
        ],
        94,
        Some(Kind::Base),
    )
}

/// The memfd backend on 2 MiB hugetlb pages.
pub fn qemu_memfd_hugetlb_memory() -> Result<(), String> {
    workflow(
        &[
            "-object",
            "memory-backend-memfd,id=m0,size=256M,share=on,hugetlb=on,hugetlbsize=2M,prealloc=on",
            "-machine",
            "memory-backend=m0",
        ],
        95,
        Some(Kind::Hugetlb),
    )
}

/// A memory-backend-file on tmpfs, shared: shmem pages in a named file.
pub fn qemu_tmpfs_file_memory() -> Result<(), String> {
    let result = workflow(
        &[
            "-object",
            "memory-backend-file,id=m0,size=256M,mem-path=/tmp/guest-ram,share=on",
            "-machine",
            "memory-backend=m0",
        ],
        96,
        Some(Kind::Base),
    );
    let _ = std::fs::remove_file("/tmp/guest-ram");
    result
}
