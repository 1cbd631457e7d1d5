// SPDX-License-Identifier: GPL-2.0
/*
 * Bug 3 of the reverted 2017 rmap patch: a huge-page range that starts
 * wherever the walk happened to be, not on a huge-page boundary.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mmu_notifier.h>

void frob_split_thp(struct vm_area_struct *vma, unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = address;
	unsigned long end = start + HPAGE_PMD_SIZE;

	mmu_notifier_invalidate_range_start(mm, start, end);
	frob_split_pmd(vma, address);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

void frob_drop_compound(struct vm_area_struct *vma, struct page *page,
			struct page_walk_state *pws)
{
	struct mm_struct *mm = vma->vm_mm;

	mmu_notifier_invalidate_range_start(mm, pws->address,
			pws->address + (PAGE_SIZE << compound_order(page)));
	frob_drop(vma, page);
	mmu_notifier_invalidate_range_end(mm, pws->address,
			pws->address + (PAGE_SIZE << compound_order(page)));
}

void frob_next_thp(struct vm_area_struct *vma, unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = address & HPAGE_PMD_MASK;

	if (frob_past(vma, haddr))
		haddr += PAGE_SIZE;
	mmu_notifier_invalidate_range_start(mm, haddr, haddr + HPAGE_PMD_SIZE);
	frob_split_pmd(vma, haddr);
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + HPAGE_PMD_SIZE);
}
