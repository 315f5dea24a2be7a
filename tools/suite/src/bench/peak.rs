// SPDX-License-Identifier: GPL-2.0
//! The peak-memory harness of `--bench`: runs `gfn_test` traced, so that
//! its peak resident memory can be read as it exits, with a watchdog.

use std::time::{Duration, Instant};

/// What one run of a tool cost: wall time, peak resident memory, and how
/// it ended.
pub(super) struct Run {
    pub(super) secs: f64,
    pub(super) max_rss_kib: u64,
    pub(super) status: String,
}

/// Longest a tool may run before it is killed.
const TOOL_LIMIT: Duration = Duration::from_secs(300);

/// Runs `/bin/gfn_test ARGS`, its output to /dev/null, and reaps it; kills
/// it after `TOOL_LIMIT`.
///
/// Its peak resident memory is its own `VmHWM`, read when it stops on its
/// way out (traced: `PTRACE_O_TRACEEXIT`), while it still has its memory.
/// Not wait4's ru_maxrss: exec(2) folds the peak of the image it replaces
/// into that, and the image a spawned child replaces is this process (a
/// vfork's) or a copy of its anonymous memory (a fork's).
pub(super) fn run_tool(args: &[&str]) -> Result<Run, String> {
    let start = Instant::now();
    let pid = spawn_traced("/bin/gfn_test", args)?;
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = wait.recv_timeout(TOOL_LIMIT).is_err();
        if late {
            // SAFETY: `pid` is a child not reaped yet: the tracer says done
            // when it stops on its way out, before it is reaped (or, one
            // whose exec failed, just after: it never got far).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        late
    });
    let traced = trace_to_exit(pid, done);
    let killed = watchdog.join().unwrap_or(false);
    let (hwm, status) = traced?;
    let status = if killed {
        format!("killed after {} s", TOOL_LIMIT.as_secs())
    } else if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("status {status:#x}")
    };
    Ok(Run {
        secs: start.elapsed().as_secs_f64(),
        max_rss_kib: hwm.unwrap_or(0),
        status,
    })
}

/// Starts `path ARGS` with stdout on /dev/null, traced by this process (it
/// stops at its exec, with SIGTRAP).
fn spawn_traced(path: &str, args: &[&str]) -> Result<libc::pid_t, String> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    let cstr = |s: &str| CString::new(s).map_err(|e| format!("{s:?}: {e}"));
    let file = cstr(path)?;
    let words = std::iter::once(path)
        .chain(args.iter().copied())
        .map(cstr)
        .collect::<Result<Vec<_>, _>>()?;
    let argv: Vec<*const libc::c_char> = words
        .iter()
        .map(|w| w.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    // SAFETY: the child only makes system calls (ptrace, dup2, execv,
    // _exit), which are async-signal-safe, on memory prepared before the
    // fork.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, NO_ADDR, 0 as libc::c_long);
            libc::dup2(null.as_raw_fd(), 1);
            libc::execv(file.as_ptr(), argv.as_ptr());
            libc::_exit(127)
        },
        pid => Ok(pid),
    }
}

/// ptrace(2)'s `addr`, which the requests used here ignore.  (Its
/// arguments are variadic: each must have the width the C library reads.)
const NO_ADDR: *mut libc::c_void = std::ptr::null_mut();

/// Follows traced child `pid` to its end and reaps it: its `VmHWM` (KiB)
/// as it stopped on its way out, and its wait status.  Says `done` once it
/// stopped on its way out (the watchdog then leaves the pid alone), or else
/// when it has ended.
fn trace_to_exit(
    pid: libc::pid_t,
    done: std::sync::mpsc::Sender<()>,
) -> Result<(Option<u64>, i32), String> {
    let mut hwm = None;
    let mut exec_seen = false;
    loop {
        let mut status = 0;
        // SAFETY: waits for this process's own child; writes the status.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if got != pid || !libc::WIFSTOPPED(status) {
            let _ = done.send(());
            if got != pid {
                return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
            }
            return Ok((hwm, status));
        }
        let mut pass = 0;
        if status >> 16 == libc::PTRACE_EVENT_EXIT {
            hwm = vm_hwm(pid);
            let _ = done.send(());
        } else if libc::WSTOPSIG(status) == libc::SIGTRAP && !exec_seen {
            // The stop at its exec: from here on, stop on the way out.
            exec_seen = true;
            let options = libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL;
            // SAFETY: `pid` is this process's tracee, stopped.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_SETOPTIONS,
                    pid,
                    NO_ADDR,
                    options as libc::c_long,
                )
            };
        } else {
            // A signal for the child: delivered as it would be untraced.
            pass = libc::WSTOPSIG(status);
        }
        // SAFETY: `pid` is this process's tracee, stopped.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, NO_ADDR, pass as libc::c_long) };
    }
}

/// `VmHWM` of process `pid`, in KiB: its peak resident memory so far.
fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
