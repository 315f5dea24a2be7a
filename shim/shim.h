/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shim: what gfn_to_pfn's Rust code cannot reach on its own (no bindings
 * for proc_fs.h or kvm_host.h, static inlines and macros for the rest).
 * Mechanism only: each function reports facts or takes and drops a
 * reference or a lock; every choice (which VM, which path, which error,
 * what a reply says) is made in Rust.  No errno is chosen here: what
 * crosses is a fact (found or not, a flag) or the kernel's own error, as
 * it is.  Every struct here is mirrored in module/boundary/, and its layout
 * is asserted on both sides.
 */
#ifndef GFN_TO_PFN_SHIM_H
#define GFN_TO_PFN_SHIM_H

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>

struct file;
struct kvm;
struct mm_struct;
struct mutex;
struct page;
struct pid;

/* proc_glue.c: the proc file's callbacks, implemented in Rust: all six. */
struct gfn_proc_callbacks {
	int (*open)(void **private);
	void (*release)(void *private);
	ssize_t (*read)(void *private, char __user *buf, size_t len,
			loff_t *pos);
	ssize_t (*write)(void *private, const char __user *buf, size_t len,
			 loff_t *pos);
	loff_t (*size)(void *private);
	unsigned int (*poll)(void *private);
};
static_assert(sizeof(struct gfn_proc_callbacks) == 6 * sizeof(void *));

bool gfn_proc_create(const char *name, umode_t mode,
		     const struct gfn_proc_callbacks *cb);
void gfn_proc_remove(const char *name);
bool gfn_module_get(void);
void gfn_module_put(void);

/* params.c: a module parameter whose value a Rust object holds. */
int gfn_rs_param_set(void *param, const char *val);
int gfn_rs_param_get(void *param, char *buf);
extern char gfn_log_param[];

/*
 * vm_list.c: the VMs on vm_list.  Process ids are in the caller's pid
 * namespace, 0 when there is none or it cannot see it.
 */
struct gfn_vm_facts {
	u64 kvm_id;		/* the struct kvm's address: only compared */
	u64 mm_id;		/* kvm->mm's address: only compared */
	u64 pages;		/* guest pages in its memslots */
	u32 slots;		/* memslots, in every address space */
	s32 creator;		/* the process of the thread that created it */
	/*
	 * A process with a live thread whose address space is kvm->mm, looked
	 * for (every thread) only when the creator's is not.
	 */
	s32 user;
	u32 flags;		/* GFN_VM_* */
	u64 leaves[3];		/* KVM's stage-2 leaf entries: 4K, 2M, 1G */
	u64 nx_splits;		/* huge pages split by the NX mitigation */
};
static_assert(sizeof(struct gfn_vm_facts) == 72);
static_assert(offsetof(struct gfn_vm_facts, creator) == 28);
static_assert(offsetof(struct gfn_vm_facts, flags) == 36);
static_assert(offsetof(struct gfn_vm_facts, nx_splits) == 64);

#define GFN_VM_DYING		(1U << 0)	/* its last reference is gone */
#define GFN_VM_CREATOR_USES_MM	(1U << 1)	/* the creator thread's mm is kvm->mm */
#define GFN_VM_COUNTED		(1U << 2)	/* KVM counts leaves, nx_splits (x86) */

/* What gfn_vm_list() reads besides the ids and GFN_VM_DYING (0 when not). */
#define GFN_VM_LIST_USERS	(1U << 0)	/* creator, user */
#define GFN_VM_LIST_SIZES	(1U << 1)	/* slots, pages, leaves, nx_splits */

long gfn_vm_list(struct gfn_vm_facts *out, u32 max, u32 what);

/* vm_file.c: a VM named across calls by its VMM and found among its files. */
struct gfn_task_facts {
	u64 mm_id;		/* the process's address space: only compared */
	s32 tgid;		/* the process, in the caller's pid namespace */
	u32 pad;
};
static_assert(sizeof(struct gfn_task_facts) == 16);

