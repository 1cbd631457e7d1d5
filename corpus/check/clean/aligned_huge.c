// SPDX-License-Identifier: GPL-2.0
/*
 * Huge-page ranges that start on a huge-page boundary: masked, asserted,
 * or passed aligned by every caller.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/mmu_notifier.h>

void frob_split_pmd(struct vm_area_struct *vma, unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = address & PMD_MASK;

	mmu_notifier_invalidate_range_start(mm, haddr, haddr + PMD_SIZE);
	frob_split(vma, haddr);
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + PMD_SIZE);
}

void frob_collapse(struct mm_struct *mm, unsigned long address)
{
	unsigned long start, end;

	VM_BUG_ON(address & ~HPAGE_PMD_MASK);
	start = address;
	end = address + HPAGE_PMD_SIZE;
	mmu_notifier_invalidate_range_start(mm, start, end);
	frob_collapse_one(mm, start);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

void frob_unmap_compound(struct mm_struct *mm, struct page *page,
			 unsigned long address)
{
	unsigned long size = PAGE_SIZE << compound_order(page);
	unsigned long start = address & ~(size - 1);
	unsigned long end = start + (PAGE_SIZE << compound_order(page));

	mmu_notifier_invalidate_range_start(mm, start, end);
	frob_unmap_all(mm, page);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

static void frob_cow_huge(struct mm_struct *mm, struct hstate *h,
			  unsigned long haddr)
{
	mmu_notifier_invalidate_range_start(mm, haddr, haddr + huge_page_size(h));
	frob_copy_huge(mm, haddr);
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + huge_page_size(h));
}

int frob_fault_huge(struct mm_struct *mm, struct hstate *h,
		    unsigned long address)
{
	frob_cow_huge(mm, h, address & huge_page_mask(h));
	return 0;
}
