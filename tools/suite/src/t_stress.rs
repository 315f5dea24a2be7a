// SPDX-License-Identifier: GPL-2.0
//! Races and resource bounds: many clients while VMs come and go, a VMM
//! killed mid-query, and no page, VM or mm reference left behind after
//! many queries.

use crate::check::ensure;
use crate::cpus;
use crate::module::ask;
use crate::vmm::Vmm;
use gfn_proto::reply::{parse_line, Reply};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Runs `clients` threads asking `request` until `stop`; every reply line
/// must parse.  Returns how many requests were answered.
fn clients(
    n: usize,
    request: String,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<Result<u64, String>>> {
    (0..n)
        .map(|i| {
            let (request, stop) = (request.clone(), stop.clone());
            thread::spawn(move || {
                // Half of them beside the VMM's CPU, half on it.
                cpus::pin(i % cpus::online())?;
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    ask(&request)?;
                    answered += 1;
                }
                Ok(answered)
            })
        })
        .collect()
}

fn join(handles: Vec<thread::JoinHandle<Result<u64, String>>>) -> Result<u64, String> {
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "a client panicked".to_string())??;
    }
    Ok(total)
}

/// 8 clients query the first VM while one VMM process creates, runs and
/// destroys VMs `cycles` times.
pub fn clients_during_vm_cycles(cycles: u64) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = clients(
        8,
        "0x100000 0x101000 0x1ff000 0x200000".into(),
        stop.clone(),
    );
    let out = Command::new("/bin/gfn-vmm")
        .args([
            "--slot",
            "anon:1M@0x100000",
            "--write",
            "0x100000=1",
            "--cycles",
            &cycles.to_string(),
            "--cpu",
            cpus::VMM_CPU,
        ])
        .output()
        .map_err(|e| format!("gfn-vmm: {e}"));
    stop.store(true, Ordering::Relaxed);
    let answered = join(handles)?;
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.success() && text.contains(&format!("CYCLES done={cycles}")),
        || {
            format!(
                "gfn-vmm --cycles: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        },
    )?;
    println!("     {cycles} VM cycles; {answered} client requests answered meanwhile");
    ensure(answered > 0, || "no client request was answered".into())
}

/// A VMM killed with SIGKILL while clients query its VM by pid.
pub fn vmm_killed_mid_query() -> Result<(), String> {
    for _ in 0..5 {
        let vmm = Vmm::start(&["--slot", "thp:4M@0x200000"])?;
        let request: String = (0..256)
            .map(|i| format!("{:#x} ", 0x200000 + i * 0x4000))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let handles = clients(4, format!("{request} {}", vmm.pid), stop.clone());
        thread::sleep(std::time::Duration::from_millis(50));
        vmm.kill()?;
        thread::sleep(std::time::Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        join(handles)?;
    }
    Ok(())
}

fn meminfo(key: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix(':')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no {key} in /proc/meminfo"))
}

/// `batches` × 500 translations of hugetlb, THP and
/// base pages; afterwards the VMM's
/// exit must free every page (a leaked page reference would keep a hugetlb
/// page from going back to the pool) and the VM (a leaked VM reference would
/// keep it on vm_list).
pub fn no_leak_after_queries(batches: u64) -> Result<(), String> {
    let free_before = meminfo("HugePages_Free")?;
    let vmm = Vmm::start(&[
        "--slot",
        "hugetlb:4M@0x400000",
        "--slot",
        "thp:4M@0x800000",
        "--slot",
        "anon:2M@0xc00000",
    ])?;
    ensure(meminfo("HugePages_Free")? + 2 == free_before, || {
        "the VMM did not take 2 huge pages".into()
    })?;
    let gpas: Vec<u64> = (0..500u64)
        .map(|i| [0x400000, 0x800000, 0xc00000][i as usize % 3] + (i * 0x1_1000) % 0x200000)
        .collect();
    let request: String =
        gpas.iter().map(|g| format!("{g:#x} ")).collect::<String>() + &vmm.pid.to_string();
    for _ in 0..batches {
        let replies = ask(&request)?;
        ensure(
            replies.len() == 500 && replies.iter().all(|r| matches!(r, Reply::Ok(_))),
            || {
                format!(
                    "a batch failed: {:?}",
                    replies.iter().find(|r| !matches!(r, Reply::Ok(_)))
                )
            },
        )?;
    }
    println!("     {} translations", batches * 500);
    vmm.stop()?;
    ensure(meminfo("HugePages_Free")? == free_before, || {
        format!(
            "huge pages not freed: {} free, {free_before} before",
            meminfo("HugePages_Free").unwrap_or(0)
        )
    })?;
    let replies = ask("0x400000")?;
    ensure(
        matches!(replies.as_slice(), [Reply::AddrErr { .. }]),
        || format!("a VM outlived its VMM: {replies:?}"),
    )
}

/// Root in a new user namespace has no CAP_SYS_ADMIN where it counts.
pub fn user_namespace_root_refused() -> Result<(), String> {
    let code = crate::t_file::open_in_child(|| {
        // SAFETY: one syscall in the forked child.
        unsafe { libc::unshare(libc::CLONE_NEWUSER) == 0 }
    })?;
    ensure(code == libc::EPERM || code == libc::EACCES, || {
        format!("user-namespace root open: errno {code}, want EPERM")
    })
}

/// How many `vm` lines of `text` name `pid`.
fn vm_lines(text: &str, pid: u32) -> usize {
    text.lines()
        .filter(|l| matches!(parse_line(l), Ok(Reply::Vm { pid: p, .. }) if p == pid))
        .count()
}

/// Finds a request (single addresses of VMM `pid`, then `vms`) whose first
/// 64 KiB chunk of reply ends inside the listing of VMM `pid`'s 64 VMs.
/// Returns the file, with that chunk read, and the text read.
fn listing_split_across_reads(pid: u32) -> Result<(std::fs::File, String), String> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let e = |e: std::io::Error| e.to_string();
    let (mut lo, mut hi) = (1u64, 1500u64);
    while lo < hi {
        let n = (lo + hi) / 2;
        let pads: String = (0..n)
            .map(|i| format!("{:#x} ", 0x100000 + (i % 8192) * 8))
            .collect();
        let mut f = crate::module::open().map_err(e)?;
        f.write_all(format!("{pads}{pid}\nvms").as_bytes())
            .map_err(e)?;
        // What the write produced: the first chunk, read without producing more.
        let produced = f.seek(SeekFrom::End(0)).map_err(e)?;
        f.seek(SeekFrom::Start(0)).map_err(e)?;
        let mut first = vec![0u8; produced as usize];
        f.read_exact(&mut first).map_err(e)?;
        let first = String::from_utf8(first).map_err(|e| e.to_string())?;
        match vm_lines(&first, pid) {
            0 => hi = n,
            64 => lo = n + 1,
            _ => return Ok((f, first)),
        }
    }
    Err(format!(
        "no request splits the listing (ended at {lo} addresses)"
    ))
}

