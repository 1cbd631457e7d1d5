// SPDX-License-Identifier: GPL-2.0
/*
 * Bug 2 of the reverted 2017 rmap patch: a page count used as a byte
 * length.  1UL << compound_order(page) is 512 for a THP, not 2 MiB.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mmu_notifier.h>

void frob_clear_compound(struct vm_area_struct *vma, struct page *page,
			 unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long end = address + (1UL << compound_order(page));

	mmu_notifier_invalidate_range_start(mm, address, end);
	frob_zap_range(vma, address, end);
	mmu_notifier_invalidate_range_end(mm, address, end);
}

void frob_clear_thp(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;

	mmu_notifier_invalidate_range_start(mm, haddr, haddr + HPAGE_PMD_NR);
	frob_zap_range(vma, haddr, haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + HPAGE_PMD_NR);
}

void frob_walk_thps(struct vm_area_struct *vma, unsigned long addr,
		    unsigned long end)
{
	while (addr < end) {
		frob_zap_thp(vma, addr);
		addr += HPAGE_PMD_NR;
	}
}
