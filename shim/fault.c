// SPDX-License-Identifier: GPL-2.0
/*
 * fault: pages faulted in (mode=fault) and then described by the page
 * walk.  gup faults them in and may drop the mmap lock while a fault waits;
 * every wait here can be killed, so a fault that never finishes
 * (userfaultfd, FUSE, NFS) holds neither the VMM's mmap lock nor this task.
 */

#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/signal.h>

#include "shim.h"

/*
 * Faults in the @nr pages at @hva of @mm (referenced by the caller, not
 * locked) for reading and describes them into @out, which has room for @nr
 * entries; @pages has room for @nr page pointers.  A page gup cannot get is
 * described by the walk (what the VMA says) with gup's error in gup_err
 * when nothing is there.  Returns the number of entries, or -EINTR; the
 * mmap lock is not held on return.
 */
long gfn_fault(struct mm_struct *mm, unsigned long hva, u32 nr,
	       struct page **pages, struct gfn_walk_entry *out)
{
	long got, i, n = 0;
	u32 done = 0, covered;
	int locked = 0;

	while (done < nr) {
		if (!locked) {
			if (fatal_signal_pending(current) ||
			    mmap_read_lock_killable(mm)) {
				n = -EINTR;
				break;
			}
			locked = 1;
		}
		got = get_user_pages_remote(mm, hva + done * PAGE_SIZE,
					    nr - done, 0, pages, &locked);
		if (got == -EINTR || got == -ERESTARTSYS) {
			n = -EINTR;
			break;
		}
		/*
		 * One put_page() per reference gup took, as gup's own callers
		 * do: folio_put_refs() would skip put_page()'s device-managed
		 * path, where an fsdax page's count falling to 1 wakes a
		 * waiting layout break.
		 */
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		/* The walk and the VMA are read under the lock gup may drop. */
		if (!locked) {
			if (mmap_read_lock_killable(mm)) {
				n = -EINTR;
				break;
			}
			locked = 1;
		}
		if (got <= 0) {
			/* This page has none; gup may get the next ones. */
			i = gfn_page_walk(mm, hva + done * PAGE_SIZE, 1,
					  out + n, nr - n, NULL, 0);
			if (i < 0) {
				n = i;
				break;
			}
			if (i && !(out[n].flags & GFN_PAGE_PRESENT))
				out[n].gup_err = got;
			n += i;
			done++;
			continue;
		}
		i = gfn_page_walk(mm, hva + done * PAGE_SIZE, got, out + n,
				  nr - n, NULL, 0);
		if (i < 0) {
			n = i;
			break;
		}
		for (covered = 0; i; i--, n++)
			covered += out[n].pages;
		done += covered;
		if (!covered)
			break;	/* cannot happen: each entry is a page or more */
	}
	if (locked)
		mmap_read_unlock(mm);
	return n;
}