bool gfn_task_facts(pid_t nr, struct gfn_task_facts *out, struct pid **vmm);
struct pid *gfn_vmm_get(pid_t tgid);
void gfn_vmm_put(struct pid *vmm);
struct file *gfn_vm_open(struct pid *vmm, u64 kvm_id, unsigned int from,
			 unsigned int *fd);
void gfn_vm_close(struct file *file);
struct kvm *gfn_vm_kvm(struct file *file);

/* memslots.c: a VM's memslots, as userspace set them up. */
struct gfn_slot_facts {
	u64 base_gfn;
	u64 npages;
	u64 hva;		/* userspace_addr */
	u32 flags;		/* KVM_MEM_* */
	u16 id;
	u16 as_id;
};
static_assert(sizeof(struct gfn_slot_facts) == 32);
static_assert(offsetof(struct gfn_slot_facts, as_id) == 30);

bool gfn_slot_find(struct kvm *kvm, u32 as_id, u64 gfn,
		   struct gfn_slot_facts *out);

/*
 * Facts about the host pages behind @pages consecutive guest pages, as a
 * page walk finds them: frames @pfn.. (GFN_PAGE_PRESENT) of one folio or
 * mapping, or nothing.
 */
struct gfn_walk_entry {
	/*
	 * The host frame of the first page, when present; GFN_PAGE_FRAMES:
	 * where its frames start in the walk's frame array.
	 */
	u64 pfn;
	u32 pages;		/* guest pages covered */
	s32 gup_err;		/* set by mode=fault (Rust): gup's error, or 0 */
	u32 flags;		/* GFN_PAGE_* */
	u32 nid;		/* NUMA node of the frames, or NUMA_NO_NODE */
	u32 order;		/* of the folio, or of the mapping without one */
	u32 level;		/* GFN_LEVEL_*: how the VMM maps them */
};
static_assert(sizeof(struct gfn_walk_entry) == 32);
static_assert(offsetof(struct gfn_walk_entry, level) == 28);

#define GFN_LEVEL_NONE		0	/* no page table of the VMM maps it */
#define GFN_LEVEL_PTE		1
#define GFN_LEVEL_PMD		2
#define GFN_LEVEL_PUD		3

#define GFN_PAGE_PRESENT	(1U << 0)	/* frames are mapped there */
#define GFN_PAGE_HUGETLB	(1U << 1)	/* the folio is a hugetlbfs page */
#define GFN_PAGE_LARGE		(1U << 2)	/* the folio has more than one page */
#define GFN_PAGE_ZERO		(1U << 3)	/* the (huge) zero page */
#define GFN_PAGE_KSM		(1U << 4)	/* a KSM page */
#define GFN_PAGE_NO_VMA		(1U << 5)	/* not present, and no VMA there */
/* VM_IO | VM_PFNMAP: frames told by the mapping alone. */
#define GFN_PAGE_PFNMAP		(1U << 6)
/* A private page of a guest_memfd memslot, from the guest_memfd. */
#define GFN_PAGE_GMEM		(1U << 7)
/* Device memory with struct pages (fsdax, device-dax), mapped by devmap. */
#define GFN_PAGE_DEVMAP		(1U << 8)
/*
 * A stretch of base pages on one node, mapped by PTEs, each page its own
 * frame: @pfn is where their frames start in the walk's frame array.
 */
#define GFN_PAGE_FRAMES		(1U << 9)
/*
 * Frames mapped without a page the walk may read: no struct page, or a
 * special entry (vm_normal_page() gives none) outside VM_PFNMAP memory.
 */
#define GFN_PAGE_NO_PAGE	(1U << 10)

/*
 * The C side's one merge rule, which only compresses: @e extends @last when
 * every fact is the same and, for frames, they go on where @last's end.
 * Whether replies merge is decided in Rust (tools/proto/src/runs.rs).
 */
static inline bool gfn_entry_extends(const struct gfn_walk_entry *last,
				     const struct gfn_walk_entry *e)
{
	return last->flags == e->flags && last->nid == e->nid &&
	       last->order == e->order && last->level == e->level &&
	       last->gup_err == e->gup_err &&
	       (!(e->flags & GFN_PAGE_PRESENT) ||
		last->pfn + last->pages == e->pfn);
}

