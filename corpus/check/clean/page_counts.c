// SPDX-License-Identifier: GPL-2.0
/*
 * Page counts used as page counts, and byte lengths built correctly.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/mmu_notifier.h>

void frob_unmap_huge(struct vm_area_struct *vma, struct page *page,
		     unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long end = haddr + (PAGE_SIZE << compound_order(page));

	VM_BUG_ON(haddr & ~HPAGE_PMD_MASK);
	mmu_notifier_invalidate_range_start(mm, haddr, end);
	if (PageHuge(page))
		hugetlb_count_sub(1 << compound_order(page), mm);
	else
		add_mm_counter(mm, MM_ANONPAGES, -hpage_nr_pages(page));
	mmu_notifier_invalidate_range_end(mm, haddr, end);
}

void frob_scale(struct vm_area_struct *vma, unsigned long haddr, int order)
{
	unsigned long end = haddr + (HPAGE_PMD_NR << PAGE_SHIFT);
	unsigned long last = haddr + (1UL << order) * PAGE_SIZE;
	int i;

	for (i = 0; i < HPAGE_PMD_NR; i++)
		frob_touch(vma, haddr + i * PAGE_SIZE);
	frob_range(vma, end, last);
}

void frob_index(struct address_space *mapping, pgoff_t start)
{
	pgoff_t index, end = start + HPAGE_PMD_NR;

	for (index = start; index < end; index++)
		frob_page(mapping, index);
}
