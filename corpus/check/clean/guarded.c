// SPDX-License-Identifier: GPL-2.0
/*
 * Brackets guarded by a flag or a condition, tested again before the end:
 * a flag set where the bracket opens, a condition re-tested inside
 * compound conditions of a walk, and a young-bit test before the bracket.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

void frob_wrprotect_range(struct mm_struct *mm, unsigned long start,
			  unsigned long end)
{
	bool notified = false;
	unsigned long addr;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		if (!frob_present(mm, addr))
			continue;
		if (!notified) {
			notified = true;
			mmu_notifier_invalidate_range_start(mm, start, end);
		}
		if (frob_busy(mm, addr))
			break;
		frob_wrprotect(mm, addr);
	}
	if (notified)
		mmu_notifier_invalidate_range_end(mm, start, end);
}

int frob_copy_range(struct mm_struct *dst, struct mm_struct *src,
		    struct vm_area_struct *vma)
{
	unsigned long addr;
	int cow = frob_is_cow(vma);
	int ret = 0;

	if (cow)
		mmu_notifier_invalidate_range_start(src, vma->vm_start,
						    vma->vm_end);
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		if (!frob_present(src, addr))
			continue;
		if (frob_migrating(src, addr) && cow) {
			frob_make_readonly(src, addr);
		} else {
			if (cow)
				frob_wrprotect(src, addr);
			frob_copy_one(dst, src, addr);
		}
		if (frob_no_memory(dst)) {
			ret = -ENOMEM;
			break;
		}
	}
	if (cow)
		mmu_notifier_invalidate_range_end(src, vma->vm_start,
						  vma->vm_end);
	return ret;
}

int frob_age_then_unmap(struct vm_area_struct *vma, unsigned long address,
			pte_t *ptep)
{
	if (ptep_clear_flush_young_notify(vma, address, ptep))
		return -EBUSY;
	mmu_notifier_invalidate_range_start(vma->vm_mm, address,
					    address + PAGE_SIZE);
	frob_clear(vma->vm_mm, address, ptep);
	mmu_notifier_invalidate_range_end(vma->vm_mm, address,
					  address + PAGE_SIZE);
	return 0;
}

void frob_split_clamped(struct vm_area_struct *vma, unsigned long address,
			struct page *page)
{
	unsigned long size = PAGE_SIZE << compound_order(page);
	unsigned long start = max(vma->vm_start, address & ~(size - 1));
	unsigned long end = min(vma->vm_end, (address & ~(size - 1)) + size);

	mmu_notifier_invalidate_range_start(vma->vm_mm, start, end);
	frob_split(vma, page);
	mmu_notifier_invalidate_range_end(vma->vm_mm, start, end);
}
