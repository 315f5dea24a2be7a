// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around `kvm_shim.c`: a referenced VM and the page walk.

use crate::request::Reason;
use kernel::error::code::{EINVAL, ENOENT};
use kernel::error::{Error, Result};
use kernel::ffi::{c_char, c_int, c_long, c_void};
use kernel::prelude::*;

/// Mirrors `struct gfn_shim_page` in `kvm_shim.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct ShimPage {
    pub(crate) pfn: u64,
    pub(crate) pages: u32,
    pub(crate) err: i32,
    pub(crate) flags: u32,
    pub(crate) nid: u32,
    pub(crate) order: u32,
    /// `LEVEL_*`: how the VMM's page tables map the pages.
    pub(crate) level: u32,
}

/// `GFN_SHIM_LEVEL_PTE`: mapped by a PTE.
pub(crate) const LEVEL_PTE: u32 = 1;
/// `GFN_SHIM_LEVEL_PMD`: mapped by a PMD leaf.
pub(crate) const LEVEL_PMD: u32 = 2;
/// `GFN_SHIM_LEVEL_PUD`: mapped by a PUD leaf.
pub(crate) const LEVEL_PUD: u32 = 3;

/// `GFN_SHIM_PAGE_HUGETLB`: the folio is a hugetlbfs page.
pub(crate) const PAGE_HUGETLB: u32 = 1 << 0;
/// `GFN_SHIM_PAGE_LARGE`: the folio has more than one page.
pub(crate) const PAGE_LARGE: u32 = 1 << 1;
/// `GFN_SHIM_PAGE_ZERO`: the shared (huge) zero page.
pub(crate) const PAGE_ZERO: u32 = 1 << 2;
/// `GFN_SHIM_PAGE_KSM`: a KSM page.
pub(crate) const PAGE_KSM: u32 = 1 << 3;
/// `GFN_SHIM_PAGE_NO_VMA`: no page, and no VMA at the address.
pub(crate) const PAGE_NO_VMA: u32 = 1 << 4;
/// `GFN_SHIM_PAGE_PFNMAP`: no page, in `VM_IO | VM_PFNMAP` memory.
pub(crate) const PAGE_PFNMAP: u32 = 1 << 5;
/// A private page of a guest_memfd memslot, from the guest_memfd.
pub(crate) const PAGE_GMEM: u32 = 1 << 6;
/// `GFN_SHIM_PAGE_DEVMAP`: device memory with struct pages (fsdax,
/// device-dax), mapped by a devmap entry.
pub(crate) const PAGE_DEVMAP: u32 = 1 << 7;

/// The `log` module parameter (0 all, 1 summary, 2 none) and how many
/// times it was written.
pub(crate) fn log_level() -> (u32, u32) {
    let mut writes = 0;
    // SAFETY: reads two integers the parameter's setter writes atomically;
    // `writes` is a valid place for one.
    let level = unsafe { gfn_shim_log_level(&mut writes) };
    (level, writes)
}

/// Mirrors `struct gfn_shim_slot` in `kvm_shim.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct ShimSlot {
    pub(crate) base_gfn: u64,
    pub(crate) npages: u64,
    pub(crate) hva: u64,
    pub(crate) flags: u32,
    pub(crate) id: u16,
    pub(crate) as_id: u16,
}

impl ShimSlot {
    /// Guest frame number just past the memslot.
    pub(crate) fn end(&self) -> u64 {
        self.base_gfn.saturating_add(self.npages)
    }
}

/// Mirrors `struct gfn_shim_vm` in `kvm_shim.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct ShimVm {
    pub(crate) pid: i32,
    pub(crate) slots: u32,
    pub(crate) pages: u64,
    kvm_id: u64,
}

/// What every allocation a request makes asks for: a failure is that
/// call's `ENOMEM`, which the caller may try again (nothing is lost), not a
/// warning with a stack trace in the kernel log.
pub(crate) fn gfp_request() -> kernel::alloc::Flags {
    GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN
}

/// Most entries one walk fills, and most pages one walk that faults pages
/// in covers: one mmap lock hold, one `KVec` of scratch.
pub(crate) const BATCH: usize = 512;

/// Most pages one walk that only reads page tables covers: 1 GiB, so
/// untouched memory and huge pages cost a walk per GiB, not per 2 MiB; the
/// work of one such walk is bounded by its `BATCH` entries and, for holes,
/// by the page tables of 1 GiB.
pub(crate) const NOFAULT_SPAN: usize = 1 << 18;

