// SPDX-License-Identifier: GPL-2.0
/*
 * Callbacks that the core calls under the page-table lock, which sleep:
 * one through two static helpers, one with a GFP_KERNEL allocation.
 */
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/slab.h>

struct frob_mn {
	struct mmu_notifier mn;
	struct mutex lock;
	struct list_head ranges;
};

static void frob_flush_locked(struct frob_mn *f, unsigned long start,
			      unsigned long end);

static void frob_flush(struct frob_mn *f, unsigned long start,
		       unsigned long end)
{
	mutex_lock(&f->lock);
	frob_flush_locked(f, start, end);
	mutex_unlock(&f->lock);
}

static void frob_flush_locked(struct frob_mn *f, unsigned long start,
			      unsigned long end)
{
	if (end - start > PMD_SIZE)
		frob_flush(f, start, start + PMD_SIZE);
}

static void frob_invalidate_range(struct mmu_notifier *mn,
				  struct mm_struct *mm,
				  unsigned long start, unsigned long end)
{
	struct frob_mn *f = container_of(mn, struct frob_mn, mn);

	frob_flush(f, start, end);
}

static void frob_change_pte(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long address, pte_t pte)
{
	struct frob_range *r = kmalloc(sizeof(*r), GFP_KERNEL);

	if (r)
		frob_record(mn, r, address);
}

static const struct mmu_notifier_ops frob_mn_ops = {
	.invalidate_range	= frob_invalidate_range,
	.change_pte		= frob_change_pte,
};
