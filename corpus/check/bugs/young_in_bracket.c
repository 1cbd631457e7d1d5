// SPDX-License-Identifier: GPL-2.0
/*
 * The accessed-bit test moved inside the bracket: by then a secondary MMU
 * that drops its mappings in invalidate_range_start has nothing left to
 * report, and reclaim takes a page a guest is using for an idle one.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_unmap_one(struct vm_area_struct *vma, unsigned long address,
		   pte_t *ptep)
{
	int ret = 0;

	mmu_notifier_invalidate_range_start(vma->vm_mm, address,
					    address + PAGE_SIZE);
	if (ptep_clear_flush_young_notify(vma, address, ptep)) {
		ret = -EBUSY;
		goto out;
	}
	frob_clear(vma->vm_mm, address, ptep);
out:
	mmu_notifier_invalidate_range_end(vma->vm_mm, address,
					  address + PAGE_SIZE);
	return ret;
}

/* The same through a local that holds the vma's mm. */
void frob_try_unmap(struct vm_area_struct *vma, unsigned long address,
		    pte_t *ptep)
{
	struct mm_struct *mm = vma->vm_mm;

	mmu_notifier_invalidate_range_start(mm, address, address + PAGE_SIZE);
	if (!ptep_clear_flush_young_notify(vma, address, ptep))
		frob_clear(mm, address, ptep);
	mmu_notifier_invalidate_range_end(mm, address, address + PAGE_SIZE);
}
