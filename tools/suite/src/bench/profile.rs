// SPDX-License-Identifier: GPL-2.0
//! The load `testbed/profile.sh` samples: single addresses asked for a
//! minute on the hugetlb VM of the bench, one way (`single`: write and
//! `pread` on one open file; `seed`: open, write, read, close each), from
//! CPU 0, while the host stops the guest now and then and reads where each
//! vCPU is.  The module's symbols are printed first (`PROFSYM`, from
//! /proc/kallsyms), for the host to name what it sampled; the kernel's own
//! come from the test kernel's System.map.  Not a test, and not a
//! benchmark: the time per address printed at the end is slowed by the
//! sampling.

use super::{one_file, seed_protocol, Requests, GPA, SINGLES};
use crate::module;
use crate::vmm::Vmm;
use std::time::Instant;

/// How long the load runs.
const SECS: f64 = 60.0;

/// Loads the module `ko` and asks single addresses `what` way (`single`,
/// `seed`) for `SECS` seconds.
pub fn run(ko: &str, what: &str) -> Result<(), String> {
    let seed = match what {
        "single" => false,
        "seed" => true,
        _ => return Err(format!("{what:?}: profile single or seed")),
    };
    module::insmod(ko)?;
    let vmm = Vmm::start(&["--slot", &format!("hugetlb:64M@{GPA:#x}")])?;
    let syms = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
    for line in syms.lines().filter(|l| l.ends_with("[gfn_to_pfn]")) {
        println!("PROFSYM {line}");
    }
    let requests = Requests::ready(vmm.pid);
    crate::cpus::pin(0)?;
    println!("PROFILE-START {what}");
    let start = Instant::now();
    let mut asked = 0;
    while start.elapsed().as_secs_f64() < SECS {
        if seed {
            seed_protocol(&requests)?;
        } else {
            one_file(&requests)?;
        }
        asked += SINGLES;
    }
    let ns = start.elapsed().as_secs_f64() * 1e9 / asked as f64;
    println!("PROFILE-END {asked} addresses, {ns:.0} ns each (sampling included)");
    crate::cpus::unpin()?;
    vmm.stop()
}
