// SPDX-License-Identifier: GPL-2.0
/*
 * mm: the VMM's address space, referenced and read-locked, for the page
 * walks, and what a long call checks between them; mmget_not_zero(), the
 * mmap lock, cond_resched() and fatal_signal_pending() are static inlines
 * or macros the kernel crate does not offer on 6.12.
 */

#include <linux/kvm_host.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "shim.h"

/* @kvm's address space, referenced (gfn_mm_put()), or NULL when it is gone. */
struct mm_struct *gfn_vm_mm_get(struct kvm *kvm)
{
	return mmget_not_zero(kvm->mm) ? kvm->mm : NULL;
}

void gfn_mm_put(struct mm_struct *mm)
{
	mmput(mm);
}

int gfn_mmap_read_lock_killable(struct mm_struct *mm)
{
	return mmap_read_lock_killable(mm);
}

void gfn_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

void gfn_resched(void)
{
	cond_resched();
}

/* Whether the caller has a fatal signal pending. */
bool gfn_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}
