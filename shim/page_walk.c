// SPDX-License-Identifier: GPL-2.0
/*
 * page_walk: what backs a range of a process's addresses, read from its page
 * tables the way /proc/PID/pagemap reads them.  Under the mmap read lock,
 * every fact is read under the page-table lock that keeps the page mapped
 * (so its folio cannot be freed, split or migrated meanwhile); no page
 * reference is taken and no accessed or dirty bit is touched, so a probe
 * leaves page_idle, LRU aging and DAMON as they were (get_user_pages_remote
 * always adds FOLL_TOUCH).  Holes are skipped whole at every level, and a
 * PMD- or PUD-mapped page is one entry.
 *
 * Two rules of walk_page_range() matter here: there is no pte_entry (with
 * one, the walker splits PMD-mapped THPs to reach their PTEs), and
 * pud_entry stops the walker at PUD leaves (or it would split them).
 */

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/pagewalk.h>

#include "compat.h"
#include "shim.h"
#include "symbols.h"

struct gfn_walk {
	struct gfn_walk_entry *out;
	u32 max;		/* entries @out has room for */
	u32 n;			/* entries filled */
	u64 *frames;		/* frames of stretches of base pages, or NULL */
	u32 max_frames;		/* frames @frames has room for */
	u32 nframes;		/* frames filled */
	struct folio *folio;	/* the last pages added, or NULL: only compared */
};

/*
 * Appends @e, pages of @folio (or of none), with gfn_entry_append(): the
 * last entry grows when @e extends it.  Returns 1, which stops the walk,
 * when @out is full.
 */
static int gfn_walk_add(struct gfn_walk *w, const struct gfn_walk_entry *e,
			struct folio *folio)
{
	if (gfn_entry_append(w->out, &w->n, w->max, e))
		return 1;
	w->folio = folio;
	return 0;
}

/*
 * Appends @nr pages without a page: not present, or what the VMA flags
 * say (@flags).
 */
static int gfn_walk_none(struct gfn_walk *w, unsigned long nr, u32 flags)
{
	struct gfn_walk_entry e = { .pages = nr, .flags = flags };

	return gfn_walk_add(w, &e, NULL);
}

/*
 * The huge zero folio, told by its frame (huge_zero_pfn, exported by
 * patches/SERIES/0003 or found at load time: symbols.h): a large folio a driver inserts has no mapping and is not
 * anonymous either, so its shape would not tell.
 */
static bool gfn_walk_huge_zero(struct folio *folio)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	return folio_test_large(folio) &&
	       folio_pfn(folio) == READ_ONCE(GFN_SYM(huge_zero_pfn));
#else
	return false;
#endif
}

/*
 * Appends @nr pages at frames @pfn.., mapped at page-table @level, that are
 * told by the mapping alone (@flags, node @nid), not by a folio: the order
 * is the mapping's.
 */
static int gfn_walk_frames(struct gfn_walk *w, unsigned long pfn,
			   unsigned long nr, u32 level, u32 flags, int nid)
{
	struct gfn_walk_entry e = {
		.pfn = pfn, .pages = nr, .flags = GFN_PAGE_PRESENT | flags,
		.nid = nid, .level = level,
		.order = level == GFN_LEVEL_PUD ? PUD_ORDER :
			 level == GFN_LEVEL_PMD ? PMD_ORDER : 0,
	};

	return gfn_walk_add(w, &e, NULL);
}

/*
 * Appends @nr pages at frames @pfn.. of device memory with struct pages
 * (ZONE_DEVICE: fsdax and device-dax), mapped at page-table @level by a
 * devmap entry: the frames, the node and the level; the pages belong to the
 * device's pgmap, not to a folio of the page allocator.
 */
static int gfn_walk_devmap(struct gfn_walk *w, unsigned long pfn,
			   unsigned long nr, u32 level)
{
	int nid = pfn_valid(pfn) ? page_to_nid(pfn_to_page(pfn)) : NUMA_NO_NODE;

	return gfn_walk_frames(w, pfn, nr, level, GFN_PAGE_DEVMAP, nid);
}

/*
 * Appends @nr pages at frames @pfn.., mapped at page-table @level, all in
 * one folio.  Called under the page-table lock of their mapping, which
 * keeps the folio from being freed, split or migrated.  The next pages of
 * the folio of the last entry, when they continue its frames, have its
 * facts without reading them again.
 */
