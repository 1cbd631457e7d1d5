// SPDX-License-Identifier: GPL-2.0
/*
 * Half converted: a driver whose range_start callback still takes
 * (mm, start, end) while the header declares the range structure, and a
 * caller that still passes the bounds to the start and the end.
 */
#include <linux/mmu_notifier.h>

static int half_mn_start(struct mmu_notifier *mn, struct mm_struct *mm,
			 unsigned long start, unsigned long end)
{
	half_dev_invalidate(mn, start, end);
	return 0;
}

static void half_mn_end(struct mmu_notifier *mn,
			const struct mmu_notifier_range *range)
{
	half_dev_resume(mn);
}

static const struct mmu_notifier_ops half_mn_ops = {
	.invalidate_range_start = half_mn_start,
	.invalidate_range_end = half_mn_end,
};

void half_dev_flush(struct mm_struct *mm, unsigned long start,
		    unsigned long end)
{
	mmu_notifier_invalidate_range_start(mm, start, end);
	half_dev_zap(mm, start, end);
	mmu_notifier_invalidate_range_end(mm, start, end);
}
