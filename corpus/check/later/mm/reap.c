// SPDX-License-Identifier: GPL-2.0
/*
 * Correct uses of the later API: a start that may fail, tested before
 * anything else (no end after a failure), an end that skips
 * ->invalidate_range, and a failed start's result passed back.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

bool frob_reap(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	bool ret = true;

	for (vma = mm->mmap; vma; vma = vma->vm_next) {
		struct mmu_notifier_range range;

		frob_range_init(&range, mm, vma->vm_start, vma->vm_end);
		if (mmu_notifier_invalidate_range_start_nonblock(&range)) {
			ret = false;
			continue;
		}
		frob_unmap(vma, range.start, range.end);
		mmu_notifier_invalidate_range_end(&range);
	}
	return ret;
}

int frob_cow(struct vm_area_struct *vma, unsigned long address)
{
	struct mmu_notifier_range range;
	int ret;

	frob_range_init(&range, vma->vm_mm, address, address + PAGE_SIZE);
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	if (ret)
		return ret;
	frob_replace_page(vma, address);
	mmu_notifier_invalidate_range_only_end(&range);
	return 0;
}

int frob_move(struct vm_area_struct *vma, unsigned long from,
	      unsigned long to)
{
	struct mmu_notifier_range range;
	int err;

	frob_range_init(&range, vma->vm_mm, from, to);
	mmu_notifier_invalidate_range_start(&range);
	err = frob_move_ptes(vma, from, to);
	if (err)
		goto out;
	frob_flush(vma, from, to);
out:
	mmu_notifier_invalidate_range_only_end(&range);
	return err;
}