static int gfn_walk_mapped(struct gfn_walk *w, unsigned long pfn,
			   unsigned long nr, u32 level)
{
	struct gfn_walk_entry *last = w->n ? &w->out[w->n - 1] : NULL;
	struct gfn_walk_entry e = {
		.pfn = pfn, .pages = nr, .flags = GFN_PAGE_PRESENT,
		.level = level,
	};
	struct folio *folio;

	if (!pfn_valid(pfn))	/* no struct page: the frames, nothing more */
		return gfn_walk_frames(w, pfn, nr, level, GFN_PAGE_NO_PAGE,
				       NUMA_NO_NODE);
	folio = page_folio(pfn_to_page(pfn));
	if (gfn_folio_devmap(folio))
		return gfn_walk_devmap(w, pfn, nr, level);
	if (last && w->folio == folio) {
		e.flags = last->flags;
		e.nid = last->nid;
		e.order = last->order;
		return gfn_walk_add(w, &e, folio);
	}
	if (folio_test_hugetlb(folio))
		e.flags |= GFN_PAGE_HUGETLB;
	if (folio_test_large(folio))
		e.flags |= GFN_PAGE_LARGE;
	if (folio_test_ksm(folio))
		e.flags |= GFN_PAGE_KSM;
	if (is_zero_pfn(pfn) || gfn_walk_huge_zero(folio))
		e.flags |= GFN_PAGE_ZERO;
	e.nid = folio_nid(folio);
	e.order = folio_order(folio);
	return gfn_walk_add(w, &e, folio);
}

/*
 * Takes the PTEs from @pte on (at most @nr) that map base pages: present,
 * neither special nor devmap, in a VMA that maps nothing without a struct
 * page (neither VM_PFNMAP nor VM_MIXEDMAP: so each has a struct page, as
 * vm_normal_page() reasons), small folios that are neither the zero page,
 * KSM nor device memory.  Their frames go into @w->frames, counted by the
 * last entry while it is a stretch of base pages on their node; else the
 * first page starts one (a new entry), and a page on another node ends the
 * loop.  The frames are whatever they are: Rust finds the runs.  The loop
 * keeps the walk's state in locals and reads only the PTE and the struct
 * page a base page needs; the pages and frames taken are counted once, at
 * the end.  Returns the PTEs taken (the caller calls again for the PTE
 * after them); 0 when the first does not map a base page (the caller
 * describes it); -1, which stops the walk, when it does and there is no
 * room for it: the frames are full, or it needs a new entry and the
 * entries are.
 */
static long gfn_walk_stretch(struct gfn_walk *w, pte_t *pte, unsigned long nr)
{
	struct gfn_walk_entry *last = w->n ? &w->out[w->n - 1] : NULL;
	u64 *frames = w->frames + w->nframes;
	unsigned long i, room = w->max_frames - w->nframes;
	int nid = last && (last->flags & GFN_PAGE_FRAMES) ? last->nid :
							    NUMA_NO_NODE;
	bool full = false;

	for (i = 0; i < nr; i++) {
		pte_t ptent = ptep_get(pte + i);
		unsigned long pfn = pte_pfn(ptent);
		struct folio *folio;

		if (!pte_present(ptent) || gfn_pte_devmap(ptent) ||
		    pte_special(ptent) || is_zero_pfn(pfn))
			break;
		folio = page_folio(pfn_to_page(pfn));
		if (folio_test_large(folio) || folio_test_ksm(folio) ||
		    gfn_folio_devmap(folio))
			break;
		full = i == room;
		if (full)
			break;
		if (folio_nid(folio) != nid) {
			full = !i && w->n == w->max;
			if (i || full)
				break;
			nid = folio_nid(folio);
			last = &w->out[w->n++];
			*last = (struct gfn_walk_entry) {
				.pfn = w->nframes,
				.flags = GFN_PAGE_PRESENT | GFN_PAGE_FRAMES,
				.nid = nid, .level = GFN_LEVEL_PTE,
			};
		}
		frames[i] = pfn;
	}
	if (!i)
		return full ? -1 : 0;
	last->pages += i;
	w->nframes += i;
	w->folio = NULL;	/* the last entry is no folio's */
	return i;
}

/*
 * Appends @nr pages at frames @pfn.. that a special mapping (VM_PFNMAP:
 * device memory, a /dev/mem mapping) maps at page-table @level: the frames
 * and the level, nothing about struct pages, which such frames may lack
 * (and which are not the mapping's to describe when they have them).
 */
static int gfn_walk_pfn(struct gfn_walk *w, unsigned long pfn,
			unsigned long nr, u32 level)
{
	return gfn_walk_frames(w, pfn, nr, level, GFN_PAGE_PFNMAP,
			       NUMA_NO_NODE);
}