/*
 * Appends @e to the @*n entries of @out (room for @max), or extends the
 * last one with it.  Returns 1 when @out is full and @e did not fit.
 */
static inline int gfn_entry_append(struct gfn_walk_entry *out, u32 *n, u32 max,
				   const struct gfn_walk_entry *e)
{
	if (*n && gfn_entry_extends(&out[*n - 1], e)) {
		out[*n - 1].pages += e->pages;
		return 0;
	}
	if (*n == max)
		return 1;
	out[(*n)++] = *e;
	return 0;
}

/* mm.c: the VMM's address space, referenced and locked. */
struct mm_struct *gfn_vm_mm_get(struct kvm *kvm);
void gfn_mm_put(struct mm_struct *mm);
int gfn_mmap_read_lock_killable(struct mm_struct *mm);
void gfn_mmap_read_unlock(struct mm_struct *mm);
void gfn_resched(void);
bool gfn_fatal_signal_pending(void);

/* page_walk.c: the VMM's page tables, read. */
long gfn_page_walk(struct mm_struct *mm, unsigned long addr, u32 nr,
		   struct gfn_walk_entry *out, u32 max, u64 *frames,
		   u32 max_frames);

/* fault.c: pages faulted in by gup. */
long gfn_fault_in(struct mm_struct *mm, unsigned long hva, u32 nr,
		  struct page **pages);

/* gmem_walk.c: a guest_memfd memslot's private pages. */
struct gfn_gmem_slot {
	struct file *file;	/* its guest_memfd, referenced; NULL: closing */
	u64 base_gfn;
	u64 npages;
	u64 pgoff;		/* the guest_memfd page of base_gfn */
};
static_assert(sizeof(struct gfn_gmem_slot) == 32);
static_assert(offsetof(struct gfn_gmem_slot, pgoff) == 24);

u32 gfn_gmem_attr_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private);
int gfn_gmem_slot(struct kvm *kvm, u32 as_id, u64 gfn,
		  struct gfn_gmem_slot *out);
u32 gfn_gmem_file_walk(struct file *file, u64 index, u32 nr,
		       struct gfn_walk_entry *out, u32 max);
void gfn_gmem_put(struct file *file);

/*
 * symbols.c: the kernel internals not exported to this module, reached
 * through pointers filled once by module init (symbols.h).
 */
struct gfn_symbol {
	const char *name;
	const char *object;	/* as /proc/kallsyms tags it: vmlinux, kvm */
	u32 data;		/* 1: a data symbol; 0: code */
	u32 linked;		/* 1: exported to this module and linked */
};
static_assert(sizeof(struct gfn_symbol) == 24);

u32 gfn_symbols(const struct gfn_symbol **list);
u32 gfn_symbols_store(const u64 *addrs, u32 n);
const char *gfn_release_built(void);
const char *gfn_release_running(void);

/* kallsyms.c: /proc/kallsyms as the loading task reads it. */
#define GFN_KALLSYMS_CHUNK	16384
#define GFN_DESCRIBE_LEN	1024
struct gfn_kallsyms {
	struct file *file;
	unsigned long ubuf;	/* a bounce buffer in the task's memory, or 0 */
	loff_t pos;
};
static_assert(sizeof(struct gfn_kallsyms) == 24);

#define GFN_KALLSYMS_NO_MM	1	/* no address space to read it into */
int gfn_kallsyms_open(struct gfn_kallsyms *k);
ssize_t gfn_kallsyms_read(struct gfn_kallsyms *k, char *buf, size_t len,
			  size_t *uncopied);
void gfn_kallsyms_close(struct gfn_kallsyms *k);
int gfn_symbol_describe(u64 addr, char *buf);

/* mutex.c: a mutex whose wait a fatal signal ends. */
void gfn_mutex_init(struct mutex *lock);
int gfn_mutex_lock_killable(struct mutex *lock);
void gfn_mutex_unlock(struct mutex *lock);

#endif
