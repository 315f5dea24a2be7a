// SPDX-License-Identifier: GPL-2.0

//! KVM's VMs: the facts of every VM on KVM's list, a VM named across system
//! calls ([`VmId`]) and a VM held within one ([`Vm`]), and its memslots.
//! Which VM a request means is decided by the caller (`crate::vms`).

use super::ffi::{
    self, File, GmemSlot as RawGmem, Kvm, Pid, SlotFacts as RawSlot, TaskFacts, VmFacts as RawVm,
};
use super::memory::{Mm, WalkEntry};
use crate::facts::SlotFacts;
use crate::reply::KvmMaps;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use kernel::alloc::Flags;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// A VM on KVM's list.
#[derive(Clone, Copy)]
pub(crate) struct VmFacts {
    /// Names the VM, only compared.
    pub(crate) kvm_id: u64,
    /// Names its address space, only compared.
    pub(crate) mm_id: u64,
    /// Its last reference is gone: it is being destroyed.
    pub(crate) dying: bool,
    /// The process of the thread that created it, in the caller's pid
    /// namespace (`None`: gone, or not visible there), and whether that
    /// thread's address space is the VM's.
    pub(crate) creator: Option<u32>,
    pub(crate) creator_uses_mm: bool,
    /// A process with a thread whose address space is the VM's, as the
    /// caller sees it; looked for only when the creator's is not.
    pub(crate) user: Option<u32>,
    /// Memslots, in every address space.
    pub(crate) slots: u32,
    /// Guest pages in them.
    pub(crate) pages: u64,
    /// What KVM maps of them, where the architecture counts it.
    pub(crate) kvm: Option<KvmMaps>,
}

/// Which facts of each VM [`list`] reads, besides its ids and whether it
/// is dying; those not read are `None` or 0.
#[derive(Clone, Copy)]
pub(crate) enum Wanted {
    /// Nothing more: enough to find a process's VM by its address space.
    Ids,
    /// Its VMM ([`VmFacts::creator`], [`VmFacts::user`]) too.
    Users,
    /// Everything: its VMM, memslots, pages and what KVM maps.
    All,
}

/// VMs on KVM's list at the last [`list`], to size the next one's room:
/// one pass over the list, most of the time, without room for 64 VMs
/// allocated (and, where the kernel zeroes allocations, zero-filled) for
/// every request.
static LAST_COUNT: AtomicUsize = AtomicUsize::new(0);

/// The shim's `what` for `wanted`.
fn what(wanted: Wanted) -> u32 {
    match wanted {
        Wanted::Ids => 0,
        Wanted::Users => ffi::VM_LIST_USERS,
        Wanted::All => ffi::VM_LIST_USERS | ffi::VM_LIST_SIZES,
    }
}

/// The facts of one VM as the shim listed them.
fn facts_of(vm: &RawVm) -> VmFacts {
    let id = |pid: i32| u32::try_from(pid).ok().filter(|&p| p != 0);
    VmFacts {
        kvm_id: vm.kvm_id,
        mm_id: vm.mm_id,
        dying: vm.flags & ffi::VM_DYING != 0,
        creator: id(vm.creator),
        creator_uses_mm: vm.flags & ffi::VM_CREATOR_USES_MM != 0,
        user: id(vm.user),
        slots: vm.slots,
        pages: vm.pages,
        kvm: (vm.flags & ffi::VM_COUNTED != 0).then_some(KvmMaps {
            leaves: vm.leaves,
            nx_splits: vm.nx_splits,
        }),
    }
}

/// VMs [`find`] has room for on the stack: a request that names one VM
/// allocates nothing to find it unless the host runs more.
const FIND_ROOM: usize = 8;

/// The newest VM on KVM's list that `pick` picks, from one consistent pass,
/// with the facts `wanted`; the error of the wait for KVM's list (`EINTR`:
/// a fatal signal) as it is.
pub(crate) fn find(wanted: Wanted, pick: impl Fn(&VmFacts) -> bool) -> Result<Option<VmFacts>> {
    let mut raw = [const { MaybeUninit::<RawVm>::uninit() }; FIND_ROOM];
    // SAFETY: `raw` has room for `FIND_ROOM` entries, which the shim fills
    // (under `kvm_lock`) without reading them.
    let n = unsafe { ffi::gfn_vm_list(raw.as_mut_ptr().cast(), FIND_ROOM as u32, what(wanted)) };
    let n = usize::try_from(n).map_err(|_| Error::from_errno(n as c_int))?;
    if n > FIND_ROOM {
        // More VMs than room: a listing of them all.
        let vms = list(super::gfp_request(), wanted, pick)?;
        return Ok(vms.first().copied());
    }
    // SAFETY: the shim initialised the first `n` entries of `raw`, and
    // `MaybeUninit<RawVm>` has `RawVm`'s layout.
    let listed = unsafe { core::slice::from_raw_parts(raw.as_ptr().cast::<RawVm>(), n) };
    Ok(listed.iter().map(facts_of).find(|v| pick(v)))
}

