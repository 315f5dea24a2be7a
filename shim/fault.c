// SPDX-License-Identifier: GPL-2.0
/*
 * fault: pages faulted in (mode=fault) by get_user_pages_remote(), which
 * the kernel crate does not offer, and which takes the mmap lock as a
 * pointer it may drop while a fault waits.  Every wait here can be
 * killed, so a fault that never finishes (userfaultfd, FUSE, NFS) holds
 * neither the VMM's mmap lock nor this task.  What a batch does with the
 * pages gup cannot get, and which errors end the call, is decided in Rust
 * (module/fault.rs), which then reads the pages with the page walk.
 */

#include <linux/mm.h>
#include <linux/mmap_lock.h>

#include "shim.h"

/*
 * Faults in the @nr pages at @hva of @mm (referenced by the caller, not
 * locked) for reading, under the mmap read lock taken here (killable) and
 * not held on return, and drops every page reference gup took (@pages has
 * room for @nr).  Returns what gup returned: how many pages from @hva on
 * it faulted in, or its error; or the lock wait's error.
 */
long gfn_fault_in(struct mm_struct *mm, unsigned long hva, u32 nr,
		  struct page **pages)
{
	int locked = 1;
	long got, i;
	int ret;

	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	got = get_user_pages_remote(mm, hva, nr, 0, pages, &locked);
	/*
	 * One put_page() per reference gup took, as gup's own callers do:
	 * folio_put_refs() would skip put_page()'s device-managed path, where
	 * an fsdax page's count falling to 1 wakes a waiting layout break.
	 */
	for (i = 0; i < got; i++)
		put_page(pages[i]);
	if (locked)
		mmap_read_unlock(mm);
	return got;
}
