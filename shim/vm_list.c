// SPDX-License-Identifier: GPL-2.0
/*
 * vm_list: facts about every VM on KVM's vm_list, read in one pass under
 * kvm_lock (exported by patches/SERIES/ or found at load time: symbols.h),
 * which is the only way to find VMs that are not the caller's own.
 */

#include <linux/kvm_host.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>

#include "shim.h"
#include "symbols.h"

/*
 * Who uses @kvm's address space, kvm->mm, as the caller's pid namespace
 * sees it, into @out.  kvm->userspace_pid names only the thread that
 * created the VM, which may have exited (or not be set: KVM sets it on its
 * uevent path, after an allocation that may fail): its process, and
 * whether that thread is alive with kvm->mm.  When it is not, every live
 * thread is looked at, under RCU, for one whose address space is kvm->mm:
 * its process.  Threads are looked at rather than processes because a
 * process whose first thread has exited has a leader without an mm.
 */
static void gfn_vm_users(struct kvm *kvm, struct gfn_vm_facts *out)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct task_struct *p, *t;

	out->creator = 0;
	out->user = 0;
	rcu_read_lock();
	t = pid_task(find_pid_ns(kvm->userspace_pid, &init_pid_ns),
		     PIDTYPE_PID);
	if (t) {
		out->creator = task_tgid_nr_ns(t, ns);
		if (READ_ONCE(t->mm) == kvm->mm) {
			out->flags |= GFN_VM_CREATOR_USES_MM;
			goto out;
		}
	}
	for_each_process_thread(p, t) {
		if (READ_ONCE(t->mm) == kvm->mm) {
			out->user = task_tgid_nr_ns(t, ns);
			break;
		}
	}
out:
	rcu_read_unlock();
}

/*
 * Counts @kvm's memslots and their pages, in every address space, each
 * set read once under kvm->srcu.
 *
 * The set must be a local read once: kvm_for_each_memslot() expands its
 * set argument at every step (the bucket heads, and the id_node[node_idx]
 * member that container_of() subtracts).  Given __kvm_memslots() itself,
 * as this file once did, it re-read kvm->memslots[] at every step, and a
 * memslot change in the VM meanwhile (kvm_swap_active_memslots()) made the
 * walk continue with the other set's node_idx: container_of() then
 * subtracted the other id_node's offset, and the memslot pointer was off
 * by one hlist_node (16 bytes), inside the same kmalloc object (so KASAN
 * said nothing).  npages was then read from a neighbour 16 bytes away
 * (6.12: gfn_node[1].rb_left or arch.rmap[0]), often 0: KVM's
 * WARN_ON_ONCE(!memslot->npages), and counts of garbage, or memslots left
 * out as the walk followed the other set's links.  KVM was not at fault:
 * vms_during_memslot_churn failed on that code in every run (5 fast, 1
 * debug), with the warning in most, and passes on this one.
 */
static void gfn_vm_size(struct kvm *kvm, struct gfn_vm_facts *out)
{
	struct kvm_memslots *slots;
	struct kvm_memory_slot *slot;
	int as, bkt, idx;

	out->slots = 0;
	out->pages = 0;
	idx = srcu_read_lock(&kvm->srcu);
	for (as = 0; as < kvm_arch_nr_memslot_as_ids(kvm); as++) {
		slots = __kvm_memslots(kvm, as);
		kvm_for_each_memslot(slot, bkt, slots) {
			out->slots++;
			out->pages += slot->npages;
		}
	}
	srcu_read_unlock(&kvm->srcu, idx);
}

/*
 * What KVM itself maps of @kvm: x86 counts its stage-2 leaf entries per
 * level, and the huge pages the NX mitigation split, in kvm->stat (the
 * counters behind debugfs's pages_4k, pages_2m, pages_1g, nx_lpage_splits),
 * a public structure read without a lock as debugfs reads it.  Other
 * architectures do not count them.
 */
static void gfn_vm_leaves(struct kvm *kvm, struct gfn_vm_facts *out)
{
#ifdef CONFIG_X86
	int level;

	static_assert(ARRAY_SIZE(kvm->stat.pages) == ARRAY_SIZE(out->leaves));
	for (level = 0; level < ARRAY_SIZE(out->leaves); level++)
		out->leaves[level] = atomic64_read(&kvm->stat.pages[level]);
	out->nx_splits = READ_ONCE(kvm->stat.nx_lpage_splits);
	out->flags |= GFN_VM_COUNTED;
#else
	memset(out->leaves, 0, sizeof(out->leaves));
	out->nx_splits = 0;
#endif
}

/*
 * Facts about every VM on vm_list, newest first, in one pass under one
 * kvm_lock hold, so the listing is consistent: a VM alive throughout is in
 * it once.  A VM whose last reference is gone, being destroyed, is listed
 * too (GFN_VM_DYING).  Reads the facts @what asks for (GFN_VM_LIST_*)
 * besides the ids and whether it is dying, the others left 0: finding a
 * VM by its address space needs no more.  Fills at most @max entries of
 * @out and returns how
 * many VMs there are (more than @max: the caller needs more room), or the
 * error of the wait for kvm_lock (a fatal signal), which KVM holds across
 * every VM's slots_lock.  kvm_lock keeps every listed VM and its memslots
 * alive (kvm_destroy_vm unlists it first), so no reference is taken:
 * dropping one here could destroy the VM, which takes kvm_lock.
 */
long gfn_vm_list(struct gfn_vm_facts *out, u32 max, u32 what)
{
	struct kvm *kvm;
	long n = 0;
	int ret;

	ret = mutex_lock_killable(&GFN_SYM(kvm_lock));
	if (ret)
		return ret;
	list_for_each_entry(kvm, &GFN_SYM(vm_list), vm_list) {
		if (n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].kvm_id = (unsigned long)kvm;
			out[n].mm_id = (unsigned long)kvm->mm;
			out[n].flags = refcount_read(&kvm->users_count) ?
				       0 : GFN_VM_DYING;
			if (what & GFN_VM_LIST_USERS)
				gfn_vm_users(kvm, &out[n]);
			if (what & GFN_VM_LIST_SIZES) {
				gfn_vm_size(kvm, &out[n]);
				gfn_vm_leaves(kvm, &out[n]);
			}
		}
		n++;
	}
	mutex_unlock(&GFN_SYM(kvm_lock));
	return n;
}
