// SPDX-License-Identifier: GPL-2.0
//! Runs each test in a child process of its own, under its own time limit.
//!
//! The suite re-executes itself as `guest-suite --one NAME KO` in a new
//! process group; the child prints `PASS name (N ms)` or `FAIL name: why
//! (N ms)`.  A child still running at its limit is killed with its whole
//! process group (the VMMs and QEMUs it started), reported as
//! `TIMEOUT name after N s`, and the suite goes on with the next test, so
//! the closing `N passed, M failed` line always comes.  Before each test the
//! runner prints `RUN name (limit N s)`: if the guest as a whole is stopped
//! (a test stuck in the kernel), the host names the last test started.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A test: its name, its time limit, and the test itself.
pub struct Test {
    pub name: &'static str,
    pub limit: Duration,
    pub run: Box<dyn Fn() -> Result<(), String>>,
}

impl Test {
    pub fn new(
        name: &'static str,
        limit: Duration,
        run: impl Fn() -> Result<(), String> + 'static,
    ) -> Test {
        Test {
            name,
            limit,
            run: Box::new(run),
        }
    }
}

/// How long a killed test's process may take to die before the runner
/// gives up on it (a task in uninterruptible sleep cannot be killed).
const DEATH_GRACE: Duration = Duration::from_secs(10);

/// The exit status of a child whose test failed and said so; any other
/// non-zero status (a panic's 101, say) is reported by the parent.
pub const FAILED: i32 = 1;

/// Runs `test` in this process (the child's side) and prints its verdict.
/// Returns whether it passed.
pub fn run_here(test: &Test) -> bool {
    let start = Instant::now();
    let result = (test.run)();
    let ms = start.elapsed().as_millis();
    match &result {
        Ok(()) => println!("PASS {} ({ms} ms)", test.name),
        Err(e) => println!("FAIL {}: {e} ({ms} ms)", test.name),
    }
    result.is_ok()
}

/// Waits until `child` has ended or `deadline` passes; true if it ended.
/// The child is not reaped (`WNOWAIT`): while it is a zombie its process
/// group id cannot be reused, so killing the group afterwards is safe.
fn ended_by(child: &Child, deadline: Instant) -> bool {
    loop {
        // SAFETY: `info` is a valid siginfo_t for waitid to fill; the pid
        // is our own child's.
        let ended = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let ret = libc::waitid(
                libc::P_PID,
                child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            // With WNOHANG, a child still running leaves si_pid 0; an error
            // means there is no such child left to wait for.
            ret != 0 || info.si_pid() != 0
        };
        if ended {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(5));
    }
}

/// Kills the process group `pgid` (a test and everything it started).
fn kill_group(pgid: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no
    // memory is involved.  ESRCH (nothing left) is fine.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

/// Runs `test` as `command` (this binary with `--one NAME ...`) in a
/// process group of its own.  Returns whether it passed.
pub fn run_child(test: &Test, mut command: Command) -> bool {
    println!("RUN {} (limit {} s)", test.name, test.limit.as_secs());
    let start = Instant::now();
    let mut child = match command.process_group(0).spawn() {
        Ok(child) => child,
        Err(e) => {
            println!("FAIL {}: cannot start its process: {e} (0 ms)", test.name);
            return false;
        }
    };
    let pgid = child.id();
    let ended = ended_by(&child, start + test.limit);
    // Whatever the test left running (a VMM, a QEMU) goes with it; on a
    // timeout, the test too.
    kill_group(pgid);
    let ms = start.elapsed().as_millis();
    if !ended {
        println!("TIMEOUT {} after {} s", test.name, test.limit.as_secs());
        if !ended_by(&child, Instant::now() + DEATH_GRACE) {
            println!(
                "     its process did not die within {} s of SIGKILL (stuck in the kernel?)",
                DEATH_GRACE.as_secs()
            );
            return false;
        }
    }
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => {
            println!("FAIL {}: waiting for its process: {e} ({ms} ms)", test.name);
            return false;
        }
    };
    match (ended, status.code(), status.signal()) {
        (true, Some(0), _) => true,
        // `run_here` printed the FAIL line.
        (true, Some(FAILED), _) => false,
        (true, Some(code), _) => {
            println!("FAIL {}: exited with status {code} ({ms} ms)", test.name);
            false
        }
        (true, None, signal) => {
            let signal = signal.unwrap_or(0);
            println!("FAIL {}: killed by signal {signal} ({ms} ms)", test.name);
            false
        }
        (false, ..) => false,
    }
}
