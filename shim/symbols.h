/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symbols: the kernel internals the shim uses that mainline does not
 * export to modules (patches/SERIES/ exports them), each used as
 * GFN_SYM(name).  Where the kernel built against exports a symbol to this
 * module, Kbuild (from its Module.symvers) defines GFN_EXPORTED_<name> and
 * GFN_SYM(name) is the symbol itself, linked by the module loader.
 * Elsewhere it goes through a pointer of the symbol's own type, typeof its
 * declaration in the kernel's headers (so a changed prototype is a compile
 * error, not a call with the wrong arguments), which module init fills once
 * from the running kernel's symbol table, each address checked with
 * sprint_symbol() (module/symbols.rs), before anything can call the shim.
 *
 * The list, with each symbol's object and kind, is symbols.c's; Kbuild
 * reads the names from its GFN_SYMBOL() lines (exported.awk).
 */
#ifndef GFN_TO_PFN_SYMBOLS_H
#define GFN_TO_PFN_SYMBOLS_H

#include <linux/huge_mm.h>
#include <linux/kconfig.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/version.h>

/*
 * Mapping and locking a PTE table: in 6.12 pte_offset_map_lock() is an
 * inline wrapper of __pte_offset_map_lock(); by 7.3 the latter is gone and
 * the former is the function (mm/pgtable-generic.c).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#define GFN_PTE_OFFSET_MAP_LOCK pte_offset_map_lock
#else
#define GFN_PTE_OFFSET_MAP_LOCK __pte_offset_map_lock
#endif

/* The pointers, for the symbols not exported to this module (symbols.c). */
extern typeof(vm_list) *gfn_sym_vm_list;
extern typeof(kvm_lock) *gfn_sym_kvm_lock;
extern typeof(file_is_kvm) *gfn_sym_file_is_kvm;
extern typeof(walk_page_range) *gfn_sym_walk_page_range;
extern typeof(huge_zero_pfn) *gfn_sym_huge_zero_pfn;
extern typeof(GFN_PTE_OFFSET_MAP_LOCK) *gfn_sym_pte_map_lock;

/*
 * GFN_SYM(name): the symbol, linked or through its pointer.  One
 * definition per symbol, since whether it is exported is a preprocessor
 * fact of each (GFN_EXPORTED_<name>).
 */
#define GFN_SYM(name) GFN_SYM_(name)
#define GFN_SYM_(name) GFN_SYM_##name

/* 1 when GFN_SYM(name) is the linked symbol, 0 when it is a pointer. */
#define GFN_SYM_LINKED(name) __is_defined(GFN_EXPORTED_##name)

#ifdef GFN_EXPORTED_vm_list
#define GFN_SYM_vm_list vm_list
#else
#define GFN_SYM_vm_list (*gfn_sym_vm_list)
#endif

#ifdef GFN_EXPORTED_kvm_lock
#define GFN_SYM_kvm_lock kvm_lock
#else
#define GFN_SYM_kvm_lock (*gfn_sym_kvm_lock)
#endif

#ifdef GFN_EXPORTED_file_is_kvm
#define GFN_SYM_file_is_kvm file_is_kvm
#else
#define GFN_SYM_file_is_kvm (*gfn_sym_file_is_kvm)
#endif

#ifdef GFN_EXPORTED_walk_page_range
#define GFN_SYM_walk_page_range walk_page_range
#else
#define GFN_SYM_walk_page_range (*gfn_sym_walk_page_range)
#endif

#ifdef GFN_EXPORTED_huge_zero_pfn
#define GFN_SYM_huge_zero_pfn huge_zero_pfn
#else
#define GFN_SYM_huge_zero_pfn (*gfn_sym_huge_zero_pfn)
#endif

#ifdef GFN_EXPORTED_pte_offset_map_lock
#define GFN_SYM_pte_offset_map_lock pte_offset_map_lock
#else
#define GFN_SYM_pte_offset_map_lock (*gfn_sym_pte_map_lock)
#endif

#ifdef GFN_EXPORTED___pte_offset_map_lock
#define GFN_SYM___pte_offset_map_lock __pte_offset_map_lock
#else
#define GFN_SYM___pte_offset_map_lock (*gfn_sym_pte_map_lock)
#endif

#endif