/// Facts about the VMs on KVM's list that `keep` keeps, newest first, from
/// one consistent pass (72 bytes per VM, allocated with `flags`), with the
/// facts `wanted`; the error of the wait for KVM's list (`EINTR`: a fatal
/// signal) as it is.
pub(crate) fn list(
    flags: Flags,
    wanted: Wanted,
    keep: impl Fn(&VmFacts) -> bool,
) -> Result<KVVec<VmFacts>> {
    // A few more than last time: VMs may have come meanwhile.
    let mut room = LAST_COUNT.load(Ordering::Relaxed).saturating_add(4);
    loop {
        let mut raw = KVVec::<RawVm>::with_capacity(room, flags)?;
        let max = u32::try_from(room).unwrap_or(u32::MAX);
        // SAFETY: `raw` has room for `max` entries, which the shim fills
        // (under `kvm_lock`) without reading them.
        let n = unsafe { ffi::gfn_vm_list(raw.as_mut_ptr(), max, what(wanted)) };
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n as c_int))?;
        LAST_COUNT.store(n, Ordering::Relaxed);
        if n <= max as usize {
            let mut vms = KVVec::with_capacity(n, flags)?;
            // SAFETY: the shim initialised the first `n` entries.
            unsafe { super::compat::vec_init_len(&mut raw, n) };
            for vm in raw.iter().map(facts_of) {
                if keep(&vm) {
                    vms.push(vm, flags)?;
                }
            }
            return Ok(vms);
        }
        // VMs came meanwhile: try again with room for them and a few more.
        room = n.saturating_add(16);
    }
}

/// A process of the caller's pid namespace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    /// Its id there.
    pub(crate) tgid: u32,
    /// Its address space, only compared with [`VmFacts::mm_id`].
    pub(crate) mm_id: u64,
}

/// The process of thread `pid` of the caller's pid namespace, if there is
/// such a thread and its process has an address space.
pub(crate) fn process_of(pid: u32) -> Option<Process> {
    task_facts(pid, false).map(|(process, _)| process)
}

/// [`process_of`], and a reference on the process that names it across
/// system calls: one lookup of the thread where a line's VM needs both.
pub(crate) fn vmm_of(pid: u32) -> Option<(Process, VmmRef)> {
    let (process, vmm) = task_facts(pid, true)?;
    Some((process, vmm?))
}

/// The process of thread `pid`, and a reference on it when `referenced`.
fn task_facts(pid: u32, referenced: bool) -> Option<(Process, Option<VmmRef>)> {
    let nr = c_int::try_from(pid).ok()?;
    let mut facts = TaskFacts::default();
    let mut taken: *mut Pid = core::ptr::null_mut();
    let want = if referenced {
        &raw mut taken
    } else {
        core::ptr::null_mut()
    };
    // SAFETY: `facts` and `taken` are valid places for the shim to write;
    // it looks the number up under RCU and, when `want` is not null and it
    // finds the thread, stores a referenced pid there.
    let found = unsafe { ffi::gfn_task_facts(nr, &mut facts, want) };
    // INVARIANT: a pid the shim stored is the reference it just took.
    let vmm = NonNull::new(taken).map(|pid| VmmRef { pid });
    if !found {
        return None;
    }
    let process = Process {
        tgid: u32::try_from(facts.tgid).ok()?,
        mm_id: facts.mm_id,
    };
    Some((process, vmm))
}

/// A VMM: names its process for as long as it is held.
///
/// # Invariants
///
/// `pid` holds a reference on the `struct pid` of the VMM's thread group,
/// which names that process for as long as it is held (once the process is
/// reaped its number may be reused, but by another `struct pid`).
pub(crate) struct VmmRef {
    pid: NonNull<Pid>,
}

// SAFETY: a pid reference is not tied to the thread that took it; it may be
// dropped from any thread (answers live in files shared across tasks).
unsafe impl Send for VmmRef {}

