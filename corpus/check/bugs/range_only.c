// SPDX-License-Identifier: GPL-2.0
/*
 * Bug 1 of the reverted 2017 rmap patch: mmu_notifier_invalidate_range()
 * used in place of the range_start/range_end bracket.  A notifier that
 * implements only the bracket (KVM) never hears of this change.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/rmap.h>

static bool frob_unmap_one(struct page *page, struct vm_area_struct *vma,
			   unsigned long address, void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep;
	spinlock_t *ptl;
	pte_t old;

	ptep = pte_offset_map_lock(mm, pmd_of(vma, address), address, &ptl);
	old = ptep_clear_flush(vma, address, ptep);
	mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE);
	pte_unmap_unlock(ptep, ptl);
	return pte_dirty(old);
}

int frob_unmap(struct page *page)
{
	struct rmap_walk_control rwc = {
		.rmap_one = frob_unmap_one,
	};

	rmap_walk(page, &rwc);
	return 0;
}
