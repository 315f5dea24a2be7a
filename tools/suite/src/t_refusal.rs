// SPDX-License-Identifier: GPL-2.0
//! Load-time refusals: a module that cannot have a symbol it resolves from
//! /proc/kallsyms fails to load, with one kernel-log line `gfn_to_pfn: not
//! loaded: ...` naming the cause and what to do, and leaves nothing
//! registered (no /proc/modules line, no /sys/module/gfn_to_pfn, no
//! /proc/gfn_to_pfn).  The oracles: finit_module(2)'s error, the kernel log,
//! /proc/modules and the files.  Each test unloads the normal module first
//! and loads it again after.

use crate::check::ensure;
use crate::facility;
use crate::module::{self, log_mark, log_since};
use crate::runner::Outcome;
use std::path::Path;
use std::time::Instant;

/// The module built with GFN_SYMBOLS=kallsyms (testbed/module.sh): every
/// symbol from /proc/kallsyms, whatever the kernel exports.
pub const KALLSYMS_KO: &str = "/gfn_to_pfn-kallsyms.ko";
/// The start of a refusal line, after the module's `gfn_to_pfn: ` prefix.
const REFUSAL: &str = "not loaded: ";
const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";

/// A sysctl set for the test, set back to its old value when dropped (on
/// a failure too).
struct Sysctl {
    path: &'static str,
    old: String,
}

impl Sysctl {
    fn set(path: &'static str, value: &str) -> Result<Sysctl, String> {
        let old = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        std::fs::write(path, value).map_err(|e| format!("write {value} to {path}: {e}"))?;
        Ok(Sysctl {
            path,
            old: old.trim().to_string(),
        })
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(self.path, &self.old) {
            println!("     could not set {} back to {}: {e}", self.path, self.old);
        }
    }
}

/// Whether /proc/modules lists gfn_to_pfn (in any state: a half-loaded
/// module is listed as `Loading`).
fn listed() -> Result<bool, String> {
    let modules =
        std::fs::read_to_string("/proc/modules").map_err(|e| format!("/proc/modules: {e}"))?;
    Ok(modules.lines().any(|l| l.starts_with("gfn_to_pfn ")))
}

/// Loads module file `ko` with finit_module(2), once: what its init
/// returned.  Not busybox's insmod, which tries init_module(2) after a
/// failed finit_module(2), so runs a refusing module's init twice.
fn finit_module(ko: &str) -> Result<std::io::Result<()>, String> {
    let f = std::fs::File::open(ko).map_err(|e| format!("{ko}: {e}"))?;
    // SAFETY: finit_module(2) reads the module from the descriptor and the
    // empty, NUL-terminated parameter string; no memory of ours is written.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            std::os::unix::io::AsRawFd::as_raw_fd(&f),
            c"".as_ptr(),
            0 as libc::c_int,
        )
    };
    Ok(if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    })
}

/// How long reading /proc/kallsyms takes here (what the module does at
/// load time where it resolves symbols there), for the log.
fn kallsyms_cost() -> Result<String, String> {
    let start = Instant::now();
    let text =
        std::fs::read_to_string("/proc/kallsyms").map_err(|e| format!("/proc/kallsyms: {e}"))?;
    Ok(format!(
        "{} lines of /proc/kallsyms read from user space in {} ms",
        text.lines().count(),
        start.elapsed().as_millis()
    ))
}

/// Loading `ko` fails with one refusal line containing `phrase`, and
/// leaves nothing registered.
fn refused(ko: &str, phrase: &str) -> Result<(), String> {
    let mark = log_mark(&format!("refusal {phrase}"))?;
    let start = Instant::now();
    let loaded = finit_module(ko)?;
    let ms = start.elapsed().as_millis();
    let Err(said) = loaded else {
        module::rmmod()?;
        return Err(format!(
            "finit_module {ko} loaded it ({ms} ms); want it refused for {phrase}"
        ));
    };
    let refusals: Vec<String> = log_since(&mark)?
        .into_iter()
        .filter(|l| l.starts_with(REFUSAL))
        .collect();
    ensure(refusals.len() == 1 && refusals[0].contains(phrase), || {
        format!(
            "finit_module {ko} failed ({said}) with refusal lines {refusals:?}; want one naming {phrase}"
        )
    })?;
    ensure(!listed()?, || {
        "/proc/modules lists gfn_to_pfn after the refused load".to_string()
    })?;
    for path in [module::PROC, "/sys/module/gfn_to_pfn"] {
        ensure(!Path::new(path).exists(), || {
            format!("{path} is there after the refused load")
        })?;
    }
    println!(
        "     finit_module {ko} refused in {ms} ms ({said}): gfn_to_pfn: {}",
        refusals[0]
    );
    Ok(())
}

