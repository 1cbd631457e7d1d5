// SPDX-License-Identifier: GPL-2.0
/*
 * A driver's notifier whose range callbacks take the range structure, as
 * the header declares them.
 */
#include <linux/mmu_notifier.h>

static int frob_mn_start(struct mmu_notifier *mn,
			 const struct mmu_notifier_range *range)
{
	frob_dev_invalidate(mn, range->start, range->end);
	return 0;
}

static void frob_mn_end(struct mmu_notifier *mn,
			const struct mmu_notifier_range *range)
{
	frob_dev_resume(mn);
}

static const struct mmu_notifier_ops frob_mn_ops = {
	.invalidate_range_start = frob_mn_start,
	.invalidate_range_end = frob_mn_end,
};
