// SPDX-License-Identifier: GPL-2.0
/*
 * Brackets of the structure form that do not pair: an error path that
 * jumps past the end, an early return, an end of another range, and a
 * helper's caller that forgets the end the helper left open.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_swap_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	struct mmu_notifier_range range;
	int err;

	mmu_notifier_range_init(&range, vma->vm_mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	err = frob_swap_ptes(vma, start, end);
	if (err)
		goto out;
	mmu_notifier_invalidate_range_end(&range);
out:
	return err;
}

int frob_shrink(struct vm_area_struct *vma, unsigned long start,
		unsigned long end)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, vma->vm_mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	if (frob_busy(vma))
		return -EBUSY;
	frob_zap(vma, start, end);
	mmu_notifier_invalidate_range_end(&range);
	return 0;
}

void frob_two(struct vm_area_struct *vma, unsigned long a, unsigned long b)
{
	struct mmu_notifier_range first, second;

	mmu_notifier_range_init(&first, vma->vm_mm, a, a + PAGE_SIZE);
	mmu_notifier_range_init(&second, vma->vm_mm, b, b + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&first);
	frob_zap(vma, a, a + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(&second);
}

/* Opens the bracket of the caller's range: the caller ends it. */
static void frob_begin(struct mmu_notifier_range *range,
		       struct vm_area_struct *vma, unsigned long address)
{
	mmu_notifier_range_init(range, vma->vm_mm, address,
				address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(range);
}

int frob_clear_one(struct vm_area_struct *vma, unsigned long address)
{
	struct mmu_notifier_range range;

	frob_begin(&range, vma, address);
	if (!frob_present(vma, address))
		return 0;
	frob_clear(vma, address);
	mmu_notifier_invalidate_range_end(&range);
	return 1;
}
