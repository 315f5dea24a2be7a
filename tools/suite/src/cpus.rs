// SPDX-License-Identifier: GPL-2.0
//! The guest's CPUs: race tests put the parties of a race on different
//! CPUs, so that they interleave in parallel and not only where one of
//! them sleeps or its time slice ends.

/// The CPU the VMM of a race test runs on (`gfn-vmm --cpu`); the test's
/// own threads start on `TEST_CPU`.
pub const VMM_CPU: &str = "1";
pub const TEST_CPU: usize = 0;

/// How many CPUs the guest has online.
pub fn online() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the calling thread on CPU `cpu` only.
pub fn pin(cpu: usize) -> Result<(), String> {
    // SAFETY: `set` is a plain bit set that CPU_ZERO and CPU_SET fill
    // and sched_setaffinity(2) reads, for the calling thread (0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Touches `bytes` of fresh memory in address order, then frees it: its
/// frames go back to this CPU's free lists last freed first, so pages
/// faulted in next on this CPU (by a VMM started from a thread pinned to
/// it, which inherits the CPU) mostly come in descending frame order, as
/// base pages of guests faulting in order on a busy host do.
pub fn recycle(bytes: usize) {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
}

/// Lets the calling thread run on every CPU again, after [`pin`].
pub fn unpin() -> Result<(), String> {
    // SAFETY: as in `pin`, with every CPU set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..online() {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// The test bed's guest has at least two CPUs, so the race tests race.
pub fn guest_has_two_cpus() -> Result<(), String> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map_err(|e| format!("/sys/devices/system/cpu/online: {e}"))?;
    let n = self::online();
    if n < 2 {
        return Err(format!("the guest has {n} CPU online ({})", online.trim()));
    }
    println!("     {n} CPUs online ({})", online.trim());
    Ok(())
}
