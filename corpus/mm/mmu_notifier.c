// SPDX-License-Identifier: GPL-2.0
/*
 * A toy notifier core: walks the registered notifiers of an mm.
 */
#include <linux/mmu_notifier.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(notifier_srcu);

void __mmu_notifier_invalidate_page(struct mm_struct *mm,
				    unsigned long address)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&notifier_srcu);
	for_each_notifier(mn, mm) {
		if (mn->ops->invalidate_page)
			mn->ops->invalidate_page(mn, mm, address);
	}
	srcu_read_unlock(&notifier_srcu, idx);
}

void __mmu_notifier_invalidate_range(struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	struct mmu_notifier *mn;
	int idx;

	idx = srcu_read_lock(&notifier_srcu);
	for_each_notifier(mn, mm) {
		if (mn->ops->invalidate_range)
			mn->ops->invalidate_range(mn, mm, start, end);
	}
	srcu_read_unlock(&notifier_srcu, idx);
}
