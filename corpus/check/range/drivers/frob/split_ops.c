// SPDX-License-Identifier: GPL-2.0
/*
 * Half converted across files: the ops are here, the range_end callback
 * is defined in split_cb.c and still takes (mm, start, end).
 */
#include <linux/mmu_notifier.h>

int split_mn_start(struct mmu_notifier *mn,
		   const struct mmu_notifier_range *range);
void split_mn_end(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long start, unsigned long end);

static const struct mmu_notifier_ops split_mn_ops = {
	.invalidate_range_start = split_mn_start,
	.invalidate_range_end = split_mn_end,
};
