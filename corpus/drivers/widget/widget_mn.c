// SPDX-License-Identifier: GPL-2.0
/*
 * Widget device: mirrors CPU page tables into its own TLB.
 */
#include <linux/mmu_notifier.h>
#include "widget.h"

static void widget_range_start(struct mmu_notifier *mn, struct mm_struct *mm,
			       unsigned long start, unsigned long end)
{
	struct widget *w = container_of(mn, struct widget, mn);

	widget_flush_range(w, start, end);
}

static const struct mmu_notifier_ops widget_mn_ops = {
	.invalidate_page	= widget_zap,
	.invalidate_range_start	= widget_range_start,
};

int widget_mirror(struct widget *w, struct mm_struct *mm)
{
	w->mn.ops = &widget_mn_ops;
	return mmu_notifier_register(&w->mn, mm);
}
