// SPDX-License-Identifier: GPL-2.0
/*
 * A caller in another file of a lookup helper that returns with the
 * bracket open: it ends the bracket after the change, and not after a
 * failed lookup.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_mkclean_one(struct vm_area_struct *vma, unsigned long address)
{
	unsigned long start, end;
	spinlock_t *ptl;
	pte_t *ptep;
	int ret;

	ret = frob_lookup(vma->vm_mm, address, &start, &end, &ptep, &ptl);
	if (ret)
		return ret;
	frob_wrprotect(vma, address, ptep);
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
	return 0;
}
