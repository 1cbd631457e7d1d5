// SPDX-License-Identifier: GPL-2.0
/*
 * Atomic callbacks that do not sleep (a spinlock, static helpers that call
 * each other), next to range_start/range_end callbacks, which may sleep.
 */
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

struct quiet_mn {
	struct mmu_notifier mn;
	spinlock_t lock;
	struct mutex big_lock;
	unsigned long seq;
};

static void quiet_flush_one(struct quiet_mn *q, unsigned long addr,
			    unsigned long end);

static void quiet_flush(struct quiet_mn *q, unsigned long start,
			unsigned long end)
{
	spin_lock(&q->lock);
	q->seq++;
	quiet_flush_one(q, start, end);
	spin_unlock(&q->lock);
}

static void quiet_flush_one(struct quiet_mn *q, unsigned long addr,
			    unsigned long end)
{
	if (addr + PAGE_SIZE < end)
		quiet_flush(q, addr + PAGE_SIZE, end);
}

static void quiet_invalidate_range(struct mmu_notifier *mn,
				   struct mm_struct *mm,
				   unsigned long start, unsigned long end)
{
	struct quiet_mn *q = container_of(mn, struct quiet_mn, mn);

	quiet_flush(q, start, end);
}

static void quiet_range_start(struct mmu_notifier *mn, struct mm_struct *mm,
			      unsigned long start, unsigned long end)
{
	struct quiet_mn *q = container_of(mn, struct quiet_mn, mn);

	mutex_lock(&q->big_lock);
}

static void quiet_range_end(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long start, unsigned long end)
{
	struct quiet_mn *q = container_of(mn, struct quiet_mn, mn);

	mutex_unlock(&q->big_lock);
}

static const struct mmu_notifier_ops quiet_mn_ops = {
	.invalidate_range_start	= quiet_range_start,
	.invalidate_range_end	= quiet_range_end,
	.invalidate_range	= quiet_invalidate_range,
};
