// SPDX-License-Identifier: GPL-2.0
//! What a test needs of the kernel, checked for real.  A test whose
//! facility is absent ends as skipped (`SKIP name: why`), never passed.
//! Only these checks make a `Missing`, each after finding the facility
//! absent in the running kernel (a file that does not exist, a VM type KVM
//! does not offer, /dev/mem and /proc/kcore refusing RAM), never from the
//! kernel's name or its command line: a facility that is there is tested,
//! whatever kernel it is in.

use crate::runner::Outcome;
use std::collections::BTreeSet;

/// What a skipped test lacks, and why that makes it skip.
#[derive(Debug)]
pub struct Missing(String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn skip(why: String) -> Outcome {
    Outcome::Skip(Missing(why))
}

/// Goes on where the test bed boots nested QEMU guests reliably: the
/// test kernels.  Under the distribution's own kernel (testbed/guest.sh's
/// `gfn.kernel=debian`, whose KVM is then the outer one, under
/// single-threaded TCG) the inner guest sometimes stops in its first
/// seconds: 6 of 35 boots under the suite's runner when it looked at its
/// child every 5 ms, 1 of 21 since it sleeps on a pidfd; in one boot of
/// 36 trials, 2 of 12 with a 5 ms sleeper beside them, none of 12 alone
/// or of 12 beside a busy loop.  A stopped inner CPU spins on a lock with
/// the timer's vector in service and pending again: an interrupt taken
/// where the inner kernel had them off, so the suspect is the nested SVM
/// event injection of QEMU 7.2's TCG or of that kernel's KVM, not this
/// project's code (docs/testing.md, "Tests"; issue 32).  A property of the test
/// bed, not of a kernel facility, so it is the one skip decided by which
/// kernel this is; the same tests run on the test kernels in the same
/// `make check`.
pub fn nested_qemu() -> Result<(), Outcome> {
    let cmdline = std::fs::read_to_string("/proc/cmdline")
        .map_err(|e| Outcome::Fail(format!("/proc/cmdline: {e}")))?;
    if cmdline.split_whitespace().any(|w| w == "gfn.kernel=debian") {
        return Err(skip(
            "nested QEMU guests do not boot reliably in the test bed under the distribution's kernel \
             (its KVM as the outer one, single-threaded TCG: about 1 inner boot in 20 stops in its \
             first seconds, an interrupt taken where the inner kernel had them off; issue 32); \
             these tests run on the test kernels"
                .to_string(),
        ));
    }
    Ok(())
}

/// Goes on if `path` exists; skips if it does not (`what`: the facility
/// it stands for).  Any other error (say, permission) is a failure.
pub fn file(path: &str, what: &str) -> Result<(), Outcome> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(skip(format!("no {path}: {what}")))
        }
        Err(e) => Err(Outcome::Fail(format!("{path}: {e}"))),
    }
}

/// A driver for one of `names` (file systems): listed in
/// /proc/filesystems, built in or loaded.
pub fn file_system(names: &[&str]) -> Result<(), Outcome> {
    let list = std::fs::read_to_string("/proc/filesystems")
        .map_err(|e| format!("/proc/filesystems: {e}"))?;
    let known = list
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .any(|fs| names.contains(&fs));
    if known {
        return Ok(());
    }
    Err(skip(format!(
        "/proc/filesystems lists none of {}",
        names.join(", ")
    )))
}

/// Idle page tracking (its bitmap is the oracle of untouched pages).
pub fn page_idle() -> Result<(), Outcome> {
    file(
        "/sys/kernel/mm/page_idle/bitmap",
        "the kernel lacks CONFIG_IDLE_PAGE_TRACKING",
    )
}

/// /dev/mem that reads and maps RAM (CONFIG_STRICT_DEVMEM off): tried on
/// a page of this process's own.
pub fn devmem_reads_ram(needed_for: &str) -> Result<(), Outcome> {
    match crate::oracle::devmem_refuses_ram()? {
        None => Ok(()),
        Some(why) => Err(skip(format!(
            "{why} (CONFIG_STRICT_DEVMEM), and {needed_for} needs it"
        ))),
    }
}

/// A source `reader` reads RAM through (/dev/mem, else /proc/kcore, as
/// `gfn_client::phys::read` takes them), tried on a page of this
/// process's own.  Skips where the kernel refuses both (STRICT_DEVMEM or
/// lockdown for /dev/mem; no CONFIG_PROC_KCORE or lockdown for kcore);
/// any other error, or a wrong read, is a failure.
pub fn ram_reader(needed_for: &str) -> Result<gfn_client::phys::Source, Outcome> {
    match crate::oracle::ram_source()? {
        Ok(source) => Ok(source),
        Err(r) if kernel_refuses_both(&r) => Err(skip(format!(
            "{r}: no physical-memory source for {needed_for}"
        ))),
        Err(r) => Err(Outcome::Fail(format!("reading RAM: {r}"))),
    }
}

/// Whether the kernel refused /dev/mem and then /proc/kcore's open (its
/// configuration or lockdown), rather than a read breaking.
fn kernel_refuses_both(r: &gfn_client::phys::Refusals) -> bool {
    r.devmem_refused() && matches!(r.kcore, Some(gfn_client::phys::KcoreError::Open(_)))
}

