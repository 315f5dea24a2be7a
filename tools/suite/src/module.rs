// SPDX-License-Identifier: GPL-2.0
//! Talks to /proc/gfn_to_pfn directly (raw open/write/read), so tests see
//! exactly what the kernel returns, errno included.

use gfn_proto::list::{decode_item, parse_item};
use gfn_proto::reply::{Reply, Translation};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};

pub const PROC: &str = "/proc/gfn_to_pfn";

pub fn open() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(PROC)
}

/// Writes `request` in one write(2) and reads the reply to EOF.
pub fn ask_on(f: &mut File, request: &[u8]) -> io::Result<String> {
    let n = f.write(request)?;
    if n != request.len() {
        return Err(io::Error::other(format!(
            "short write: {n} of {}",
            request.len()
        )));
    }
    let mut reply = String::new();
    f.read_to_string(&mut reply)?;
    Ok(reply)
}

/// One request on a fresh open file; the reply's lines, parsed.
pub fn ask(request: &str) -> Result<Vec<Reply>, String> {
    let mut f = open().map_err(|e| format!("open {PROC}: {e}"))?;
    let text = ask_on(&mut f, request.as_bytes()).map_err(|e| format!("{request:?}: {e}"))?;
    parse_replies(&text)
}

/// The replies of a text reply, line by line, a frame list's pages one
/// reply each.
pub fn parse_replies(text: &str) -> Result<Vec<Reply>, String> {
    let mut replies = Vec::new();
    for l in text.lines() {
        parse_item(l)
            .map_err(|e| format!("unparsable reply line {l:?}: {e:?}"))?
            .for_each(|r| replies.push(r));
    }
    Ok(replies)
}

/// The replies of a binary reply, record by record, a frame list's pages
/// one reply each.
pub fn decode_replies(mut bytes: &[u8]) -> Result<Vec<Reply>, String> {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        let (item, n) = decode_item(bytes)
            .map_err(|e| {
                format!(
                    "undecodable record {:02x?}: {e:?}",
                    &bytes[..bytes.len().min(48)]
                )
            })?
            .ok_or_else(|| format!("reply ends inside an item ({} bytes left)", bytes.len()))?;
        item.for_each(|r| replies.push(r));
        bytes = &bytes[n..];
    }
    Ok(replies)
}

/// The single translation a one-address request must produce.
pub fn translate(request: &str) -> Result<Translation, String> {
    let replies = ask(request)?;
    match replies.as_slice() {
        [Reply::Ok(t)] => Ok(*t),
        other => Err(format!("{request:?}: expected one ok line, got {other:?}")),
    }
}

pub fn insmod(ko: &str) -> Result<(), String> {
    run("insmod", &[ko]).map(drop)
}

/// Unloads the module (delete_module(2), as rmmod), trying again for up
/// to 10 s while it is in use: a system call in the module holds it, and
/// unloading fails at once (EBUSY) rather than wait for one that may never
/// end.  Tried in a tight loop, so that it also gets through between the
/// calls of clients that query without pause.
pub fn rmmod() -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        // SAFETY: the name is a NUL-terminated literal; delete_module(2)
        // only reads it.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_delete_module,
                c"gfn_to_pfn".as_ptr(),
                libc::O_NONBLOCK,
            )
        };
        if ret == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        let busy = matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN));
        if !busy || start.elapsed() > std::time::Duration::from_secs(10) {
            return Err(format!("unloading gfn_to_pfn: {err}"));
        }
        std::thread::yield_now();
    }
}

/// Runs `cmd`: whether it succeeded, and what it printed on stdout.
pub fn output(cmd: &str, args: &[&str]) -> Result<(bool, String), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// Runs `cmd`, which must succeed; returns its stdout.  A failure says
/// what it printed on both (busybox's insmod, say, errs on stderr).
pub fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(text);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{cmd} {args:?} failed: {}",
        format!("{text}{err}").trim_end()
    ))
}

/// The kernel log as `dmesg` prints it.
pub fn dmesg() -> Result<String, String> {
    let out = std::process::Command::new("dmesg")
        .output()
        .map_err(|e| format!("dmesg: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `log` module parameter's file.
pub const LOG_PARAM: &str = "/sys/module/gfn_to_pfn/parameters/log";

/// Sets the `log` parameter; every write starts a new rate-limit interval,
/// so a test that reads the log sees its own lines.
pub fn set_log(value: &str) -> Result<(), String> {
    std::fs::write(LOG_PARAM, value).map_err(|e| format!("write {value:?} to {LOG_PARAM}: {e}"))
}

/// Puts a marker line into the kernel log; returns it.
pub fn log_mark(what: &str) -> Result<String, String> {
    let mark = format!("guest-suite mark {what} {:?}", std::time::Instant::now());
    // With its newline the record is complete at once; without, the kernel
    // holds it open for a continuation and dmesg does not show it yet.
    std::fs::write("/dev/kmsg", format!("{mark}\n")).map_err(|e| format!("/dev/kmsg: {e}"))?;
    Ok(mark)
}

/// The module's kernel log lines after `mark`, without their prefix.
pub fn log_since(mark: &str) -> Result<Vec<String>, String> {
    let log = dmesg()?;
    let after = log
        .rfind(mark)
        .map(|at| &log[at..])
        .ok_or_else(|| format!("the kernel log lost the mark {mark:?}"))?;
    Ok(after
        .lines()
        .filter_map(|l| l.split_once("gfn_to_pfn: ").map(|(_, msg)| msg.to_string()))
        .collect())
}
