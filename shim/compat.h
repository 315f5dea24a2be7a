/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat: what differs between the kernel series the shim builds for (6.12
 * and 7.3), in one place, so that the rest of the shim reads the same on
 * both.  Every difference is a LINUX_VERSION_CODE test here, with what
 * changed and when.
 */
#ifndef GFN_TO_PFN_COMPAT_H
#define GFN_TO_PFN_COMPAT_H

#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)

/*
 * Since 6.18 DAX memory has no devmap page-table bit: fsdax and device-dax
 * pages are ordinary, refcounted ZONE_DEVICE folios, told by their folio.
 */
static inline bool gfn_pte_devmap(pte_t pte) { return false; }
static inline bool gfn_pmd_devmap(pmd_t pmd) { return false; }
static inline bool gfn_pud_devmap(pud_t pud) { return false; }

static inline bool gfn_folio_devmap(struct folio *folio)
{
	return folio_is_zone_device(folio);
}

/* A huge PMD leaf or a non-present huge entry (migration, device-private). */
static inline bool gfn_pmd_is_huge(pmd_t pmd)
{
	return pmd_is_huge(pmd);
}

#else

static inline bool gfn_pte_devmap(pte_t pte) { return pte_devmap(pte); }
static inline bool gfn_pmd_devmap(pmd_t pmd) { return pmd_devmap(pmd); }
static inline bool gfn_pud_devmap(pud_t pud) { return pud_devmap(pud); }

/* Devmap pages are told by their page-table entry, before their folio. */
static inline bool gfn_folio_devmap(struct folio *folio)
{
	return false;
}

/* What __pmd_trans_huge_lock() tests, which is not exported. */
static inline bool gfn_pmd_is_huge(pmd_t pmd)
{
	return is_swap_pmd(pmd) || pmd_trans_huge(pmd) || pmd_devmap(pmd);
}

#endif

/*
 * guest_memfd: CONFIG_KVM_PRIVATE_MEM on 6.12, CONFIG_KVM_GUEST_MEMFD
 * since 6.18.
 */
#if defined(CONFIG_KVM_PRIVATE_MEM) || defined(CONFIG_KVM_GUEST_MEMFD)
#define GFN_HAVE_GUEST_MEMFD 1
#else
#define GFN_HAVE_GUEST_MEMFD 0
#endif

#endif
