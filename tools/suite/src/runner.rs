// SPDX-License-Identifier: GPL-2.0
//! Runs each test in a child process of its own, under its own time limit.
//!
//! The suite re-executes itself as `guest-suite --one NAME KO` in a new
//! process group; the child prints `PASS name (N ms)`, `FAIL name: why
//! (N ms)` or `SKIP name: why (N ms)` (the kernel lacks what the test needs,
//! see `facility`).  A child still running at its limit is killed with its
//! whole process group (the VMMs and QEMUs it started), reported as
//! `TIMEOUT name after N s`, and the suite goes on with the next test, so
//! the closing `N passed, M failed, K skipped` line always comes.  Before each test the
//! runner prints `RUN name (limit N s)`: if the guest as a whole is stopped
//! (a test stuck in the kernel), the host names the last test started.

use crate::facility::Missing;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Why a test did not pass: it failed, or what it needs is missing.  A
/// test that returns `Result<(), String>` can only fail; a skip needs a
/// `Missing`, which only `facility`'s checks make, after finding the
/// facility absent.
#[derive(Debug)]
pub enum Outcome {
    Fail(String),
    Skip(Missing),
}

impl From<String> for Outcome {
    fn from(why: String) -> Outcome {
        Outcome::Fail(why)
    }
}

impl From<&str> for Outcome {
    fn from(why: &str) -> Outcome {
        Outcome::Fail(why.to_string())
    }
}

/// How a test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

/// A test: its name, its time limit, and the test itself.
pub struct Test {
    pub name: &'static str,
    pub limit: Duration,
    pub run: Box<dyn Fn() -> Result<(), Outcome>>,
}

impl Test {
    /// A test that passes or fails.
    pub fn new(
        name: &'static str,
        limit: Duration,
        run: impl Fn() -> Result<(), String> + 'static,
    ) -> Test {
        Test::may_skip(name, limit, move || run().map_err(Outcome::Fail))
    }

    /// A test that may also skip (see `facility`).
    pub fn may_skip(
        name: &'static str,
        limit: Duration,
        run: impl Fn() -> Result<(), Outcome> + 'static,
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

/// The exit status of a child whose test was skipped and said why (77, as
/// automake's test drivers have it).
pub const SKIPPED: i32 = 77;

/// Runs `test` in this process (the child's side) and prints its verdict.
pub fn run_here(test: &Test) -> Verdict {
    let start = Instant::now();
    let result = (test.run)();
    let ms = start.elapsed().as_millis();
    match &result {
        Ok(()) => println!("PASS {} ({ms} ms)", test.name),
        Err(Outcome::Fail(e)) => println!("FAIL {}: {e} ({ms} ms)", test.name),
        Err(Outcome::Skip(why)) => println!("SKIP {}: {why} ({ms} ms)", test.name),
    }
    match result {
        Ok(()) => Verdict::Pass,
        Err(Outcome::Fail(_)) => Verdict::Fail,
        Err(Outcome::Skip(_)) => Verdict::Skip,
    }
}

/// The exit status the child ends with for `verdict`.
pub fn exit_status(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::Fail => FAILED,
        Verdict::Skip => SKIPPED,
    }
}

/// Waits until `child` has ended or `deadline` passes; true if it ended.
/// The child is not reaped (`WNOWAIT`): while it is a zombie its process
/// group id cannot be reused, so killing the group afterwards is safe.
///
/// It sleeps in poll(2) on a pidfd of the child, which wakes it only when
/// the child ends or the deadline passes: waking every few milliseconds to
/// look (as it once did) interrupts the vCPU that runs a nested guest, and
/// under single-threaded TCG that made the nested guests of the `qemu_*`
/// tests stop in their first seconds more often (issue 32, on Debian's
/// kernel: 2 of 12 boots with a 5 ms sleeper beside them, none of 24
/// without; 6 of 35 under this runner before, 1 of 21 since).
fn ended_by(child: &Child, deadline: Instant) -> bool {
    // SAFETY: pidfd_open(2) takes a pid and flags and touches no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    let Ok(fd) = i32::try_from(fd) else {
        return ended_by_looking(child, deadline);
    };
    if fd < 0 {
        return ended_by_looking(child, deadline);
    }
    // SAFETY: `fd` is the pidfd just opened, owned here and closed on drop.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd for poll(2) to fill.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return true;
        }
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return has_ended(child)
                || Instant::now() < deadline && ended_by_looking(child, deadline);
        }
    }
}

/// Whether `child` has ended (a zombie, not reaped), or there is no such
/// child left to wait for.
fn has_ended(child: &Child) -> bool {
    // SAFETY: `info` is a valid siginfo_t for waitid to fill; the pid is
    // our own child's.
    unsafe {
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
    }
}

/// [`ended_by`] without a pidfd (a kernel before 5.3): looks every 5 ms.
fn ended_by_looking(child: &Child, deadline: Instant) -> bool {
    loop {
        if has_ended(child) {
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
/// process group of its own.  Returns how it ended; a timeout is a failure.
pub fn run_child(test: &Test, mut command: Command) -> Verdict {
    println!("RUN {} (limit {} s)", test.name, test.limit.as_secs());
    let start = Instant::now();
    let mut child = match command.process_group(0).spawn() {
        Ok(child) => child,
        Err(e) => {
            println!("FAIL {}: cannot start its process: {e} (0 ms)", test.name);
            return Verdict::Fail;
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
            return Verdict::Fail;
        }
    }
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => {
            println!("FAIL {}: waiting for its process: {e} ({ms} ms)", test.name);
            return Verdict::Fail;
        }
    };
    match (ended, status.code(), status.signal()) {
        (true, Some(0), _) => Verdict::Pass,
        // `run_here` printed the FAIL or SKIP line.
        (true, Some(FAILED), _) => Verdict::Fail,
        (true, Some(SKIPPED), _) => Verdict::Skip,
        (true, Some(code), _) => {
            println!("FAIL {}: exited with status {code} ({ms} ms)", test.name);
            Verdict::Fail
        }
        (true, None, signal) => {
            let signal = signal.unwrap_or(0);
            println!("FAIL {}: killed by signal {signal} ({ms} ms)", test.name);
            Verdict::Fail
        }
        (false, ..) => Verdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facility;

    fn child(status: i32) -> Verdict {
        let test = Test::new("t", Duration::from_secs(10), || Ok(()));
        let mut command = Command::new("sh");
        command.args(["-c", &format!("exit {status}")]);
        run_child(&test, command)
    }

    #[test]
    fn a_child_that_skipped_is_told_apart() {
        assert_eq!(child(0), Verdict::Pass);
        assert_eq!(child(FAILED), Verdict::Fail);
        assert_eq!(child(SKIPPED), Verdict::Skip);
        // A panic's status is a failure, never a skip.
        assert_eq!(child(101), Verdict::Fail);
    }

    #[test]
    fn only_a_missing_facility_skips() {
        let absent = Test::may_skip("absent", Duration::from_secs(1), || {
            facility::file("/nonexistent/gfn-suite-check", "nothing")
        });
        assert_eq!(run_here(&absent), Verdict::Skip);
        assert_eq!(exit_status(Verdict::Skip), SKIPPED);
        // The same check on a file that exists goes on with the test.
        let present = Test::may_skip("present", Duration::from_secs(1), || {
            facility::file("/", "the root directory")?;
            Err("then fails".into())
        });
        assert_eq!(run_here(&present), Verdict::Fail);
        let fails = Test::new("fails", Duration::from_secs(1), || Err("no".into()));
        assert_eq!(run_here(&fails), Verdict::Fail);
    }
}
