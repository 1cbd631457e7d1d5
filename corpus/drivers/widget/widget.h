/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _WIDGET_H
#define _WIDGET_H

#include <linux/mmu_notifier.h>

struct widget {
	struct mmu_notifier mn;
	void __iomem *regs;
};

void widget_flush_range(struct widget *w, unsigned long start,
			unsigned long end);
void widget_zap(struct mmu_notifier *mn, struct mm_struct *mm,
		unsigned long address);

#endif
