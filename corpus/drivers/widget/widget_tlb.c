// SPDX-License-Identifier: GPL-2.0
/*
 * Widget TLB maintenance, shared by the notifier and the reset path.
 */
#include "widget.h"

void widget_flush_range(struct widget *w, unsigned long start,
			unsigned long end)
{
	writeq(start, w->regs + WIDGET_TLB_INV_START);
	writeq(end - start, w->regs + WIDGET_TLB_INV_LEN);
}

/* The single-page variant: same flush, one page. */
void widget_zap(struct mmu_notifier *mn, struct mm_struct *mm,
		unsigned long address)
{
	struct widget *w = container_of(mn, struct widget, mn);

	widget_flush_range(w, address, address + PAGE_SIZE);
}

void widget_reset(struct widget *w, unsigned long scratch)
{
	widget_zap(&w->mn, NULL, scratch);
}
