// SPDX-License-Identifier: GPL-2.0

//! The C shim (`shim/shim.h`) as Rust sees it: its functions and the structs
//! that cross, each mirrored field by field with its layout asserted here
//! and, against the same numbers, in `shim.h`.  Only the boundary's handles
//! call these; their contracts are stated in `shim/*.c`.

use core::marker::{PhantomData, PhantomPinned};
use core::mem::{offset_of, size_of};
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_void};

/// Declares a C type this code only points to.
macro_rules! opaque {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[repr(C)]
        pub(crate) struct $name {
            _data: [u8; 0],
            _pin: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )+};
}

opaque! {
    /// `struct kvm`.
    Kvm;
    /// `struct file`.
    File;
    /// `struct mm_struct`.
    MmStruct;
    /// `struct pid`.
    Pid;
    /// `struct page`.
    Page;
}

/// `struct gfn_proc_callbacks`: the proc file's callbacks, every one given
/// (`Option` for the C function pointer's ABI).
#[repr(C)]
pub(crate) struct ProcCallbacks {
    pub(crate) open: Option<unsafe extern "C" fn(private: *mut *mut c_void) -> c_int>,
    pub(crate) release: Option<unsafe extern "C" fn(private: *mut c_void)>,
    pub(crate) read: Option<
        unsafe extern "C" fn(
            private: *mut c_void,
            buf: *mut u8,
            len: usize,
            pos: *mut i64,
        ) -> isize,
    >,
    pub(crate) write: Option<
        unsafe extern "C" fn(
            private: *mut c_void,
            buf: *const u8,
            len: usize,
            pos: *mut i64,
        ) -> isize,
    >,
    pub(crate) size: Option<unsafe extern "C" fn(private: *mut c_void) -> i64>,
    pub(crate) poll: Option<unsafe extern "C" fn(private: *mut c_void) -> c_uint>,
}
const _: () = assert!(size_of::<ProcCallbacks>() == 6 * size_of::<*const c_void>());
const _: () = assert!(offset_of!(ProcCallbacks, poll) == 5 * size_of::<*const c_void>());

/// `struct gfn_vm_facts`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct VmFacts {
    pub(crate) kvm_id: u64,
    pub(crate) mm_id: u64,
    pub(crate) pages: u64,
    pub(crate) slots: u32,
    pub(crate) creator: i32,
    pub(crate) user: i32,
    pub(crate) flags: u32,
    pub(crate) leaves: [u64; 3],
    pub(crate) nx_splits: u64,
}
const _: () = assert!(size_of::<VmFacts>() == 72);
const _: () = assert!(offset_of!(VmFacts, creator) == 28);
const _: () = assert!(offset_of!(VmFacts, flags) == 36);
const _: () = assert!(offset_of!(VmFacts, nx_splits) == 64);

/// `GFN_VM_*`.
pub(crate) const VM_DYING: u32 = 1 << 0;
pub(crate) const VM_CREATOR_USES_MM: u32 = 1 << 1;
pub(crate) const VM_COUNTED: u32 = 1 << 2;

/// `GFN_VM_LIST_*`.
pub(crate) const VM_LIST_USERS: u32 = 1 << 0;
pub(crate) const VM_LIST_SIZES: u32 = 1 << 1;

/// `struct gfn_task_facts`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TaskFacts {
    pub(crate) mm_id: u64,
    pub(crate) tgid: i32,
    pub(crate) pad: u32,
}
const _: () = assert!(size_of::<TaskFacts>() == 16);

/// `struct gfn_slot_facts`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SlotFacts {
    pub(crate) base_gfn: u64,
    pub(crate) npages: u64,
    pub(crate) hva: u64,
    pub(crate) flags: u32,
    pub(crate) id: u16,
    pub(crate) as_id: u16,
}
const _: () = assert!(size_of::<SlotFacts>() == 32);
const _: () = assert!(offset_of!(SlotFacts, as_id) == 30);

/// `struct gfn_walk_entry`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WalkEntry {
    pub(crate) pfn: u64,
    pub(crate) pages: u32,
    pub(crate) gup_err: i32,
    pub(crate) flags: u32,
    pub(crate) nid: u32,
    pub(crate) order: u32,
    pub(crate) level: u32,
}
const _: () = assert!(size_of::<WalkEntry>() == 32);
const _: () = assert!(offset_of!(WalkEntry, level) == 28);

/// `struct gfn_gmem_slot`.
#[repr(C)]
pub(crate) struct GmemSlot {
    pub(crate) file: *mut File,
    pub(crate) base_gfn: u64,
    pub(crate) npages: u64,
    pub(crate) pgoff: u64,
}
const _: () = assert!(size_of::<GmemSlot>() == 32);
const _: () = assert!(offset_of!(GmemSlot, pgoff) == 24);

/// `GFN_LEVEL_*`.
pub(crate) const LEVEL_PTE: u32 = 1;
pub(crate) const LEVEL_PMD: u32 = 2;
pub(crate) const LEVEL_PUD: u32 = 3;

/// `GFN_PAGE_*`.
pub(crate) const PAGE_PRESENT: u32 = 1 << 0;
pub(crate) const PAGE_HUGETLB: u32 = 1 << 1;
pub(crate) const PAGE_LARGE: u32 = 1 << 2;
pub(crate) const PAGE_ZERO: u32 = 1 << 3;
pub(crate) const PAGE_KSM: u32 = 1 << 4;
pub(crate) const PAGE_NO_VMA: u32 = 1 << 5;
pub(crate) const PAGE_PFNMAP: u32 = 1 << 6;
pub(crate) const PAGE_GMEM: u32 = 1 << 7;
pub(crate) const PAGE_DEVMAP: u32 = 1 << 8;
pub(crate) const PAGE_FRAMES: u32 = 1 << 9;
pub(crate) const PAGE_NO_PAGE: u32 = 1 << 10;

