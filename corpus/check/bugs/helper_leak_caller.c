// SPDX-License-Identifier: GPL-2.0
/*
 * Callers in another file of the helper that opens a bracket for them:
 * one ends it after the change, the other forgets it on a busy entry.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_protect_one(struct vm_area_struct *vma, unsigned long address)
{
	unsigned long start, end;
	spinlock_t *ptl;
	pmd_t *pmdp = NULL;
	pte_t *ptep = NULL;

	if (frob_follow(vma->vm_mm, address, &start, &end, &ptep, &pmdp, &ptl))
		return -EFAULT;
	frob_pte_wrprotect(vma, address, ptep);
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
	return 0;
}

int frob_protect_busy(struct vm_area_struct *vma, unsigned long address)
{
	unsigned long start, end;
	spinlock_t *ptl;
	pmd_t *pmdp = NULL;
	pte_t *ptep = NULL;

	if (frob_follow(vma->vm_mm, address, &start, &end, &ptep, &pmdp, &ptl))
		return -EFAULT;
	if (frob_pte_busy(ptep)) {
		pte_unmap_unlock(ptep, ptl);
		return -EBUSY;
	}
	frob_pte_wrprotect(vma, address, ptep);
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
	return 0;
}