/// KVM's VM types, as KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) tells them: a
/// mask with bit N set for type N.
fn kvm_vm_types() -> Result<u64, String> {
    const KVM_CHECK_EXTENSION: libc::c_ulong = 0xae03;
    const KVM_CAP_VM_TYPES: libc::c_ulong = 235;
    let kvm = std::fs::File::open("/dev/kvm").map_err(|e| format!("/dev/kvm: {e}"))?;
    // SAFETY: KVM_CHECK_EXTENSION takes an integer and returns one; no
    // memory is passed.
    let ret = unsafe {
        libc::ioctl(
            std::os::unix::io::AsRawFd::as_raw_fd(&kvm),
            KVM_CHECK_EXTENSION,
            KVM_CAP_VM_TYPES,
        )
    };
    if ret < 0 {
        return Err(format!(
            "KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(ret as u64)
}

/// KVM_X86_SW_PROTECTED_VM, the VM type whose guest_memfd memory is not
/// encrypted (CONFIG_KVM_SW_PROTECTED_VM).
pub fn kvm_sw_protected_vm() -> Result<(), Outcome> {
    const KVM_X86_SW_PROTECTED_VM: u32 = 1;
    let types = kvm_vm_types()?;
    if types >> KVM_X86_SW_PROTECTED_VM & 1 == 1 {
        return Ok(());
    }
    Err(skip(format!(
        "KVM offers no KVM_X86_SW_PROTECTED_VM (VM types {types:#x}): \
         the kernel lacks CONFIG_KVM_SW_PROTECTED_VM"
    )))
}

/// A kernel without CONFIG_KALLSYMS_ALL: its /proc/kallsyms lists none of
/// its data symbols (types d, b, r), such as huge_zero_pfn, which the
/// module needs, but for section markers (`__start_*`, `__stop_*`, always
/// kept: 50 on the 6.12 test kernel) and the odd one at a text range's
/// edge.  Modules' symbols are always listed, so only the kernel's own
/// lines count.
pub fn kallsyms_without_data() -> Result<(), Outcome> {
    /// Data symbols at the edges of the text ranges, listed without
    /// KALLSYMS_ALL too; with it there are tens of thousands.
    const AT_TEXT_EDGES: usize = 16;
    let text =
        std::fs::read_to_string("/proc/kallsyms").map_err(|e| format!("/proc/kallsyms: {e}"))?;
    let data: Vec<&str> = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 3
                && matches!(f[1], "d" | "D" | "b" | "B" | "r" | "R")
                && !f[2].starts_with("__start_")
                && !f[2].starts_with("__stop_")
        })
        .collect();
    let zero_pfn = data.iter().find(|l| l.ends_with(" huge_zero_pfn"));
    match (zero_pfn, data.len()) {
        (None, n) if n <= AT_TEXT_EDGES => Ok(()),
        (line, n) => Err(skip(format!(
            "the kernel has CONFIG_KALLSYMS_ALL: /proc/kallsyms lists {n} of its data \
             symbols besides section markers{}; the first: {:?}",
            line.map(|l| format!(", {l:?} among them"))
                .unwrap_or_default(),
            data.first().copied().unwrap_or_default()
        ))),
    }
}

/// What gfn_to_pfn takes from the kernel's exports where the kernel (or
/// the patches) exports them, and from /proc/kallsyms where not: a module
/// file that imports all of them reads nothing there.
const EXPORTS_OR_KALLSYMS: [&str; 4] = ["walk_page_range", "vm_list", "kvm_lock", "huge_zero_pfn"];

/// The symbols of `EXPORTS_OR_KALLSYMS` that module file `ko` does not
/// import, so resolves from /proc/kallsyms when it loads.
pub fn resolved_from_kallsyms(ko: &str) -> Result<BTreeSet<&'static str>, String> {
    let f = std::fs::File::open(ko).map_err(|e| format!("{ko}: {e}"))?;
    let imports = crate::elf::undefined_symbols(&crate::elf::file_reader(&f, ko))?;
    Ok(EXPORTS_OR_KALLSYMS
        .into_iter()
        .filter(|s| !imports.contains(*s))
        .collect())
}

/// The module file to test a refusal of /proc/kallsyms with: `forced`
/// (the build with GFN_SYMBOLS=kallsyms) where it exists, taken as it is
/// (a forced build that imports everything fails its test, not skips it);
/// else `normal`, if it resolves symbols from /proc/kallsyms by its
/// imports (a kernel that exports none of them); else skips.
pub fn kallsyms_module(
    forced: &'static str,
    normal: &'static str,
) -> Result<&'static str, Outcome> {
    if std::path::Path::new(forced).exists() {
        return Ok(forced);
    }
    if !resolved_from_kallsyms(normal)?.is_empty() {
        return Ok(normal);
    }
    Err(skip(format!(
        "no module here reads /proc/kallsyms: no {forced}, and {normal} imports {}",
        EXPORTS_OR_KALLSYMS.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_client::phys::{DevmemError, KcoreError, Refusals};
    use std::io::Error;

    #[test]
    fn skips_only_where_the_kernel_refuses_both_sources() {
        let devmem = |at, errno| {
            Some(DevmemError {
                at,
                err: Error::from_raw_os_error(errno),
            })
        };
        let open = |errno| Some(KcoreError::Open(Error::from_raw_os_error(errno)));
        let r = |devmem, kcore| Refusals { devmem, kcore };
        // STRICT_DEVMEM and no CONFIG_PROC_KCORE; lockdown of both.
        assert!(kernel_refuses_both(&r(
            devmem(Some(0x1000), libc::EPERM),
            open(libc::ENOENT)
        )));
        assert!(kernel_refuses_both(&r(
            devmem(None, libc::EPERM),
            open(libc::EPERM)
        )));
        // A page of our own that kcore lacks, or a broken read: failures.
        let not_ram = Some(KcoreError::NotRam {
            phys: 0x1000,
            len: 8,
        });
        assert!(!kernel_refuses_both(&r(
            devmem(Some(0x1000), libc::EPERM),
            not_ram
        )));
        assert!(!kernel_refuses_both(&r(
            devmem(Some(0x1000), libc::EIO),
            None
        )));
    }
}
