// SPDX-License-Identifier: GPL-2.0
/*
 * A failed start followed by an end anyway (a notifier that counts in
 * start and uncounts in end goes negative), and an end-only bracket left
 * open on an error path.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

void frob_reap_blindly(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct mmu_notifier_range range;

	frob_range_init(&range, mm, vma->vm_start, vma->vm_end);
	mmu_notifier_invalidate_range_start_nonblock(&range);
	frob_unmap(vma, range.start, range.end);
	mmu_notifier_invalidate_range_end(&range);
}

int frob_move_early(struct vm_area_struct *vma, unsigned long from,
		    unsigned long to)
{
	struct mmu_notifier_range range;

	frob_range_init(&range, vma->vm_mm, from, to);
	mmu_notifier_invalidate_range_start(&range);
	if (frob_move_ptes(vma, from, to))
		return -ENOMEM;
	mmu_notifier_invalidate_range_only_end(&range);
	return 0;
}
