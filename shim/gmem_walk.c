// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_walk: what backs the private guest pages of a guest_memfd memslot
 * (KVM_X86_SW_PROTECTED_VM, and the confidential VM types).  Private memory
 * is not the VMM's: no page table of the VMM maps it, and the shared HVA of
 * the memslot says nothing about it.  Its pages are the guest_memfd file's
 * folios, looked up in the file's page cache without creating any (so a
 * page the guest never touched stays unallocated), each referenced only
 * while its facts are read.  Which pages to walk, and what a guest_memfd
 * being closed means, is decided in Rust (module/walk.rs).
 */

#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/pagemap.h>

#include "compat.h"
#include "shim.h"

#if GFN_HAVE_GUEST_MEMFD

/*
 * How many of the @nr gfns from @gfn share @gfn's memory attribute, and
 * whether it is private.  The attributes are an xarray read under RCU.
 */
u32 gfn_gmem_attr_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private)
{
	u32 i;

	*private = kvm_mem_is_private(kvm, gfn);
	for (i = 1; i < nr; i++)
		if (kvm_mem_is_private(kvm, gfn + i) != *private)
			break;
	return i;
}

/*
 * Describes @nr pages from page @index of guest_memfd @file (referenced by
 * the caller) into @out (room for @max entries), as gfn_page_walk() does
 * for the VMM's pages: runs of one folio's consecutive frames, or of pages
 * never allocated (not present).  Returns the number of entries.
 */
u32 gfn_gmem_file_walk(struct file *file, u64 index, u32 nr,
		       struct gfn_walk_entry *out, u32 max)
{
	u32 i, n = 0;

	for (i = 0; i < nr; i++) {
		struct folio *folio = filemap_get_folio(file->f_mapping,
							index + i);
		struct gfn_walk_entry e = {
			.pages = 1, .flags = GFN_PAGE_GMEM,
		};

		if (!IS_ERR(folio)) {
			e.flags |= GFN_PAGE_PRESENT;
			e.pfn = folio_pfn(folio) + (index + i - folio->index);
			e.nid = folio_nid(folio);
			e.order = folio_order(folio);
			if (folio_test_large(folio))
				e.flags |= GFN_PAGE_LARGE;
			folio_put(folio);
		}
		if (gfn_entry_append(out, &n, max, &e))
			break;
	}
	return n;
}

/*
 * The guest_memfd memslot of address space @as_id that holds @gfn, read
 * in the VM's SRCU section: 1 and its facts in @out, with its guest_memfd
 * referenced (put it with gfn_gmem_put()) or NULL when the file is being
 * closed; 0 when no guest_memfd memslot holds @gfn (or the VM has no such
 * address space).  A memslot being deleted or moved (KVM_MEMSLOT_INVALID)
 * is none.
 */
int gfn_gmem_slot(struct kvm *kvm, u32 as_id, u64 gfn,
		  struct gfn_gmem_slot *out)
{
	struct kvm_memory_slot *ms;
	int idx, found = 0;

	if (as_id >= kvm_arch_nr_memslot_as_ids(kvm))
		return 0;
	idx = srcu_read_lock(&kvm->srcu);
	ms = __gfn_to_memslot(__kvm_memslots(kvm, as_id), gfn);
	if (ms && !(ms->flags & KVM_MEMSLOT_INVALID) &&
	    (ms->flags & KVM_MEM_GUEST_MEMFD)) {
		out->base_gfn = ms->base_gfn;
		out->npages = ms->npages;
		out->pgoff = ms->gmem.pgoff;
		out->file = get_file_active(&ms->gmem.file);
		found = 1;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return found;
}

void gfn_gmem_put(struct file *file)
{
	fput(file);
}

#else

u32 gfn_gmem_attr_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private)
{
	*private = false;
	return nr;
}

u32 gfn_gmem_file_walk(struct file *file, u64 index, u32 nr,
		       struct gfn_walk_entry *out, u32 max)
{
	return 0;
}

int gfn_gmem_slot(struct kvm *kvm, u32 as_id, u64 gfn,
		  struct gfn_gmem_slot *out)
{
	return 0;
}

void gfn_gmem_put(struct file *file)
{
}

#endif /* GFN_HAVE_GUEST_MEMFD */