impl VmmRef {
    /// Process `tgid` of the caller's pid namespace, or `None` when there
    /// is no such process.
    fn get(tgid: u32) -> Option<VmmRef> {
        let nr = c_int::try_from(tgid).ok()?;
        // SAFETY: the shim looks the number up under RCU and returns a
        // referenced pid, or NULL.
        let pid = NonNull::new(unsafe { ffi::gfn_vmm_get(nr) })?;
        // INVARIANT: `pid` is the reference just taken.
        Some(VmmRef { pid })
    }
}

impl Drop for VmmRef {
    fn drop(&mut self) {
        // SAFETY: `self.pid` holds a reference (type invariant), dropped
        // exactly once here.
        unsafe { ffi::gfn_vmm_put(self.pid.as_ptr()) }
    }
}

/// The descriptor the last VM was found at in its VMM, where the next
/// search starts: a number, not a reference.
static LAST_VM_FD: AtomicU32 = AtomicU32::new(0);

/// Names a VM across system calls without holding it: its VMM, and the
/// VM's id, only compared until [`VmId::open`] finds the VM again among
/// the open files of the VMM's threads (`shim/vm_file.c` says why).
pub(crate) struct VmId {
    vmm: VmmRef,
    kvm_id: u64,
    /// The VMM's process id in the pid namespace of the task that named it.
    pub(crate) vmm_pid: u32,
}

impl VmId {
    /// VM `kvm_id` of process `tgid` of the caller's pid namespace; `None`
    /// when there is no such process any more.
    pub(crate) fn new(tgid: u32, kvm_id: u64) -> Option<VmId> {
        Some(VmId::of(VmmRef::get(tgid)?, tgid, kvm_id))
    }

    /// VM `kvm_id` of `vmm`, process `tgid` of the caller's pid namespace.
    pub(crate) fn of(vmm: VmmRef, tgid: u32, kvm_id: u64) -> VmId {
        VmId {
            vmm,
            kvm_id,
            vmm_pid: tgid,
        }
    }

    /// The VM, held until the returned [`Vm`] is dropped, or `None` when its
    /// VMM has exited or closed it.  The VMM's files are searched from the
    /// descriptor at which the last VM was found (a VMM opens its VM once,
    /// early, and QEMU has many descriptors after it), then from the first.
    pub(crate) fn open(&self) -> Option<Vm> {
        let hint = LAST_VM_FD.load(Ordering::Relaxed);
        let found = self.open_from(hint);
        let (file, fd) = match found {
            Some(found) => found,
            None if hint != 0 => self.open_from(0)?,
            None => return None,
        };
        LAST_VM_FD.store(fd, Ordering::Relaxed);
        // SAFETY: `file` is a referenced VM file, whose `private_data` is
        // its `struct kvm`.
        let Some(kvm) = NonNull::new(unsafe { ffi::gfn_vm_kvm(file.as_ptr()) }) else {
            // Not a VM after all (a VM file always has one): put the
            // reference taken, rather than keep it.
            // SAFETY: `file` is the reference just taken, put once here.
            unsafe { ffi::gfn_vm_close(file.as_ptr()) };
            return None;
        };
        // INVARIANT: `file` is the reference just taken, and `kvm` its VM.
        Some(Vm { file, kvm })
    }

    /// The VM's file among the VMM's descriptors from `from` on,
    /// referenced, and its descriptor.
    fn open_from(&self, from: u32) -> Option<(NonNull<File>, u32)> {
        let mut fd = 0;
        // SAFETY: `self.vmm` is referenced (its type invariant); the shim
        // only compares `kvm_id` with the VM files' `private_data`, and `fd`
        // is a valid place for it to write.
        let file = unsafe { ffi::gfn_vm_open(self.vmm.pid.as_ptr(), self.kvm_id, from, &mut fd) };
        Some((NonNull::new(file)?, fd))
    }
}

/// A VM held through a reference on its file, which also pins the vendor
/// module.  Not `Send`: it is taken and dropped within one system call, and
/// an open file's state (which must be `Send`) cannot keep it.
///
/// # Invariants
///
/// `file` holds a reference on a KVM VM file, and `kvm` is that file's
/// `struct kvm`, alive for as long as the reference is held.
pub(crate) struct Vm {
    file: NonNull<File>,
    kvm: NonNull<Kvm>,
}

