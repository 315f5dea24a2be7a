// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around `kvm_shim.c`: a referenced VM and the page walk.

use crate::request::Reason;
use kernel::error::code::{ENOENT, ESRCH};
use kernel::error::Error;
use kernel::ffi::{c_char, c_int, c_void};

/// Mirrors `struct gfn_shim_page` in `kvm_shim.h`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct ShimPage {
    pub(crate) hva: u64,
    pub(crate) pfn: u64,
    pub(crate) folio_size: u64,
    pub(crate) flags: u32,
    pub(crate) slot_id: i32,
}

/// `GFN_SHIM_PAGE_HUGETLB`: the folio is a hugetlbfs page.
pub(crate) const PAGE_HUGETLB: u32 = 1 << 0;
/// `GFN_SHIM_PAGE_LARGE`: the folio has more than one page.
pub(crate) const PAGE_LARGE: u32 = 1 << 1;

extern "C" {
    fn gfn_shim_proc_create(name: *const c_char, mode: u16) -> c_int;
    fn gfn_shim_proc_remove(name: *const c_char);
    fn gfn_shim_vm_get(pid: c_int, vmm_pid: *mut c_int) -> *mut c_void;
    fn gfn_shim_vm_put(kvm: *mut c_void);
    fn gfn_shim_translate(kvm: *mut c_void, gpa: u64, out: *mut ShimPage) -> c_int;
}

/// Creates `/proc/<name>` with the Rust callbacks of `proc_file`.
pub(crate) fn proc_create(name: &'static kernel::str::CStr, mode: u16) -> kernel::error::Result {
    // SAFETY: `name` is a NUL-terminated string that lives as long as the
    // module; procfs copies it.
    kernel::error::to_result(unsafe { gfn_shim_proc_create(name.as_char_ptr(), mode) })
}

/// Removes `/proc/<name>`, waiting for callbacks in flight.
pub(crate) fn proc_remove(name: &'static kernel::str::CStr) {
    // SAFETY: `name` is NUL-terminated; removing an entry that does not
    // exist only warns, and `proc_file::remove` is called once, after create.
    unsafe { gfn_shim_proc_remove(name.as_char_ptr()) }
}

/// A VM with a reference held on it; the reference is dropped with it.
pub(crate) struct Vm {
    kvm: *mut c_void,
    /// Pid of the thread that created the VM (`kvm->userspace_pid`).
    pub(crate) vmm_pid: u32,
}

impl Vm {
    /// The VM whose VMM is process `pid`, or the first VM on `vm_list`.
    pub(crate) fn get(pid: Option<u32>) -> Result<Vm, Reason> {
        let mut vmm_pid: c_int = 0;
        // The grammar bounds pids by PID_MAX, so the cast cannot wrap.
        let want = pid.unwrap_or(0) as c_int;
        // SAFETY: `vmm_pid` is a valid place to store an int; the shim takes
        // `kvm_lock` itself and returns a referenced VM or NULL.
        let kvm = unsafe { gfn_shim_vm_get(want, &mut vmm_pid) };
        if kvm.is_null() {
            return Err(if pid.is_some() {
                Reason::NoVm
            } else {
                Reason::NoVms
            });
        }
        Ok(Vm {
            kvm,
            vmm_pid: vmm_pid as u32,
        })
    }

    /// Finds the host page behind guest physical address `gpa`.
    pub(crate) fn translate(&self, gpa: u64) -> Result<ShimPage, (Reason, Error)> {
        let mut page = ShimPage::default();
        // SAFETY: `self.kvm` is referenced for as long as `self` lives and
        // `page` is a valid, exclusively borrowed `struct gfn_shim_page`.
        let ret = unsafe { gfn_shim_translate(self.kvm, gpa, &mut page) };
        if ret == 0 {
            return Ok(page);
        }
        let err = Error::from_errno(ret);
        let reason = if err == ENOENT {
            Reason::NoMemslot
        } else if err == ESRCH {
            Reason::NoMm
        } else {
            Reason::NoPage
        };
        Err((reason, err))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: `self.kvm` holds the reference taken in `Vm::get`, dropped
        // exactly once here.
        unsafe { gfn_shim_vm_put(self.kvm) }
    }
}
