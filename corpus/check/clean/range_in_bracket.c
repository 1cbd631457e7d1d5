// SPDX-License-Identifier: GPL-2.0
/*
 * invalidate_range() where it belongs: inside the ptl, inside a
 * start/end bracket, here or in the only (static) caller.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

static void frob_clear_one(struct vm_area_struct *vma, pte_t *ptep,
			   unsigned long address)
{
	ptep_clear_flush(vma, address, ptep);
	mmu_notifier_invalidate_range(vma->vm_mm, address, address + PAGE_SIZE);
}

void frob_clear(struct vm_area_struct *vma, unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = address & PAGE_MASK;
	unsigned long end = start + PAGE_SIZE;
	spinlock_t *ptl;
	pte_t *ptep;

	mmu_notifier_invalidate_range_start(mm, start, end);
	ptep = pte_offset_map_lock(mm, pmd_of(vma, start), start, &ptl);
	frob_clear_one(vma, ptep, start);
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

/* A TLB-flush helper: the bracket sits far up in callers we cannot see. */
void frob_tlb_flush(struct frob_gather *tlb)
{
	frob_arch_flush(tlb);
	mmu_notifier_invalidate_range(tlb->mm, tlb->start, tlb->end);
}