impl Vm {
    /// The memslot of address space `as_id` holding `gfn` or, failing
    /// that, the first one above it; `None` when there is none (or no such
    /// address space).
    pub(crate) fn slot_from(&self, as_id: u8, gfn: u64) -> Option<SlotFacts> {
        let mut raw = RawSlot::default();
        // SAFETY: `self.kvm` is alive (type invariant) and `raw` is a valid
        // place for the shim to write.
        let found = unsafe { ffi::gfn_slot_find(self.kvm.as_ptr(), as_id.into(), gfn, &mut raw) };
        found.then_some(SlotFacts {
            base_gfn: raw.base_gfn,
            npages: raw.npages,
            hva: raw.hva,
            flags: raw.flags,
            id: raw.id,
            as_id: raw.as_id,
        })
    }

    /// The VMM's address space, referenced, or `None` once it is gone.
    pub(crate) fn mm(&self) -> Option<Mm> {
        // SAFETY: `self.kvm` is alive (type invariant).
        let mm = NonNull::new(unsafe { ffi::gfn_vm_mm_get(self.kvm.as_ptr()) })?;
        // SAFETY: `mm` is a reference just taken, which `Mm` owns.
        Some(unsafe { Mm::from_raw(mm) })
    }

    /// How many of the `nr` guest frames from `gfn` share `gfn`'s memory
    /// attribute, and whether it is private (in a guest_memfd).
    pub(crate) fn private_run(&self, gfn: u64, nr: u32) -> (u32, bool) {
        let mut private = false;
        // SAFETY: `self.kvm` is alive (type invariant); `private` is a
        // valid place for the shim to write.
        let run = unsafe { ffi::gfn_gmem_attr_run(self.kvm.as_ptr(), gfn, nr, &mut private) };
        (run.clamp(1, nr.max(1)), private)
    }

    /// The guest_memfd memslot of address space `as_id` holding `gfn`, with
    /// its guest_memfd referenced (`None` while the file is being closed);
    /// `None` when no such memslot holds it.
    pub(crate) fn gmem_slot(&self, as_id: u8, gfn: u64) -> Option<GmemSlot> {
        let mut raw = RawGmem {
            file: core::ptr::null_mut(),
            base_gfn: 0,
            npages: 0,
            pgoff: 0,
        };
        // SAFETY: `self.kvm` is alive (type invariant) and `raw` is a valid
        // place for the shim to write.
        if unsafe { ffi::gfn_gmem_slot(self.kvm.as_ptr(), as_id.into(), gfn, &mut raw) } == 0 {
            return None;
        }
        // INVARIANT: a file the shim gives is a reference just taken.
        let file = NonNull::new(raw.file).map(|file| GmemFile { file });
        Some(GmemSlot {
            base_gfn: raw.base_gfn,
            npages: raw.npages,
            pgoff: raw.pgoff,
            file,
        })
    }
}

/// A guest_memfd memslot, as one lookup found it.
pub(crate) struct GmemSlot {
    pub(crate) base_gfn: u64,
    pub(crate) npages: u64,
    /// The guest_memfd page of `base_gfn`.
    pub(crate) pgoff: u64,
    /// Its guest_memfd, or `None` while it is being closed.
    pub(crate) file: Option<GmemFile>,
}

/// A guest_memfd, referenced.  Not `Send`: taken and dropped within one
/// walk.
///
/// # Invariants
///
/// `file` holds a reference on a guest_memfd file.
pub(crate) struct GmemFile {
    file: NonNull<File>,
}

impl GmemFile {
    /// Describes `nr` pages from page `index` of the guest_memfd into
    /// `out` (as many entries as it holds): runs of one folio's frames, or
    /// of pages never allocated.
    pub(crate) fn walk<'a>(
        &self,
        index: u64,
        nr: u32,
        out: &'a mut [WalkEntry],
    ) -> &'a [WalkEntry] {
        let max = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // SAFETY: `self.file` is referenced (type invariant); `out` holds
        // `max` entries, all the shim writes.
        let n = unsafe {
            ffi::gfn_gmem_file_walk(self.file.as_ptr(), index, nr, WalkEntry::raw(out), max)
        };
        &out[..(n as usize).min(out.len())]
    }
}

impl Drop for GmemFile {
    fn drop(&mut self) {
        // SAFETY: `self.file` holds the reference (type invariant), dropped
        // once here.
        unsafe { ffi::gfn_gmem_put(self.file.as_ptr()) }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: `self.file` holds the reference taken in `VmId::open`
        // (type invariant), dropped exactly once here.  When it is the last
        // one, the VM is released after this system call, with its vendor
        // module pinned until then.
        unsafe { ffi::gfn_vm_close(self.file.as_ptr()) }
    }
}
