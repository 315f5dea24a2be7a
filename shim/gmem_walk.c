// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_walk: what backs the private guest pages of a guest_memfd memslot
 * (KVM_X86_SW_PROTECTED_VM, and the confidential VM types).  Private memory
 * is not the VMM's: no page table of the VMM maps it, and the shared HVA of
 * the memslot says nothing about it.  Its pages are the guest_memfd file's
 * folios, looked up in the file's page cache without creating any (so a
 * page the guest never touched stays unallocated), each referenced only
 * while its facts are read.
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

/* Describes @nr pages from page @index of guest_memfd @file into @out. */
static long gfn_gmem_file_walk(struct file *file, pgoff_t index, u32 nr,
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
 * Describes the @nr private gfns from @gfn of the guest_memfd memslot of
 * address space @as_id that holds @gfn (up to its end) into @out (room for
 * @max entries), as gfn_page_walk() does for the VMM's pages: runs of one
 * folio's consecutive frames, or of pages never allocated (not present).
 * The guest_memfd file is referenced only for the lookups; a file being
 * closed has no pages to tell: they read as not present.  Returns the
 * number of entries, or -ENOENT when no guest_memfd memslot holds @gfn.
 */
long gfn_gmem_walk(struct kvm *kvm, u32 as_id, u64 gfn, u32 nr,
		   struct gfn_walk_entry *out, u32 max)
{
	struct kvm_memory_slot *ms;
	struct file *file = NULL;
	pgoff_t index = 0;
	long n;
	int idx;

	if (as_id >= kvm_arch_nr_memslot_as_ids(kvm) || !max)
		return -ENOENT;
	idx = srcu_read_lock(&kvm->srcu);
	ms = __gfn_to_memslot(__kvm_memslots(kvm, as_id), gfn);
	if (!ms || (ms->flags & KVM_MEMSLOT_INVALID) ||
	    !(ms->flags & KVM_MEM_GUEST_MEMFD)) {
		srcu_read_unlock(&kvm->srcu, idx);
		return -ENOENT;
	}
	nr = min_t(u64, nr, ms->base_gfn + ms->npages - gfn);
	index = ms->gmem.pgoff + gfn - ms->base_gfn;
	file = get_file_active(&ms->gmem.file);
	srcu_read_unlock(&kvm->srcu, idx);
	if (!file) {
		out[0] = (struct gfn_walk_entry) {
			.pages = nr, .flags = GFN_PAGE_GMEM,
		};
		return 1;
	}
	n = gfn_gmem_file_walk(file, index, nr, out, max);
	fput(file);
	return n;
}

#else

u32 gfn_gmem_attr_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private)
{
	*private = false;
	return nr;
}

long gfn_gmem_walk(struct kvm *kvm, u32 as_id, u64 gfn, u32 nr,
		   struct gfn_walk_entry *out, u32 max)
{
	return -ENOENT;
}

#endif /* GFN_HAVE_GUEST_MEMFD */
