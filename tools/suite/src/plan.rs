// SPDX-License-Identifier: GPL-2.0
//! How hard the suite pushes, by kernel flavour: the counts of the heavy
//! tests and the time each test may take.
//!
//! The debug kernel (KASAN, lockdep, DEBUG_VM) runs every scenario of the
//! fast one, with smaller counts so that `make check` fits its budget; every
//! code path still runs.  `make soak` runs the debug kernel with the large
//! counts.  The flavour comes from the kernel command line
//! (`gfn.flavour=fast|debug`, exported by the guest's init as
//! `GFN_FLAVOUR`); `GFN_SOAK=1` selects the soak counts.

use std::time::Duration;

/// Counts of the scaled tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// VMs created, run and destroyed under 8 querying clients.
    pub vm_cycles: u64,
    /// Random operations on four open files.
    pub fuzz_ops: u64,
    /// Batches of 500 translations before the leak check.
    pub leak_batches: u64,
    /// Maps read while the VMM deletes and re-adds its memslot.
    pub churn_rounds: u64,
    /// VMMs started and stopped while another thread queries.
    pub vm_starts: u64,
    /// Maps read while the VMM's memory is dropped, collapsed, split,
    /// moved and remapped (a fifth as many while pages migrate).
    pub mm_rounds: u64,
}

/// What this run of the suite is.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// `fast`, `debug` or `soak`, as printed in the suite's first line.
    pub name: &'static str,
    pub counts: Counts,
    /// How much slower than the fast kernel this kernel runs the same work:
    /// measured about 5x for KASAN + lockdep + DEBUG_VM under TCG, so 6.
    pub slowdown: u32,
}

/// The fast kernel in `make check`.
pub const FAST: Plan = Plan {
    name: "fast",
    counts: Counts {
        vm_cycles: 300,
        fuzz_ops: 100_000,
        leak_batches: 200,
        churn_rounds: 100,
        vm_starts: 40,
        mm_rounds: 1000,
    },
    slowdown: 1,
};

/// The debug kernel in `make check`: the same scenarios, fewer rounds.
pub const DEBUG: Plan = Plan {
    name: "debug",
    counts: Counts {
        vm_cycles: 30,
        fuzz_ops: 20_000,
        leak_batches: 40,
        churn_rounds: 40,
        vm_starts: 15,
        mm_rounds: 200,
    },
    slowdown: 6,
};

/// `make soak`: the debug kernel with the large counts, about 70 minutes
/// on 2 cores.  VM cycles cost 1.25 s each on the debug kernel (measured
/// in a soak), so 2000 of them take 42 minutes; 10^4 would take 3.5 hours.
pub const SOAK: Plan = Plan {
    name: "soak",
    counts: Counts {
        vm_cycles: 2_000,
        fuzz_ops: 1_000_000,
        leak_batches: 2_000,
        churn_rounds: 1_000,
        vm_starts: 400,
        mm_rounds: 5000,
    },
    slowdown: 6,
};

impl Plan {
    /// The plan the environment asks for (`GFN_FLAVOUR`, `GFN_SOAK`).
    pub fn from_env() -> Plan {
        if std::env::var("GFN_SOAK").is_ok_and(|v| v != "0" && !v.is_empty()) {
            return SOAK;
        }
        match std::env::var("GFN_FLAVOUR").as_deref() {
            Ok("debug") => DEBUG,
            _ => FAST,
        }
    }

    /// The time limit of a test that takes `fast_secs` on the fast kernel
    /// of the machine docs/testing.md was measured on.  A margin of 4: 2 for a
    /// machine twice as slow, 2 for run-to-run noise; never under 30 s, so
    /// that short tests are not judged by a scheduler hiccup.
    pub fn limit(&self, fast_secs: f64) -> Duration {
        let secs = fast_secs * 4.0 * f64::from(self.slowdown);
        Duration::from_secs_f64(secs.max(30.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_runs_fewer_rounds_and_soak_more() {
        let (f, d, s) = (FAST.counts, DEBUG.counts, SOAK.counts);
        for (fast, debug, soak) in [
            (f.vm_cycles, d.vm_cycles, s.vm_cycles),
            (f.fuzz_ops, d.fuzz_ops, s.fuzz_ops),
            (f.leak_batches, d.leak_batches, s.leak_batches),
            (f.churn_rounds, d.churn_rounds, s.churn_rounds),
            (f.vm_starts, d.vm_starts, s.vm_starts),
            (f.mm_rounds, d.mm_rounds, s.mm_rounds),
        ] {
            assert!(debug > 0 && debug <= fast && fast < soak);
        }
    }

    #[test]
    fn limits_have_the_margin_and_a_floor() {
        assert_eq!(FAST.limit(0.1), Duration::from_secs(30));
        assert_eq!(FAST.limit(20.0), Duration::from_secs(80));
        assert_eq!(DEBUG.limit(20.0), Duration::from_secs(480));
    }
}
