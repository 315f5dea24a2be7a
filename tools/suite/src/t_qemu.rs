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
use std::time::{Duration, Instant};

pub mod pool;

/// What a QEMU test takes on the fast kernel, for its time limit (see
/// `main`): 2.3 to 6.2 s on an idle host, 3.8 to 8.2 s with a kernel build
/// beside the test guest, 8.4 to 19.0 s with four busy loops at the test
/// guest's priority on the host's two CPUs (a QEMU guest under KVM under
/// TCG slows down 3 to 7 times when the host's CPUs are shared, more than
/// the rest of the suite).  `Plan::limit`'s margin of 4 makes it 60 s; the
/// 30 s it had was less than twice the loaded time, and a cold run, with
/// kernels built beside it, went over it.
pub const FAST_SECS: f64 = 15.0;

/// How long the second-level guest may take to boot and print: 10 s less
/// than a QEMU test's time limit, so that a boot too slow fails here,
/// saying the console's last lines (with when each came), QEMU's CPU time
/// and the hugetlb pool, rather than be killed by the runner, which can
/// say nothing about it.
fn boot_timeout() -> Duration {
    crate::plan::Plan::from_env()
        .limit(FAST_SECS)
        .saturating_sub(Duration::from_secs(10))
}

/// A running QEMU, killed when dropped.  Its end goes into the log, always,
/// in one line (see [`Qemu::end`]): how it ended (its exit status or
/// signal, or killed by the test), its CPU time, its stderr, and the
/// hugetlb pool once it is gone.
pub struct Qemu(pub Child, Record);

/// What the log needs about a QEMU besides the process.
struct Record {
    name: String,
    started: Instant,
    /// Its whole stderr, read as it comes (a full pipe would stop QEMU).
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Its stdin, held open and never written: see [`boot`].
    _stdin: Option<std::process::ChildStdin>,
    /// The summary, once told.
    told: bool,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if !self.1.told {
            let end = self.end(Duration::ZERO);
            println!("     {end}");
        }
    }
}

impl Qemu {
    /// Ends QEMU (waiting `grace` for it to end by itself, then SIGKILL)
    /// and says how it ended, in one line.
    pub fn end(&mut self, grace: Duration) -> String {
        self.1.told = true;
        let pid = self.0.id();
        let deadline = Instant::now() + grace;
        let mut ended = exited(pid);
        while !ended && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            ended = exited(pid);
        }
        // Its CPU time, read before it is reaped (a zombie's stat holds it).
        let cpu = cpu_time(pid);
        let status = if ended { self.0.wait().ok() } else { None };
        let how = match status {
            Some(s) => format!("ended by itself: {}", exit_words(s)),
            None => {
                let _ = self.0.kill();
                match self.0.wait() {
                    Ok(s) => format!("killed by the test ({})", exit_words(s)),
                    Err(e) => format!("killed by the test, not reaped: {e}"),
                }
            }
        };
        let secs = self.1.started.elapsed().as_secs_f64();
        let err = self
            .1
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let cut = err.len().saturating_sub(600);
        let err = err[err.ceil_char_boundary(cut)..].trim();
        format!(
            "qemu {} pid={pid}: {how} after {secs:.1} s, cpu {cpu}; stderr {err:?}; hugetlb pool after: {}",
            self.1.name,
            pool::summary()
        )
    }
}

/// Whether child `pid` has ended, without reaping it (`WNOWAIT`).
fn exited(pid: u32) -> bool {
    // SAFETY: `info` is a valid siginfo_t for waitid to fill; the pid is
    // our own child's.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ret = libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        ret != 0 || info.si_pid() != 0
    }
}

/// An exit status in words: the code, or the signal and its name.
fn exit_words(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal {sig} ({})", signal_name(sig)),
        _ => format!("{s}"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGILL => "SIGILL",
        _ => "other",
    }
}

/// User and system CPU time of process `pid`, from /proc/PID/stat.
fn cpu_time(pid: u32) -> String {
    let ticks = 100.0; // USER_HZ
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After the state (field 3), utime and stime are fields 14, 15.
            let user: f64 = f.get(11)?.parse().ok()?;
            let sys: f64 = f.get(12)?.parse().ok()?;
            Some(format!(
                "user {:.1} s sys {:.1} s",
                user / ticks,
                sys / ticks
            ))
        })
        .unwrap_or_else(|| "unknown".into())
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

/// The name each test's QEMU is given (`-name guest=...`).
fn name_of(value: u8) -> String {
    format!("gfn-qemu-{value}")
}

