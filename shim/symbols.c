// SPDX-License-Identifier: GPL-2.0
/*
 * symbols: the pointers through which the shim reaches the kernel
 * internals not exported to this module (symbols.h), the list Rust reads
 * to find them, and the one call that fills them, from module init before
 * the proc file exists.  The addresses are found and checked in Rust
 * (module/symbols.rs); this file only stores them.
 */

#include <generated/utsrelease.h>
#include <linux/kvm_host.h>
#include <linux/utsname.h>

#include "shim.h"
#include "symbols.h"

/* Written once, in module init; read-only once init has returned. */
typeof(vm_list) *gfn_sym_vm_list __ro_after_init;
typeof(kvm_lock) *gfn_sym_kvm_lock __ro_after_init;
typeof(file_is_kvm) *gfn_sym_file_is_kvm __ro_after_init;
typeof(walk_page_range) *gfn_sym_walk_page_range __ro_after_init;
typeof(huge_zero_pfn) *gfn_sym_huge_zero_pfn __ro_after_init;
typeof(GFN_PTE_OFFSET_MAP_LOCK) *gfn_sym_pte_map_lock __ro_after_init;

/*
 * A symbol: its name, its object as /proc/kallsyms tags it (vmlinux for
 * the kernel image), whether it is data (1) or code (0), and whether it is
 * linked (exported to this module: GFN_EXPORTED_<name>, from Kbuild).
 */
#define GFN_SYMBOL(sym, obj, is_data) { \
	.name = #sym, .object = obj, .data = is_data, \
	.linked = GFN_SYM_LINKED(sym), \
}

static const struct gfn_symbol gfn_symbol_list[] = {
	GFN_SYMBOL(vm_list, "kvm", 1),
	GFN_SYMBOL(kvm_lock, "kvm", 1),
	GFN_SYMBOL(file_is_kvm, "kvm", 0),
	GFN_SYMBOL(walk_page_range, "vmlinux", 0),
	GFN_SYMBOL(huge_zero_pfn, "vmlinux", 1),
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	GFN_SYMBOL(pte_offset_map_lock, "vmlinux", 0),
#else
	GFN_SYMBOL(__pte_offset_map_lock, "vmlinux", 0),
#endif
};

/* Where each symbol's address goes, in gfn_symbol_list's order. */
static void **const gfn_symbol_slots[] = {
	(void **)&gfn_sym_vm_list,
	(void **)&gfn_sym_kvm_lock,
	(void **)&gfn_sym_file_is_kvm,
	(void **)&gfn_sym_walk_page_range,
	(void **)&gfn_sym_huge_zero_pfn,
	(void **)&gfn_sym_pte_map_lock,
};
static_assert(ARRAY_SIZE(gfn_symbol_slots) == ARRAY_SIZE(gfn_symbol_list));

/* Every symbol of the list, linked or not. */
u32 gfn_symbols(const struct gfn_symbol **list)
{
	*list = gfn_symbol_list;
	return ARRAY_SIZE(gfn_symbol_list);
}

/*
 * How many symbols of the list are not linked; when @n is that many,
 * stores @addrs, one per such symbol in the list's order, into their
 * pointers.  The caller has checked each address
 * (module/boundary/symbols.rs).
 */
u32 gfn_symbols_store(const u64 *addrs, u32 n)
{
	u32 i = 0, k, wanted = 0;

	for (k = 0; k < ARRAY_SIZE(gfn_symbol_list); k++)
		wanted += !gfn_symbol_list[k].linked;
	if (wanted != n)
		return wanted;
	for (k = 0; k < ARRAY_SIZE(gfn_symbol_list); k++)
		if (!gfn_symbol_list[k].linked)
			*gfn_symbol_slots[k] = (void *)(unsigned long)addrs[i++];
	return wanted;
}

/*
 * kvm.ko's symbols (vm_list, kvm_lock, file_is_kvm) are used for as long
 * as this module is loaded.  Importing one of kvm.ko's exports makes the
 * module loader keep kvm.ko loaded for that long, as it does for every
 * module whose exports another uses; where vm_list and kvm_lock are
 * exported to this module (patches/) that import exists already.
 */
static void (*const gfn_kvm_pin)(struct kvm *kvm) __used = kvm_put_kvm;

/* The kernel release the module was built for, and the running one. */
const char *gfn_release_built(void)
{
	return UTS_RELEASE;
}

const char *gfn_release_running(void)
{
	return init_utsname()->release;
}
