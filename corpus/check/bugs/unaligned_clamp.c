// SPDX-License-Identifier: GPL-2.0
/*
 * Bug 3 of the reverted 2017 rmap patch, in the shape of its second
 * version: the compound page's range starts at the walk's address (not on
 * a huge-page boundary) and is clamped to the vma, both for the bracket
 * and for the atomic call.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_unmap_compound(struct vm_area_struct *vma, struct page *page,
			unsigned long address)
{
	unsigned long start = address, end;

	end = min(vma->vm_end, start + (PAGE_SIZE << compound_order(page)));
	mmu_notifier_invalidate_range_start(vma->vm_mm, start, end);
	frob_unmap(vma, page);
	mmu_notifier_invalidate_range(vma->vm_mm, address,
			min_t(unsigned long, vma->vm_end,
			      address + (PAGE_SIZE << compound_order(page))));
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
	return 0;
}
