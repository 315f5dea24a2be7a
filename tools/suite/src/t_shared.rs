// SPDX-License-Identifier: GPL-2.0
//! An open file shared by processes (a descriptor inherited or duplicated)
//! while one of them waits in a fault that never finishes (`mode=fault` on
//! memory whose userfaultfd never resolves it): the others, and rmmod, are
//! never left waiting where a signal cannot reach them, and a reader
//! killed mid-reply takes no reply with it.

use crate::check::ensure;
use crate::module::{self, PROC};
use crate::vmm::Vmm;
use gfn_proto::reply::{parse_line, Reply};
use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SLOT_GPA: u64 = 0x4000_0000;

/// A VMM whose first slot (2 MiB at `SLOT_GPA`, untouched) faults wait on
/// a userfaultfd nothing resolves, with `more` slots after it.
fn stuck_vmm(more: &[&str]) -> Result<Vmm, String> {
    let slot = format!("anon:2M@{SLOT_GPA:#x}");
    let uffd = format!("{SLOT_GPA:#x}");
    let mut args = vec!["--no-touch", "--slot", &slot, "--uffd", &uffd];
    args.extend(more);
    Vmm::start(&args)
}

/// A shell that writes `request` to the proc file on its stdout, `file`
/// (shared with the caller): it waits in the fault.
fn stuck_writer(file: &File, request: &str) -> Result<Child, String> {
    let child = Command::new("sh")
        .args(["-c", &format!("echo '{request}'")])
        .stdout(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    std::thread::sleep(Duration::from_millis(500));
    Ok(child)
}

/// Waits up to `limit` for `child` to exit.
fn exited_within(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>, String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(status));
        }
        if start.elapsed() >= limit {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One process waits in a fault on a shared file while another reads it:
/// SIGKILL ends the reader within a second.  (With the VFS's position lock
/// on the file, the reader waited for the writer's fault without a way to
/// be killed.)
pub fn shared_file_reader_is_killable() -> Result<(), String> {
    let vmm = stuck_vmm(&[])?;
    let file = module::open().map_err(|e| e.to_string())?;
    let request = format!("{:#x} mode=fault pid={}", SLOT_GPA + 0x1000, vmm.pid);
    let mut writer = stuck_writer(&file, &request)?;
    let early = writer.try_wait().map_err(|e| e.to_string())?;
    ensure(early.is_none(), || {
        format!("the writer did not wait for the fault: {early:?}")
    })?;
    let mut reader = Command::new("cat")
        .stdin(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cat: {e}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    let _ = reader.kill();
    let ended = exited_within(&mut reader, Duration::from_secs(2))?;
    let took = killed.elapsed();
    // The writer's wait can be killed too; the reader then goes on.
    let _ = writer.kill();
    writer.wait().map_err(|e| e.to_string())?;
    reader.wait().map_err(|e| e.to_string())?;
    ensure(ended.is_some() && took < Duration::from_secs(1), || {
        format!(
            "the killed reader took {took:?} to exit (still there: {})",
            ended.is_none()
        )
    })?;
    println!("     the killed reader exited in {} ms", took.as_millis());
    vmm.stop()
}

/// rmmod while a writer waits in a fault: it fails at once (the module is
/// in use) rather than wait for the fault, and the module goes on
/// working; once the writer is killed, rmmod succeeds.
pub fn rmmod_while_a_fault_waits(ko: &str) -> Result<(), String> {
    let vmm = stuck_vmm(&[])?;
    let file = module::open().map_err(|e| e.to_string())?;
    let request = format!("{:#x} mode=fault pid={}", SLOT_GPA + 0x1000, vmm.pid);
    let mut writer = stuck_writer(&file, &request)?;
    drop(file);
    let started = Instant::now();
    let mut rmmod = Command::new("rmmod")
        .arg("gfn_to_pfn")
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("rmmod: {e}"))?;
    let ended = exited_within(&mut rmmod, Duration::from_secs(2))?;
    let took = started.elapsed();
    let _ = writer.kill();
    writer.wait().map_err(|e| e.to_string())?;
    let Some(status) = ended else {
        // It waited for the writer; it unloads once the writer is gone.
        rmmod.wait().map_err(|e| e.to_string())?;
        module::insmod(ko)?;
        return Err(format!("rmmod waited {took:?} for the fault"));
    };
    ensure(!status.success(), || {
        "rmmod unloaded the module under a waiting writer".to_string()
    })?;
    ensure(std::path::Path::new(PROC).exists(), || {
        "the module's file went".to_string()
    })?;
    let vms = module::ask("vms")?;
    ensure(
        vms.iter()
            .any(|r| matches!(r, Reply::Vm { pid, .. } if *pid == vmm.pid)),
        || format!("after the refused rmmod: {vms:?}"),
    )?;
    println!(
        "     rmmod refused in {} ms while the fault waited; unloads after",
        took.as_millis()
    );
    module::rmmod()?;
    module::insmod(ko)?;
    vmm.stop()
}

/// A reader sharing the file is killed while it waits in a fault in the
/// middle of a reply (the write answered the first chunk; the reader the
/// next, up to the address whose fault waits); the fault is then
/// resolved and the writer reads on: every address gets exactly one
/// reply, in order.
pub fn killed_reader_loses_no_reply() -> Result<(), String> {
    const B: u64 = SLOT_GPA + 0x20_0000;
    let mut vmm = stuck_vmm(&["--slot", &format!("anon:8M@{B:#x}")])?;
    // 1200 pages of the second slot, the waiting page, 10 more.
    let mut gpas: Vec<u64> = (0..1200).map(|i| B + i * 4096).collect();
    gpas.push(SLOT_GPA);
    gpas.extend((1200..1210).map(|i| B + i * 4096));
    let mut request: String = gpas.iter().map(|g| format!("{g:#x} ")).collect();
    request += &format!("mode=fault pid={}", vmm.pid);
    let mut file = module::open().map_err(|e| e.to_string())?;
    let n = std::io::Write::write(&mut file, request.as_bytes()).map_err(|e| e.to_string())?;
    ensure(n == request.len(), || format!("short write of {n}"))?;

    let mut reader = Command::new("cat")
        .stdin(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cat: {e}"))?;
    let mut out = reader.stdout.take().ok_or("no stdout")?;
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let collector = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    // The reader is waiting once what it passed on stops growing.
    let (mut last, mut still) = (0, 0);
    while still < 20 {
        std::thread::sleep(Duration::from_millis(50));
        let now = got.lock().unwrap().len();
        still = if now == last && now > 0 { still + 1 } else { 0 };
        last = now;
    }
    let _ = reader.kill();
    reader.wait().map_err(|e| e.to_string())?;
    collector.join().map_err(|_| "collector panicked")?;
    vmm.command(&format!("resolve {SLOT_GPA:#x}"))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)
        .map_err(|e| format!("reading on: {e}"))?;
    let mut text = got.lock().unwrap().clone();
    let before = text.len();
    text.extend(rest);
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;
    let told: Vec<u64> = text
        .lines()
        .map(|l| match parse_line(l) {
            Ok(Reply::Ok(t)) => Ok(t.gpa),
            other => Err(format!("line {l:?}: {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    ensure(told == gpas, || {
        let missing: Vec<_> = gpas.iter().filter(|g| !told.contains(g)).collect();
        format!(
            "{} replies for {} addresses ({before} bytes before the kill); missing {missing:x?}",
            told.len(),
            gpas.len()
        )
    })?;
    println!(
        "     {} replies in order; the killed reader had passed on {before} bytes",
        told.len()
    );
    vmm.stop()
}