/// `struct gfn_symbol`: a kernel internal the shim uses.
#[repr(C)]
pub(crate) struct Symbol {
    pub(crate) name: *const c_char,
    pub(crate) object: *const c_char,
    pub(crate) data: u32,
    pub(crate) linked: u32,
}
const _: () = assert!(size_of::<Symbol>() == 24);

/// `struct gfn_kallsyms`: `/proc/kallsyms`, open.
#[repr(C)]
pub(crate) struct Kallsyms {
    pub(crate) file: *mut File,
    pub(crate) ubuf: usize,
    pub(crate) pos: i64,
}
const _: () = assert!(size_of::<Kallsyms>() == 24);

/// `GFN_KALLSYMS_CHUNK`: the most one read of `/proc/kallsyms` takes.
pub(crate) const KALLSYMS_CHUNK: usize = 16384;
/// `GFN_KALLSYMS_NO_MM`: `gfn_kallsyms_open` found no address space to
/// read the file into.
pub(crate) const KALLSYMS_NO_MM: c_int = 1;
/// `GFN_DESCRIBE_LEN`: room for what `sprint_symbol()` writes.
pub(crate) const DESCRIBE_LEN: usize = 1024;

extern "C" {
    pub(crate) fn gfn_symbols(list: *mut *const Symbol) -> u32;
    pub(crate) fn gfn_symbols_store(addrs: *const u64, n: u32) -> u32;
    pub(crate) fn gfn_release_built() -> *const c_char;
    pub(crate) fn gfn_release_running() -> *const c_char;

    pub(crate) fn gfn_kallsyms_open(k: *mut Kallsyms) -> c_int;
    pub(crate) fn gfn_kallsyms_read(
        k: *mut Kallsyms,
        buf: *mut u8,
        len: usize,
        uncopied: *mut usize,
    ) -> isize;
    pub(crate) fn gfn_kallsyms_close(k: *mut Kallsyms);
    pub(crate) fn gfn_symbol_describe(addr: u64, buf: *mut c_char) -> c_int;

    pub(crate) fn gfn_proc_create(name: *const c_char, mode: u16, cb: *const ProcCallbacks)
        -> bool;
    pub(crate) fn gfn_proc_remove(name: *const c_char);
    pub(crate) fn gfn_module_get() -> bool;
    pub(crate) fn gfn_module_put();

    pub(crate) fn gfn_vm_list(out: *mut VmFacts, max: u32, what: u32) -> c_long;

    pub(crate) fn gfn_task_facts(nr: c_int, out: *mut TaskFacts, vmm: *mut *mut Pid) -> bool;
    pub(crate) fn gfn_vmm_get(tgid: c_int) -> *mut Pid;
    pub(crate) fn gfn_vmm_put(vmm: *mut Pid);
    pub(crate) fn gfn_vm_open(
        vmm: *mut Pid,
        kvm_id: u64,
        from: c_uint,
        fd: *mut c_uint,
    ) -> *mut File;
    pub(crate) fn gfn_vm_close(file: *mut File);
    pub(crate) fn gfn_vm_kvm(file: *mut File) -> *mut Kvm;

    pub(crate) fn gfn_slot_find(kvm: *mut Kvm, as_id: u32, gfn: u64, out: *mut SlotFacts) -> bool;

    pub(crate) fn gfn_vm_mm_get(kvm: *mut Kvm) -> *mut MmStruct;
    pub(crate) fn gfn_mm_put(mm: *mut MmStruct);
    pub(crate) fn gfn_mmap_read_lock_killable(mm: *mut MmStruct) -> c_int;
    pub(crate) fn gfn_mmap_read_unlock(mm: *mut MmStruct);
    pub(crate) fn gfn_resched();
    pub(crate) fn gfn_fatal_signal_pending() -> bool;

    pub(crate) fn gfn_page_walk(
        mm: *mut MmStruct,
        addr: usize,
        nr: u32,
        out: *mut WalkEntry,
        max: u32,
        frames: *mut u64,
        max_frames: u32,
    ) -> c_long;
    pub(crate) fn gfn_fault_in(
        mm: *mut MmStruct,
        hva: usize,
        nr: u32,
        pages: *mut *mut Page,
    ) -> c_long;

    pub(crate) fn gfn_gmem_attr_run(kvm: *mut Kvm, gfn: u64, nr: u32, private: *mut bool) -> u32;
    pub(crate) fn gfn_gmem_slot(kvm: *mut Kvm, as_id: u32, gfn: u64, out: *mut GmemSlot) -> c_int;
    pub(crate) fn gfn_gmem_file_walk(
        file: *mut File,
        index: u64,
        nr: u32,
        out: *mut WalkEntry,
        max: u32,
    ) -> u32;
    pub(crate) fn gfn_gmem_put(file: *mut File);

    pub(crate) fn gfn_mutex_init(lock: *mut bindings::mutex);
    pub(crate) fn gfn_mutex_lock_killable(lock: *mut bindings::mutex) -> c_int;
    pub(crate) fn gfn_mutex_unlock(lock: *mut bindings::mutex);
}