extern "C" {
    fn gfn_shim_proc_create(name: *const c_char, mode: u16) -> c_int;
    fn gfn_shim_proc_remove(name: *const c_char);
    fn gfn_shim_log_level(writes: *mut u32) -> u32;
    fn gfn_shim_vm_find(
        pid: c_int,
        vmm: *mut *mut c_void,
        kvm_id: *mut usize,
        vmm_pid: *mut c_int,
    ) -> c_int;
    fn gfn_shim_vmm_put(vmm: *mut c_void);
    fn gfn_shim_vm_open(vmm: *mut c_void, kvm_id: usize) -> *mut c_void;
    fn gfn_shim_vm_close(file: *mut c_void);
    fn gfn_shim_vm_kvm(file: *mut c_void) -> *mut c_void;
    fn gfn_shim_vms(out: *mut ShimVm, max: u32) -> c_long;
    fn gfn_shim_process(nr: c_int) -> c_int;
    fn gfn_shim_slot_find(kvm: *mut c_void, as_id: u32, gfn: u64, out: *mut ShimSlot) -> c_int;
    fn gfn_shim_walk(
        kvm: *mut c_void,
        as_id: u32,
        gfn: u64,
        nr: u32,
        max: u32,
        nofault: bool,
        scratch: *mut *mut c_void,
        slot: *mut ShimSlot,
        out: *mut ShimPage,
    ) -> c_long;
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

/// Names a VM across system calls without holding it: its VMM (a reference
/// on the `struct pid` of its thread group, which names that process for as
/// long as it is held: once the process is reaped its number may be reused,
/// but by another `struct pid`) and the address of its `struct kvm`, only
/// compared until [`VmId::open`] finds the VM again among the open files of
/// the VMM's threads.
pub(crate) struct VmId {
    vmm: *mut c_void,
    kvm: usize,
    /// The VMM's pid in the pid namespace of the task that looked it up.
    pub(crate) vmm_pid: u32,
}

// SAFETY: a pid reference is not tied to the thread that took it; it may be
// dropped from any thread (answers live in files shared across tasks).
unsafe impl Send for VmId {}

impl VmId {
    /// The VM whose VMM is the process of thread `pid`, or the newest VM
    /// whose VMM the caller can see.  `EINTR` when a fatal signal ends the
    /// wait for KVM's VM list.
    pub(crate) fn find(pid: Option<u32>) -> Result<Result<VmId, Reason>> {
        Self::lookup(pid, 0)
    }

    /// The VM `vm` of a [`vms`] listing, if it is still there.
    pub(crate) fn of(vm: &ShimVm) -> Result<Option<VmId>> {
        let Ok(pid) = u32::try_from(vm.pid) else {
            return Ok(None);
        };
        Ok(Self::lookup(Some(pid), vm.kvm_id as usize)?.ok())
    }

    /// [`VmId::find`], or with `kvm` not 0, that VM of the VMM only.
    fn lookup(pid: Option<u32>, kvm: usize) -> Result<Result<VmId, Reason>> {
        let mut vmm = core::ptr::null_mut();
        let mut kvm = kvm;
        let mut vmm_pid: c_int = 0;
        // The grammar bounds pids by PID_MAX, so the cast cannot wrap.
        let want = pid.unwrap_or(0) as c_int;
        // SAFETY: the three out-pointers are valid places for their types;
        // the shim takes `kvm_lock` itself and, on success, a pid reference.
        let ret = unsafe { gfn_shim_vm_find(want, &mut vmm, &mut kvm, &mut vmm_pid) };
        if ret == EINTR.to_errno() {
            return Err(EINTR);
        }
        if ret != 0 {
            return Ok(Err(if pid.is_some() {
                Reason::NoVm
            } else {
                Reason::NoVms
            }));
        }
        Ok(Ok(VmId {
            vmm,
            kvm,
            vmm_pid: vmm_pid as u32,
        }))
    }

    /// The VM, held until the returned [`Vm`] is dropped, or `None` when its
    /// VMM has exited or closed it.
    pub(crate) fn open(&self) -> Option<Vm> {
        // SAFETY: `self.vmm` is referenced for as long as `self` lives; the
        // shim only compares `self.kvm` with the VM files' `private_data`.
        let file = unsafe { gfn_shim_vm_open(self.vmm, self.kvm) };
        if file.is_null() {
            return None;
        }
        Some(Vm {
            file,
            // SAFETY: `file` is a referenced VM file.
            kvm: unsafe { gfn_shim_vm_kvm(file) },
        })
    }
}

impl Drop for VmId {
    fn drop(&mut self) {
        // SAFETY: `self.vmm` holds the reference taken in `VmId::find`,
        // dropped exactly once here.
        unsafe { gfn_shim_vmm_put(self.vmm) }
    }
}

/// A VM held through a reference on its file, which also pins the vendor
/// module; dropping it drops the reference.  Not `Send`: it is taken and
/// dropped within one system call, and an open file's state (which must be
/// `Send`) cannot keep it.
pub(crate) struct Vm {
    file: *mut c_void,
    kvm: *mut c_void,
}

impl Vm {
    /// The memslot of address space `as_id` holding `gfn` or, failing
    /// that, the first one above it; `None` when there is none (or no such
    /// address space).
    pub(crate) fn slot_find(&self, as_id: u8, gfn: u64) -> Option<ShimSlot> {
        let mut slot = ShimSlot::default();
        // SAFETY: `self.kvm` is held through `self.file` and
        // `slot` is a valid, exclusively borrowed `struct gfn_shim_slot`.
        let ret = unsafe { gfn_shim_slot_find(self.kvm, as_id.into(), gfn, &mut slot) };
        (ret == 0).then_some(slot)
    }

    /// Walks the host pages behind guest frames `gfn..` (up to `want` of
    /// them: with `nofault`, at most `NOFAULT_SPAN`, else as many as `pages`
    /// holds; within one memslot, and as many entries as `out` holds): the
    /// memslot, and entries that each cover consecutive pages of one folio.  `ENOENT`/`EINVAL` when no memslot of `as_id` holds
    /// `gfn`, `ESRCH` when the VMM's address space is gone, `EINTR` on a
    /// fatal signal.
    pub(crate) fn walk<'a>(
        &self,
        as_id: u8,
        gfn: u64,
        want: u64,
        nofault: bool,
        pages: &mut [usize],
        out: &'a mut [ShimPage],
    ) -> Result<(ShimSlot, &'a [ShimPage])> {
        let max = out.len().min(BATCH);
        let want = usize::try_from(want).unwrap_or(usize::MAX).max(1);
        let nr = if nofault {
            want.min(NOFAULT_SPAN)
        } else {
            want.min(pages.len()).min(max)
        };
        let mut slot = ShimSlot::default();
        // SAFETY: `self.kvm` is held through `self.file`; `pages` and `out`
        // are exclusively borrowed; `out` holds `max` entries, and when the
        // shim faults pages in (`!nofault`), `pages` holds `nr` <= `max`:
        // that is all the shim writes.
        let ret = unsafe {
            gfn_shim_walk(
                self.kvm,
                as_id.into(),
                gfn,
                nr as u32,
                max as u32,
                nofault,
                pages.as_mut_ptr().cast(),
                &mut slot,
                out.as_mut_ptr(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as c_int));
        }
        let n = (ret as usize).min(max);
        Ok((slot, &out[..n]))
    }
}

