// SPDX-License-Identifier: GPL-2.0
//! The proc file itself: who may open it, and how reads, seeks, polls and
//! separate open files behave.

use crate::check::ensure;
use crate::module::{self, ask_on, PROC};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;

pub fn proc_file_mode() -> Result<(), String> {
    let meta = std::fs::metadata(PROC).map_err(|e| format!("{PROC}: {e}"))?;
    let mode = meta.mode() & 0o7777;
    ensure(mode == 0o600 && meta.uid() == 0, || {
        format!(
            "{PROC} has mode {mode:o} owner {}, want 600 root",
            meta.uid()
        )
    })
}

/// Opens the proc file in a forked child that first runs `drop`; returns
/// the open's errno (0 when it succeeded).
pub fn open_in_child(drop: impl FnOnce() -> bool) -> Result<i32, String> {
    // SAFETY: the suite is single-threaded here; the child only makes
    // syscalls and leaves with _exit, never returning into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = if drop() {
            match module::open() {
                Ok(_) => 0,
                Err(e) => e.raw_os_error().unwrap_or(255),
            }
        } else {
            254
        };
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid int.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid || !libc::WIFEXITED(status) {
        return Err(format!("child {pid} did not exit normally ({status:#x})"));
    }
    match libc::WEXITSTATUS(status) {
        254 => Err("the child could not drop its privilege".into()),
        code => Ok(code),
    }
}

/// Drops CAP_SYS_ADMIN from this process's effective and permitted sets.
fn drop_cap_sys_admin() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAPABILITY_V3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    let mut hdr = Header {
        version: CAPABILITY_V3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header read and write two `Data`.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) != 0 {
            return false;
        }
        data[0].effective &= !(1 << CAP_SYS_ADMIN);
        data[0].permitted &= !(1 << CAP_SYS_ADMIN);
        libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) == 0
    }
}

pub fn non_root_refused() -> Result<(), String> {
    let code = open_in_child(|| {
        // SAFETY: plain credential syscalls in the forked child.
        unsafe { libc::setgid(65534) == 0 && libc::setuid(65534) == 0 }
    })?;
    ensure(code == libc::EACCES, || {
        format!("uid 65534 open: errno {code}, want EACCES")
    })?;
    let code = open_in_child(drop_cap_sys_admin)?;
    ensure(code == libc::EPERM, || {
        format!("root without CAP_SYS_ADMIN open: errno {code}, want EPERM")
    })?;
    let code = open_in_child(|| true)?;
    ensure(code == 0, || format!("root open in a child: errno {code}"))
}

pub fn read_seek_poll() -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    let mut a = module::open().map_err(e)?;
    let mut b = module::open().map_err(e)?;
    let ra = ask_on(&mut a, b"0x1000\n0x2000").map_err(e)?;
    let rb = ask_on(&mut b, b"0x3000").map_err(e)?;
    ensure(
        ra == no_vms(&[0x1000, 0x2000]) && rb == no_vms(&[0x3000]),
        || format!("separate files mixed replies: {ra:?} / {rb:?}"),
    )?;
    // Read-until-EOF again after a seek back to 0, in small pieces.
    a.seek(SeekFrom::Start(0)).map_err(e)?;
    let mut again = Vec::new();
    let mut piece = [0u8; 7];
    loop {
        let n = a.read(&mut piece).map_err(e)?;
        if n == 0 {
            break;
        }
        again.extend_from_slice(&piece[..n]);
    }
    ensure(again == ra.as_bytes(), || {
        "re-read after lseek(0) differs".into()
    })?;
    let mut at = vec![0u8; ra.len()];
    let n = a.read_at(&mut at, 0).map_err(e)?;
    ensure(n == ra.len() && at == ra.as_bytes(), || {
        "pread at 0 differs".into()
    })?;
    let end = a.seek(SeekFrom::End(0)).map_err(e)?;
    ensure(end == ra.len() as u64, || {
        format!("SEEK_END at {end}, reply is {}", ra.len())
    })?;
    let mut fds = libc::pollfd {
        fd: a.as_raw_fd(),
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `fds` is one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    ensure(n == 1 && fds.revents & libc::POLLIN != 0, || {
        format!("poll: {n}, revents {:#x}", fds.revents)
    })?;
    // A new write replaces the reply and reads start over.
    let rb2 = ask_on(&mut b, b"0x4000 0x5000 0x6000").map_err(e)?;
    ensure(rb2 == no_vms(&[0x4000, 0x5000, 0x6000]), || {
        format!("second request on one file: {rb2:?}")
    })
}

/// A file opened after another was closed takes over its room (the module
/// keeps the last closed file's reply storage for the next file,
/// `module/out.rs`): its reply is its own, byte for byte, and nothing of
/// the longer reply the storage held before reads past its end.
pub fn new_file_after_a_closed_ones_long_reply() -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    {
        let mut a = module::open().map_err(e)?;
        ask_long(&mut a)?;
    }
    let mut b = module::open().map_err(e)?;
    let rb = ask_on(&mut b, b"0x3000").map_err(e)?;
    ensure(rb == no_vms(&[0x3000]), || {
        format!("the next file's reply: {:?}", rb.get(..200).unwrap_or(&rb))
    })?;
    let end = b.seek(SeekFrom::End(0)).map_err(e)?;
    let mut past = [0u8; 4096];
    let n = b.read_at(&mut past, rb.len() as u64).map_err(e)?;
    ensure(end == rb.len() as u64 && n == 0, || {
        format!(
            "reply of {} bytes, SEEK_END at {end}, {n} bytes read past it",
            rb.len()
        )
    })
}

