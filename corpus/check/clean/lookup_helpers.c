// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers that open a bracket for their caller: a lookup returns 0 with
 * the entry locked and the bracket open (the caller ends it), and ends
 * the bracket itself on every failure; a wrapper hands the result on
 * through a lock annotation; a pointer lookup opens it when it returns an
 * entry.  Callers that pass no range get no bracket.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

static int __frob_lookup(struct mm_struct *mm, unsigned long address,
			 unsigned long *start, unsigned long *end,
			 pte_t **ptepp, spinlock_t **ptlp)
{
	pmd_t *pmd;
	pte_t *ptep;

	pmd = frob_pmd(mm, address);
	if (!pmd)
		goto out;

	if (start && end) {
		*start = address & PAGE_MASK;
		*end = *start + PAGE_SIZE;
		mmu_notifier_invalidate_range_start(mm, *start, *end);
	}
	ptep = pte_offset_map_lock(mm, pmd, address, ptlp);
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

int frob_lookup(struct mm_struct *mm, unsigned long address,
		unsigned long *start, unsigned long *end,
		pte_t **ptepp, spinlock_t **ptlp)
{
	int res;

	(void) __cond_lock(*ptlp,
			   !(res = __frob_lookup(mm, address, start, end,
						 ptepp, ptlp)));
	return res;
}

/* No range asked for: no bracket to end. */
static int frob_peek(struct mm_struct *mm, unsigned long address,
		     unsigned long *val)
{
	spinlock_t *ptl;
	pte_t *ptep;

	if (__frob_lookup(mm, address, NULL, NULL, &ptep, &ptl))
		return -EINVAL;
	*val = pte_val(*ptep);
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

void frob_clean_all(struct vm_area_struct *vma, unsigned long first,
		    unsigned long last)
{
	unsigned long address, start, end;
	unsigned long val;
	spinlock_t *ptl;
	pte_t *ptep;

	for (address = first; address < last; address += PAGE_SIZE) {
		if (frob_lookup(vma->vm_mm, address, &start, &end, &ptep, &ptl))
			continue;
		frob_wrprotect(vma, address, ptep);
		pte_unmap_unlock(ptep, ptl);
		mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
	}
	frob_peek(vma->vm_mm, first, &val);
}

/* Returns the entry with the bracket open, or NULL with none. */
static pte_t *frob_grab(struct mm_struct *mm, unsigned long start,
			unsigned long end)
{
	pte_t *ptep;

	mmu_notifier_invalidate_range_start(mm, start, end);
	ptep = frob_find(mm, start);
	if (!ptep) {
		mmu_notifier_invalidate_range_end(mm, start, end);
		return NULL;
	}
	return ptep;
}

int frob_zap_one(struct mm_struct *mm, unsigned long start)
{
	pte_t *ptep;

	ptep = frob_grab(mm, start, start + PAGE_SIZE);
	if (!ptep)
		return -ENOENT;
	frob_clear(mm, start, ptep);
	mmu_notifier_invalidate_range_end(mm, start, start + PAGE_SIZE);
	return 0;
}
