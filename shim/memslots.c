// SPDX-License-Identifier: GPL-2.0
/*
 * memslots: a VM's memslots, as userspace set them up, read in the VM's
 * SRCU section (struct kvm_memory_slot is KVM's private layout).
 */

#include <linux/kvm_host.h>

#include "shim.h"

static void gfn_slot_facts(struct kvm_memory_slot *slot,
			   struct gfn_slot_facts *out)
{
	out->base_gfn = slot->base_gfn;
	out->npages = slot->npages;
	out->hva = slot->userspace_addr;
	out->flags = slot->flags & 0xffff;	/* the KVM_MEM_* uapi bits */
	out->id = slot->id;
	out->as_id = slot->as_id;
}

/*
 * The memslot of address space @as_id holding @gfn or, failing that, the
 * first one above it, into @out: whether there is one (none is in an
 * address space the VM does not have).  A memslot being deleted or moved
 * (KVM_MEMSLOT_INVALID) is none.
 */
bool gfn_slot_find(struct kvm *kvm, u32 as_id, u64 gfn,
		   struct gfn_slot_facts *out)
{
	struct kvm_memslot_iter iter;
	bool found = false;
	int idx;

	if (as_id >= kvm_arch_nr_memslot_as_ids(kvm))
		return false;
	idx = srcu_read_lock(&kvm->srcu);
	kvm_for_each_memslot_in_gfn_range(&iter, __kvm_memslots(kvm, as_id),
					  gfn, U64_MAX) {
		if (iter.slot->flags & KVM_MEMSLOT_INVALID)
			continue;
		gfn_slot_facts(iter.slot, out);
		found = true;
		break;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return found;
}
