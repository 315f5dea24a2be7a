/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_shim: the parts of gfn_to_pfn that Rust cannot reach on 6.12
 * (no proc_fs.h or kvm_host.h bindings).  Only plain integers and opaque
 * pointers cross this boundary; every decision is taken in Rust.
 */
#ifndef GFN_TO_PFN_KVM_SHIM_H
#define GFN_TO_PFN_KVM_SHIM_H

#include <linux/types.h>

/* Facts about the host page backing one guest physical address. */
struct gfn_shim_page {
	u64 hva;		/* host virtual address of the gpa in the VMM */
	u64 pfn;		/* host page frame number of that exact page */
	u64 folio_size;		/* bytes in the folio (compound page) holding it */
	u32 flags;		/* GFN_SHIM_PAGE_* */
	s32 slot_id;		/* memslot id */
};

#define GFN_SHIM_PAGE_HUGETLB	(1U << 0)	/* folio is a hugetlbfs page */
#define GFN_SHIM_PAGE_LARGE	(1U << 1)	/* folio has more than one page */

/* Proc file callbacks, implemented in Rust (gfn_main.rs). */
int gfn_rs_open(void **private);
void gfn_rs_release(void *private);
ssize_t gfn_rs_read(void *private, char __user *buf, size_t len, loff_t *pos);
ssize_t gfn_rs_write(void *private, const char __user *buf, size_t len,
		     loff_t *pos);
loff_t gfn_rs_reply_len(void *private);
unsigned int gfn_rs_poll(void *private);

int gfn_shim_proc_create(const char *name, umode_t mode);
void gfn_shim_proc_remove(const char *name);

void *gfn_shim_vm_get(pid_t pid, pid_t *vmm_pid);
void gfn_shim_vm_put(void *kvm);
int gfn_shim_translate(void *kvm, u64 gpa, struct gfn_shim_page *out);

#endif