/// The 2 MiB hugetlb pages `memory` options take: the whole guest (256
/// MiB) when its RAM is on hugetlb, else none.
fn huge_pages_needed(memory: &[&str]) -> u64 {
    let hugetlb = memory
        .iter()
        .any(|o| o.contains("hugetlb=on") || o.contains("mem-path=/dev/hugepages"));
    if hugetlb {
        256 / 2
    } else {
        0
    }
}

/// Boots the inner guest with `memory` options; returns QEMU and the gpa
/// writer printed.
pub fn boot(memory: &[&str], value: u8) -> Result<(Qemu, u64), String> {
    let need = huge_pages_needed(memory);
    let before = pool::summary();
    if need > 0 {
        // Wait for the pages an earlier QEMU or VMM still holds; a QEMU
        // started short of them fails to preallocate.
        pool::wait_for(need, boot_timeout() / 4)?;
    }
    println!("     hugetlb pool before {}: {before}", name_of(value));
    // no_timer_check: the inner kernel's check_timer() counts timer ticks
    // for a fixed number of TSC cycles (timer_irq_works()); when the host is
    // busy, the ticks the test guest's KVM injects come late, the check
    // fails and the inner kernel panics ("IO-APIC + timer doesn't work!"),
    // and with panic=-1 and -no-reboot QEMU exits with status 0, saying
    // nothing: seen with four busy loops on the host's two CPUs.  The timer
    // works; it is only late.
    // earlyprintk: a panic before the serial console is set up is seen too;
    // loglevel=3, parsed before it, keeps the console to errors either way.
    let append = format!(
        "console=ttyS0 loglevel=3 earlyprintk=serial,ttyS0 panic=-1 no_timer_check {} writer.value={value}",
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
        // stdin an open pipe that never has input, not /dev/null: with
        // -nographic QEMU's console reads stdin, which /dev/null makes
        // readable (at its end) for good.  A suspect, not a proven cause,
        // of the inner guest that sometimes makes almost no progress for
        // 50 s while QEMU burns a CPU (docs/testing.md, "Counts, time limits").
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start qemu: {e}"))?;
    let started = Instant::now();
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let stdin = child.stdin.take();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    let mut qemu = Qemu(
        child,
        Record {
            name: name_of(value),
            started,
            stderr: Some(stderr),
            _stdin: stdin,
            told: false,
        },
    );
    let (tx, rx) = mpsc::channel();
    // The console's last lines, each with when it came, to say why when
    // no WRITER line comes.
    let last = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let seen = last.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("WRITER gpa=0x") {
                let gpa = rest
                    .split_whitespace()
                    .next()
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
                let _ = tx.send(Some(gpa));
                return;
            }
            if let Ok(mut last) = seen.lock() {
                if last.len() == 40 {
                    last.pop_front();
                }
                last.push_back(format!("{:.1} s: {line}", started.elapsed().as_secs_f64()));
            }
        }
        let _ = tx.send(None);
    });
    let limit = boot_timeout();
    let got = rx.recv_timeout(limit);
    let console = || {
        last.lock()
            .map(|l| Vec::from(l.clone()))
            .unwrap_or_default()
    };
    match got {
        Ok(Some(Some(gpa))) => {
            println!(
                "     {} printed WRITER after {:.1} s",
                name_of(value),
                started.elapsed().as_secs_f64()
            );
            Ok((qemu, gpa))
        }
        Ok(Some(None)) => Err("the inner guest's WRITER line has no address".into()),
        Ok(None) => {
            let end = qemu.end(Duration::from_secs(5));
            // -no-reboot: a reset of the inner guest (a triple fault, or a
            // panic with panic=-1) ends QEMU with status 0, saying nothing;
            // a SIGBUS QEMU does not expect (a fault on its guest RAM it
            // cannot satisfy) ends it by that signal, saying nothing too.
            let hint = if end.contains("exit status 0") {
                " (status 0: the inner guest reset or powered off)"
            } else if end.contains("SIGBUS") {
                " (SIGBUS: QEMU touched guest RAM the host could not give it)"
            } else {
                ""
            };
            Err(format!(
                "QEMU ended before the inner guest's writer printed: {end}{hint}; the console's last lines: {:?}",
                console()
            ))
        }
        Err(_) => Err(format!(
            "no WRITER line from the inner guest within {limit:?}: {}; the console's last lines: {:?}",
            qemu.end(Duration::ZERO),
            console()
        )),
    }
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