/// Facts about every live VM, newest first, from one consistent pass over
/// `vm_list` (16 bytes per VM).
pub(crate) fn vms() -> Result<KVVec<ShimVm>> {
    let mut room = 64;
    loop {
        let mut vms = KVVec::with_capacity(room, gfp_request())?;
        let max = u32::try_from(room).unwrap_or(u32::MAX);
        // SAFETY: `vms` has room for `max` entries, which the shim fills
        // (under `kvm_lock`) without reading them.
        let n = unsafe { gfn_shim_vms(vms.as_mut_ptr(), max) };
        if n < 0 {
            return Err(EINTR);
        }
        let n = n as u32;
        if n <= max {
            // SAFETY: the shim initialised the first `n` entries.
            unsafe { vms.set_len(n as usize) };
            return Ok(vms);
        }
        // VMs came meanwhile: try again with room for them and a few more.
        room = (n as usize).saturating_add(16);
    }
}

/// The process (thread group id) of thread `pid` in the caller's pid
/// namespace, if there is such a thread.
pub(crate) fn process(pid: u32) -> Option<u32> {
    let nr = c_int::try_from(pid).ok()?;
    // SAFETY: the shim only looks the number up, under RCU.
    let tgid = unsafe { gfn_shim_process(nr) };
    u32::try_from(tgid).ok().filter(|&t| t != 0)
}

/// Room for one batched walk: page pointers for the shim and the facts it
/// fills, `BATCH` of each.
pub(crate) struct Scratch {
    pub(crate) pages: KVec<usize>,
    pub(crate) out: KVec<ShimPage>,
}

impl Scratch {
    /// Allocates room for `BATCH` pages.
    pub(crate) fn new() -> Result<Scratch> {
        Ok(Scratch {
            pages: KVec::from_elem(0, BATCH, gfp_request())?,
            out: KVec::from_elem(ShimPage::default(), BATCH, gfp_request())?,
        })
    }
}

/// `ENOENT` and `EINVAL` from the shim both mean "no memslot there".
pub(crate) fn is_no_slot(err: Error) -> bool {
    err == ENOENT || err == EINVAL
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: `self.file` holds the reference taken in `VmId::open`,
        // dropped exactly once here.  When it is the last one, the VM is
        // released after this system call, with its vendor module pinned
        // until then.
        unsafe { gfn_shim_vm_close(self.file) }
    }
}