/// `vms` lists from one consistent pass.  First, a listing whose reply is
/// split across two reads, with a VM created between them: the 64 VMs
/// alive throughout are listed once each (a listing taken VM by VM, by
/// index, lists one twice when a VM comes between two steps).  Then, while
/// four other processes create and destroy VMs, 3 seconds of listings, each
/// with the 64 VMs exactly once.
pub fn vms_listing_is_consistent() -> Result<(), String> {
    use std::io::Read;
    let held = Vmm::start(&["--vms", "64", "--slot", "anon:64K@0x100000"])?;
    let (mut f, first) = listing_split_across_reads(held.pid)?;
    let newcomer = Vmm::start(&["--slot", "anon:64K@0x100000"])?;
    let mut rest = String::new();
    f.read_to_string(&mut rest).map_err(|e| e.to_string())?;
    let (before, after) = (vm_lines(&first, held.pid), vm_lines(&rest, held.pid));
    ensure(before + after == 64, || {
        format!("a listing split after {before} of 64 VMs, a VM created, then {after} more")
    })?;
    newcomer.stop()?;
    println!("     a listing split after {before} of 64 VMs by a new VM: 64 listed once each");

    let mut churners = Vec::new();
    for _ in 0..4 {
        let churner = Command::new("/bin/gfn-vmm")
            .args(["--slot", "anon:64K@0x100000", "--cycles", "1000000"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("gfn-vmm --cycles: {e}"));
        churners.push(churner);
    }
    let start = std::time::Instant::now();
    let mut listings = 0;
    let result = (|| -> Result<(), String> {
        for churner in &churners {
            churner.as_ref().map_err(Clone::clone)?;
        }
        while start.elapsed().as_secs() < 3 {
            let replies = ask("vms")?;
            let ours = replies
                .iter()
                .filter(|r| matches!(r, Reply::Vm { pid, .. } if *pid == held.pid))
                .count();
            ensure(ours == 64, || {
                format!("listing {listings}: the 64 held VMs appear {ours} times")
            })?;
            ensure(replies.len() <= 68, || {
                format!("listing {listings}: {} lines", replies.len())
            })?;
            listings += 1;
        }
        Ok(())
    })();
    for mut churner in churners.into_iter().flatten() {
        let _ = churner.kill();
        let _ = churner.wait();
    }
    result?;
    println!("     {listings} listings of 64 held VMs while 4 processes created and destroyed VMs");
    held.stop()
}
