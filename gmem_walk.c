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

#include <linux/kvm_host.h>
#include <linux/pagemap.h>

#include "kvm_shim.h"

#ifdef CONFIG_KVM_PRIVATE_MEM

/*
 * How many of the @nr gfns from @gfn share @gfn's memory attribute, and
 * whether it is private.  Called in the memslots' SRCU section.
 */
u32 gfn_gmem_run(struct kvm *kvm, u64 gfn, u32 nr, bool *private)
{
	u32 i;

	*private = kvm_mem_is_private(kvm, gfn);
	for (i = 1; i < nr; i++)
		if (kvm_mem_is_private(kvm, gfn + i) != *private)
			break;
	return i;
}

/*
 * Describes @nr pages from page @index of guest_memfd @file into @out
 * (room for @max entries), as gfn_page_walk() does for the VMM's pages:
 * runs of one folio's consecutive frames, or of pages without a folio
 * (err -EFAULT: never allocated).  Returns the number of entries.
 */
long gfn_gmem_walk(struct file *file, pgoff_t index, u32 nr,
		   struct gfn_shim_page *out, u32 max)
{
	struct gfn_shim_page *last = NULL;
	u32 i, n = 0;

	for (i = 0; i < nr; i++) {
		struct folio *folio = filemap_get_folio(file->f_mapping,
							index + i);
		struct gfn_shim_page page = {
			.pages = 1, .flags = GFN_SHIM_PAGE_GMEM,
		};

		if (IS_ERR(folio)) {
			page.err = -EFAULT;
		} else {
			page.pfn = folio_pfn(folio) + (index + i - folio->index);
			page.nid = folio_nid(folio);
			page.order = folio_order(folio);
			if (folio_test_large(folio))
				page.flags |= GFN_SHIM_PAGE_LARGE;
			folio_put(folio);
		}
		if (last && last->err == page.err && last->flags == page.flags &&
		    last->nid == page.nid && last->order == page.order &&
		    (page.err || last->pfn + last->pages == page.pfn)) {
			last->pages++;
			continue;
		}
		if (n == max)
			break;
		out[n] = page;
		last = &out[n++];
	}
	return n;
}

#endif /* CONFIG_KVM_PRIVATE_MEM */
