// SPDX-License-Identifier: GPL-2.0
/*
 * A lookup helper that opens a bracket for its caller, ported onto a tree
 * where a failure check sits between the start and the lock: that path
 * returns the error with the bracket open and nobody ends it.  The
 * success paths and the caller's end are correct.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

static int __frob_follow(struct mm_struct *mm, unsigned long address,
			 unsigned long *start, unsigned long *end,
			 pte_t **ptepp, pmd_t **pmdpp, spinlock_t **ptlp)
{
	pmd_t *pmd;
	pte_t *ptep;

	pmd = frob_pmd(mm, address);
	if (!pmd)
		goto out;

	if (frob_pmd_huge(*pmd)) {
		if (!pmdpp)
			goto out;
		if (start && end) {
			*start = address & PMD_MASK;
			*end = *start + PMD_SIZE;
			mmu_notifier_invalidate_range_start(mm, *start, *end);
		}
		*ptlp = pmd_lock(mm, pmd);
		if (frob_pmd_huge(*pmd)) {
			*pmdpp = pmd;
			return 0;
		}
		spin_unlock(*ptlp);
		if (start && end)
			mmu_notifier_invalidate_range_end(mm, *start, *end);
	}

	if (start && end) {
		*start = address & PAGE_MASK;
		*end = *start + PAGE_SIZE;
		mmu_notifier_invalidate_range_start(mm, *start, *end);
	}
	ptep = pte_offset_map_lock(mm, pmd, address, ptlp);
	if (!ptep)
		goto out;
	if (!pte_present(*ptep))
		goto unlock;
	*ptepp = ptep;
	return 0;
unlock:
	pte_unmap_unlock(ptep, *ptlp);
	if (start && end)
		mmu_notifier_invalidate_range_end(mm, *start, *end);
out:
	return -EINVAL;
}

int frob_follow(struct mm_struct *mm, unsigned long address,
		unsigned long *start, unsigned long *end,
		pte_t **ptepp, pmd_t **pmdpp, spinlock_t **ptlp)
{
	int res;

	(void) __cond_lock(*ptlp,
			   !(res = __frob_follow(mm, address, start, end,
						 ptepp, pmdpp, ptlp)));
	return res;
}

void frob_mkclean(struct vm_area_struct *vma, unsigned long address)
{
	unsigned long start, end;
	spinlock_t *ptl;
	pmd_t *pmdp = NULL;
	pte_t *ptep = NULL;

	if (frob_follow(vma->vm_mm, address, &start, &end, &ptep, &pmdp, &ptl))
		return;
	if (pmdp) {
		frob_pmd_wrprotect(vma, address, pmdp);
		spin_unlock(ptl);
	} else {
		frob_pte_wrprotect(vma, address, ptep);
		pte_unmap_unlock(ptep, ptl);
	}
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
}