/* A leaf of @walk's VMA: a folio's pages, or a special mapping's frames. */
static int gfn_walk_leaf(struct mm_walk *walk, unsigned long pfn,
			 unsigned long nr, u32 level)
{
	if (walk->vma->vm_flags & VM_PFNMAP)
		return gfn_walk_pfn(walk->private, pfn, nr, level);
	return gfn_walk_mapped(walk->private, pfn, nr, level);
}

/*
 * Every VMA is walked, VM_IO and VM_PFNMAP ones too (walk_page_range()
 * skips VM_PFNMAP by default: it has no struct pages to describe, but its
 * frames are what a PFNMAP memslot maps).
 */
static int gfn_walk_test(unsigned long addr, unsigned long end,
			 struct mm_walk *walk)
{
	return 0;
}

/* Nothing mapped: outside any VMA (@walk->vma NULL), or a hole in one. */
static int gfn_walk_hole(unsigned long addr, unsigned long end, int depth,
			 struct mm_walk *walk)
{
	return gfn_walk_none(walk->private, (end - addr) >> PAGE_SHIFT,
			     walk->vma ? 0 : GFN_PAGE_NO_VMA);
}

static struct gfn_walk *w_of(struct mm_walk *walk)
{
	return walk->private;
}

/* A PUD leaf (device DAX) is one entry; a PUD table is walked on. */
static int gfn_walk_pud(pud_t *pudp, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	spinlock_t *ptl;
	pud_t pud;
	int ret = 0;

	if (!pud_leaf(pudp_get(pudp)))
		return 0;
	ptl = pud_lock(walk->mm, pudp);
	pud = pudp_get(pudp);
	if (pud_leaf(pud) && pud_present(pud) && gfn_pud_devmap(pud)) {
		ret = gfn_walk_devmap(w_of(walk), pud_pfn(pud) +
				      ((addr & ~PUD_MASK) >> PAGE_SHIFT),
				      (end - addr) >> PAGE_SHIFT,
				      GFN_LEVEL_PUD);
		walk->action = ACTION_CONTINUE;
	} else if (pud_leaf(pud) && pud_present(pud)) {
		ret = gfn_walk_leaf(walk, pud_pfn(pud) +
				    ((addr & ~PUD_MASK) >> PAGE_SHIFT),
				    (end - addr) >> PAGE_SHIFT,
				    GFN_LEVEL_PUD);
		walk->action = ACTION_CONTINUE;
	} else if (pud_leaf(pud)) {	/* not present */
		ret = gfn_walk_none(walk->private, (end - addr) >> PAGE_SHIFT, 0);
		walk->action = ACTION_CONTINUE;
	} else if (pud_none(pud)) {
		walk->action = ACTION_AGAIN;	/* gone under us: a hole now */
	}
	spin_unlock(ptl);
	return ret;
}

