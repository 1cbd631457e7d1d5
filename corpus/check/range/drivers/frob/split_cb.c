// SPDX-License-Identifier: GPL-2.0
/* The callbacks of split_ops.c: one converted, one not. */
#include <linux/mmu_notifier.h>

int split_mn_start(struct mmu_notifier *mn,
		   const struct mmu_notifier_range *range)
{
	split_dev_invalidate(mn, range->start, range->end);
	return 0;
}

void split_mn_end(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long start, unsigned long end)
{
	split_dev_resume(mn);
}