/// Unloads the normal module `normal` if it is loaded, runs `test`, and
/// loads `normal` again if it was loaded, whatever `test` found.
fn with_module_unloaded(
    normal: &str,
    test: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let was_loaded = listed()?;
    if was_loaded {
        module::rmmod()?;
    }
    let result = test();
    if was_loaded {
        let again = module::insmod(normal);
        result?;
        again.map_err(|e| format!("loading {normal} again after the test: {e}"))
    } else {
        result
    }
}

/// With kptr_restrict=2 /proc/kallsyms shows every address as 0 even to
/// root: a module resolving its symbols there is refused, naming
/// kptr_restrict.  The module: the forced kallsyms build, or the normal one
/// on a kernel that exports none of its symbols (a distribution's).
pub fn refusal_kptr_restrict(normal: &'static str) -> Result<(), Outcome> {
    let ko = facility::kallsyms_module(KALLSYMS_KO, normal)?;
    facility::file(KPTR_RESTRICT, "no kptr_restrict sysctl")?;
    println!("     {}", kallsyms_cost()?);
    Ok(with_module_unloaded(normal, || {
        let _restrict = Sysctl::set(KPTR_RESTRICT, "2")?;
        refused(ko, "kptr_restrict")
    })?)
}

/// On a kernel without CONFIG_KALLSYMS_ALL, /proc/kallsyms lists no data
/// symbols (kvm_lock and vm_list are the kvm module's, listed anyway; the
/// kernel's huge_zero_pfn is not): the forced kallsyms build is refused,
/// naming CONFIG_KALLSYMS_ALL.
pub fn refusal_no_kallsyms_all(normal: &'static str) -> Result<(), Outcome> {
    facility::kallsyms_without_data()?;
    let ko = facility::kallsyms_module(KALLSYMS_KO, normal)?;
    println!("     {}", kallsyms_cost()?);
    Ok(with_module_unloaded(normal, || {
        refused(ko, "CONFIG_KALLSYMS_ALL")
    })?)
}

/// A module built for another kernel release than this one
/// (testbed/guest.sh puts the 6.12 test kernel's into the distribution
/// kernel's guest).
pub const OTHER_RELEASE_KO: &str = "/gfn_to_pfn-other-release.ko";

/// The release a module file was built for: the first word of its
/// `vermagic=` in `.modinfo`.
fn vermagic_release(ko: &str) -> Result<String, String> {
    let bytes = std::fs::read(ko).map_err(|e| format!("{ko}: {e}"))?;
    let key = b"vermagic=";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .ok_or_else(|| format!("{ko} has no vermagic="))?;
    let rest = &bytes[at + key.len()..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(rest.len());
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// A module built for another kernel release is refused by the kernel's
/// module loader before its init runs, with one kernel-log line, and
/// nothing is left registered; the module for this kernel
/// loads again afterwards.  The oracles: the file's own vermagic against
/// uname's release, finit_module(2)'s error, the kernel log, /proc/modules.
pub fn refusal_other_release(normal: &'static str) -> Result<(), Outcome> {
    facility::file(
        OTHER_RELEASE_KO,
        "this guest has no module built for another kernel release",
    )?;
    let built = vermagic_release(OTHER_RELEASE_KO)?;
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| format!("osrelease: {e}"))?;
    let running = running.trim();
    ensure(built != running, || {
        format!("{OTHER_RELEASE_KO} was built for {built}, this very kernel")
    })?;
    Ok(with_module_unloaded(normal, || {
        let mark = log_mark("refusal other release")?;
        let loaded = finit_module(OTHER_RELEASE_KO)?;
        let Err(said) = loaded else {
            module::rmmod()?;
            return Err(format!(
                "{OTHER_RELEASE_KO}, built for {built}, loaded into {running}"
            ));
        };
        // The module loader's one line (7.3 checks the size of the
        // module's struct module first, then its version magic, then its
        // symbols); the module's own code never ran, so it said nothing.
        let lines = log_since(&mark)?;
        let loader = [
            "this_module section size",
            "version magic",
            "Unknown symbol",
        ];
        ensure(
            lines.len() == 1 && loader.iter().any(|l| lines[0].contains(l)),
            || {
                format!("finit_module failed ({said}) with kernel-log lines {lines:?}; want one of the module loader's ({loader:?})")
            },
        )?;
        ensure(!listed()?, || {
            "/proc/modules lists gfn_to_pfn after the refused load".to_string()
        })?;
        ensure(!Path::new(module::PROC).exists(), || {
            format!("{} is there after the refused load", module::PROC)
        })?;
        println!(
            "     finit_module of a module built for {built} refused by {running} ({said}): gfn_to_pfn: {}",
            lines[0]
        );
        Ok(())
    })?)
}