/// A request's text is read into the storage an earlier request's text
/// left (the module keeps one for the next request, `module/text.rs`): a
/// short request after a long one, on the same file and on the next file
/// opened, is answered as itself; a blank write after it is refused and
/// leaves its reply as it was.
pub fn a_short_request_after_a_long_one() -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    {
        let mut a = module::open().map_err(e)?;
        ask_long(&mut a)?;
        let short = ask_on(&mut a, b"0x3000").map_err(e)?;
        ensure(short == no_vms(&[0x3000]), || {
            format!(
                "the same file's next reply: {:?}",
                short.get(..200).unwrap_or(&short)
            )
        })?;
        let blank = a.write(b" ,\n\t");
        ensure(
            blank
                .as_ref()
                .is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL)),
            || format!("a blank write after it: {blank:?}"),
        )?;
        let mut again = String::new();
        a.seek(SeekFrom::Start(0)).map_err(e)?;
        a.read_to_string(&mut again).map_err(e)?;
        ensure(again == short, || {
            format!("after the blank write: {again:?}")
        })?;
    }
    let mut b = module::open().map_err(e)?;
    let rb = ask_on(&mut b, b"0x4000").map_err(e)?;
    ensure(rb == no_vms(&[0x4000]), || {
        format!("the next file's reply: {:?}", rb.get(..200).unwrap_or(&rb))
    })
}

/// Asks 1500 addresses (a 12 KiB request, a 46 KiB reply) on `f` while no
/// VM runs, and checks the reply.
fn ask_long(f: &mut std::fs::File) -> Result<(), String> {
    let gpas: Vec<u64> = (1..=1500u64).map(|i| i << 12).collect();
    let request = gpas
        .iter()
        .map(|g| format!("{g:#x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let reply = ask_on(f, request.as_bytes()).map_err(|e| e.to_string())?;
    ensure(reply == no_vms(&gpas), || {
        format!("{} addresses: a reply of {} bytes", gpas.len(), reply.len())
    })
}

/// The whole reply to `gpas` while no VM runs (no test's VMM outlives
/// it): a line each, in order (README, *Replies*).
fn no_vms(gpas: &[u64]) -> String {
    gpas.iter()
        .map(|gpa| format!("err:no-vms gpa={gpa:#x}\n"))
        .collect()
}

/// Reads a streamed map (several 64 KiB chunks) into a buffer whose second
/// page is `PROT_NONE`: each read returns what fits before the fault, never
/// an error, and the pieces make the same reply as plain reads.  The map
/// is of zero pages, one line each (they never merge into runs), faulted
/// in by the first, plain, read, so both reads see the same memory.
pub fn read_into_faulting_buffer() -> Result<(), String> {
    let vmm = crate::vmm::Vmm::start(&["--no-touch", "--slot", "anon:16M@0x40000000"])?;
    // Zero pages, a line each in plain runs: a reply of many reads.
    let request = format!("0x40000000+4096 mode=fault runs=plain pid={}", vmm.pid);
    let e = |e: std::io::Error| e.to_string();
    let plain = ask_on(&mut module::open().map_err(e)?, request.as_bytes()).map_err(e)?;
    ensure(plain.len() > 3 * 65536, || {
        format!("the map is only {} bytes", plain.len())
    })?;
    let page = 4096;
    // SAFETY: a fresh anonymous mapping of two pages, unmapped below; the
    // kernel writes into it only through read(2) with its address and size.
    let buf = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    ensure(buf != libc::MAP_FAILED, || "mmap failed".into())?;
    // SAFETY: the second page of the mapping just made.
    let prot = unsafe { libc::mprotect(buf.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) };
    let mut f = module::open().map_err(e)?;
    let result = (|| {
        ensure(prot == 0, || "mprotect failed".into())?;
        std::io::Write::write_all(&mut f, request.as_bytes()).map_err(e)?;
        let mut got = Vec::new();
        loop {
            // SAFETY: `buf` is 2 pages long; the kernel must stop at the
            // second, which faults.
            let n = unsafe { libc::read(f.as_raw_fd(), buf, 2 * page) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                return Err(format!("read after {} bytes: {err}", got.len()));
            }
            if n == 0 {
                break;
            }
            ensure(n as usize <= page, || {
                format!("read {n} bytes past the fault")
            })?;
            // SAFETY: the kernel wrote `n` bytes at `buf`.
            got.extend_from_slice(unsafe {
                std::slice::from_raw_parts(buf.cast::<u8>(), n as usize)
            });
        }
        ensure(got == plain.as_bytes(), || {
            format!(
                "{} bytes read in pieces, {} in one go",
                got.len(),
                plain.len()
            )
        })
    })();
    // SAFETY: unmaps the mapping made above, no longer used.
    unsafe { libc::munmap(buf, 2 * page) };
    result?;
    vmm.stop()
}
