/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_shim: the parts of gfn_to_pfn that Rust cannot reach on 6.12
 * (no proc_fs.h or kvm_host.h bindings).  Only plain integers and opaque
 * pointers cross this boundary; every decision is taken in Rust.
 */
#ifndef GFN_TO_PFN_KVM_SHIM_H
#define GFN_TO_PFN_KVM_SHIM_H

#include <linux/types.h>

struct mm_struct;

/*
 * Facts about the host pages backing consecutive guest pages: @pages of
 * them, mapped to frames @pfn.. of one folio (or, with @err, none).
 */
struct gfn_shim_page {
	u64 pfn;		/* host frame of the first page */
	u32 pages;		/* number of guest pages covered */
	s32 err;		/* 0, or why these pages have no host page */
	u32 flags;		/* GFN_SHIM_PAGE_* */
	u32 nid;		/* NUMA node of the host pages */
	u32 order;		/* order of the folio holding them */
	u32 level;		/* GFN_SHIM_LEVEL_*: how the VMM maps them */
};

/* The VMM page-table level that maps a page: a PTE, a PMD or a PUD leaf. */
#define GFN_SHIM_LEVEL_PTE	1
#define GFN_SHIM_LEVEL_PMD	2
#define GFN_SHIM_LEVEL_PUD	3

#define GFN_SHIM_PAGE_HUGETLB	(1U << 0)	/* folio is a hugetlbfs page */
#define GFN_SHIM_PAGE_LARGE	(1U << 1)	/* folio has more than one page */
#define GFN_SHIM_PAGE_ZERO	(1U << 2)	/* the (huge) zero page */
#define GFN_SHIM_PAGE_KSM	(1U << 3)	/* a KSM page */
/* With err: why there is no page. */
#define GFN_SHIM_PAGE_NO_VMA	(1U << 4)	/* no VMA at the address */
/*
 * VM_IO or VM_PFNMAP memory: without err, frames a special mapping maps,
 * with no struct page facts (@nid NUMA_NO_NODE, @order the mapping's);
 * with err, a frame the walk cannot tell.
 */
#define GFN_SHIM_PAGE_PFNMAP	(1U << 5)
/*
 * A private page of a guest_memfd memslot, from the guest_memfd (with err:
 * none allocated).  @level is 0: no page table of the VMM maps it.
 */
#define GFN_SHIM_PAGE_GMEM	(1U << 6)
/*
 * Device memory with struct pages (fsdax, device-dax) mapped by a devmap
 * entry: @nid is the device's node, @order the mapping's.
 */
#define GFN_SHIM_PAGE_DEVMAP	(1U << 7)

/* A memslot, as userspace set it up. */
struct gfn_shim_slot {
	u64 base_gfn;
	u64 npages;
	u64 hva;		/* userspace_addr */
	u32 flags;		/* KVM_MEM_* */
	u16 id;
	u16 as_id;
};

/* A VM on vm_list. */
struct gfn_shim_vm {
	s32 pid;		/* the VMM, in the caller's pid namespace */
	u32 slots;		/* memslots in every address space */
	u64 pages;		/* guest pages in them */
	u64 kvm_id;		/* the struct kvm's address: only compared */
};

/* Proc file callbacks, implemented in Rust (gfn_main.rs). */
int gfn_rs_open(void **private);
void gfn_rs_release(void *private);
ssize_t gfn_rs_read(void *private, char __user *buf, size_t len, loff_t *pos);
ssize_t gfn_rs_write(void *private, const char __user *buf, size_t len,
		     loff_t *pos);
loff_t gfn_rs_reply_len(void *private);
unsigned int gfn_rs_poll(void *private);

int gfn_shim_proc_create(const char *name, umode_t mode);
u32 gfn_shim_log_level(u32 *writes);
void gfn_shim_proc_remove(const char *name);

int gfn_shim_vm_find(pid_t nr, void **vmm, unsigned long *kvm_id,
		     pid_t *vmm_pid);
void gfn_shim_vmm_put(void *vmm);
void *gfn_shim_vm_open(void *vmm, unsigned long kvm_id);
void gfn_shim_vm_close(void *file);
void *gfn_shim_vm_kvm(void *file);
void gfn_shim_mutex_init(void *lock);
int gfn_shim_mutex_lock_killable(void *lock);
void gfn_shim_mutex_unlock(void *lock);
long gfn_shim_vms(struct gfn_shim_vm *out, u32 max);
pid_t gfn_shim_process(pid_t nr);
int gfn_shim_slot_find(void *kvm, u32 as_id, u64 gfn,
		       struct gfn_shim_slot *out);
long gfn_shim_walk(void *kvm, u32 as_id, u64 gfn, u32 nr, u32 max,
		   bool nofault, void **scratch, struct gfn_shim_slot *slot,
		   struct gfn_shim_page *out);

/* gmem_walk.c */
struct kvm;
struct file;
u32 gfn_gmem_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private);
long gfn_gmem_walk(struct file *file, unsigned long index, u32 nr,
		   struct gfn_shim_page *out, u32 max);

/* page_walk.c */
long gfn_page_walk(struct mm_struct *mm, unsigned long addr, u32 nr,
		   struct gfn_shim_page *out, u32 max, u32 *covered);

#endif