/* A PMD leaf is one entry; a PMD table's PTEs are read under its lock. */
static int gfn_walk_pmd(pmd_t *pmdp, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct gfn_walk *w = walk->private;
	unsigned long vm_flags = walk->vma->vm_flags;
	bool pfnmap = vm_flags & VM_PFNMAP;
	/*
	 * Base pages go by frame when there is room for frames and the VMA
	 * maps only pages with struct pages by normal PTEs.
	 */
	bool by_frame = w->frames && !(vm_flags & (VM_PFNMAP | VM_MIXEDMAP));
	pte_t *start, *pte;
	spinlock_t *ptl;
	pmd_t pmd;
	int ret = 0;

	pmd = pmdp_get_lockless(pmdp);
	if (gfn_pmd_is_huge(pmd)) {
		/* What __pmd_trans_huge_lock() does, which is not exported. */
		ptl = pmd_lock(walk->mm, pmdp);
		pmd = pmdp_get(pmdp);
		if (gfn_pmd_is_huge(pmd)) {
			if (pmd_present(pmd) && gfn_pmd_devmap(pmd))
				ret = gfn_walk_devmap(w, pmd_pfn(pmd) +
					((addr & ~PMD_MASK) >> PAGE_SHIFT),
					(end - addr) >> PAGE_SHIFT,
					GFN_LEVEL_PMD);
			else if (pmd_present(pmd))
				ret = gfn_walk_leaf(walk, pmd_pfn(pmd) +
					((addr & ~PMD_MASK) >> PAGE_SHIFT),
					(end - addr) >> PAGE_SHIFT,
					GFN_LEVEL_PMD);
			else	/* a migration (or device-private) entry */
				ret = gfn_walk_none(w, (end - addr) >> PAGE_SHIFT, 0);
			spin_unlock(ptl);
			walk->action = ACTION_CONTINUE;
			return ret;
		}
		spin_unlock(ptl);
	}

	start = GFN_SYM(GFN_PTE_OFFSET_MAP_LOCK)(walk->mm, pmdp, addr, &ptl);
	if (!start) {
		walk->action = ACTION_AGAIN;	/* the table went or became huge */
		return 0;
	}
	for (pte = start; addr < end && !ret; pte++, addr += PAGE_SIZE) {
		pte_t ptent;

		if (by_frame) {
			/* Base pages in one loop; any other PTE below. */
			long n = gfn_walk_stretch(w, pte,
						  (end - addr) >> PAGE_SHIFT);

			if (n < 0) {
				ret = 1;
				break;
			}
			if (n > 0) {
				/* The loop's step moves past the last one. */
				pte += n - 1;
				addr += (n - 1) << PAGE_SHIFT;
				continue;
			}
		}
		ptent = ptep_get(pte);

		if (!pte_present(ptent))	/* none, swap, migration, marker */
			ret = gfn_walk_none(w, 1, 0);
		else if (gfn_pte_devmap(ptent))	/* before special: x86 sets both */
			ret = gfn_walk_devmap(w, pte_pfn(ptent), 1,
					      GFN_LEVEL_PTE);
		else if (by_frame && !pte_special(ptent))
			/* Not a base page: gfn_walk_stretch() took none. */
			ret = gfn_walk_mapped(w, pte_pfn(ptent), 1,
					      GFN_LEVEL_PTE);
		else if (pfnmap)
			ret = gfn_walk_pfn(w, pte_pfn(ptent), 1,
					   GFN_LEVEL_PTE);
		else if (pte_special(ptent) && !is_zero_pfn(pte_pfn(ptent)))
			ret = gfn_walk_frames(w, pte_pfn(ptent), 1,
					      GFN_LEVEL_PTE, GFN_PAGE_NO_PAGE,
					      NUMA_NO_NODE);
		else
			ret = gfn_walk_mapped(w, pte_pfn(ptent), 1,
					      GFN_LEVEL_PTE);
	}
	pte_unmap_unlock(start, ptl);
	cond_resched();
	return ret;
}

/* One hugetlb page (or the part of it in the range). */
static int gfn_walk_hugetlb(pte_t *ptep, unsigned long hmask,
			    unsigned long addr, unsigned long end,
			    struct mm_walk *walk)
{
	struct hstate *h = hstate_vma(walk->vma);
	spinlock_t *ptl = huge_pte_lock(h, walk->mm, ptep);
	pte_t pte = huge_ptep_get(walk->mm, addr, ptep);
	int ret;

	if (pte_present(pte))
		ret = gfn_walk_mapped(walk->private, pte_pfn(pte) +
				      ((addr & ~hmask) >> PAGE_SHIFT),
				      (end - addr) >> PAGE_SHIFT,
				      huge_page_size(h) >= PUD_SIZE ?
				      GFN_LEVEL_PUD : GFN_LEVEL_PMD);
	else
		ret = gfn_walk_none(walk->private, (end - addr) >> PAGE_SHIFT, 0);
	spin_unlock(ptl);
	return ret;
}

static const struct mm_walk_ops gfn_walk_ops = {
	.test_walk = gfn_walk_test,
	.pte_hole = gfn_walk_hole,
	.pud_entry = gfn_walk_pud,
	.pmd_entry = gfn_walk_pmd,
	.hugetlb_entry = gfn_walk_hugetlb,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Describes the @nr pages at @addr of @mm, whose mmap lock the caller
 * holds for reading, into @out (room for @max entries, each a run of pages
 * with the same facts) and, when @max_frames is not 0, @frames (room for
 * @max_frames frames of stretches of base pages: GFN_PAGE_FRAMES).
 * Returns the number of entries, which describe fewer than @nr pages when
 * @out or @frames filled up, or walk_page_range()'s error.
 */
long gfn_page_walk(struct mm_struct *mm, unsigned long addr, u32 nr,
		   struct gfn_walk_entry *out, u32 max, u64 *frames,
		   u32 max_frames)
{
	struct gfn_walk w = {
		.out = out, .max = max,
		.frames = max_frames ? frames : NULL, .max_frames = max_frames,
	};
	int ret;

	ret = GFN_SYM(walk_page_range)(mm, addr, addr + ((unsigned long)nr << PAGE_SHIFT),
			      &gfn_walk_ops, &w);
	if (ret < 0)
		return ret;
	return w.n;
}
