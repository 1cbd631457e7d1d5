// SPDX-License-Identifier: GPL-2.0
/*
 * Ends the bracket the header's inline helper opened.
 */
#include <linux/mm.h>
#include "frob_range.h"

void frob_zap_range(struct mm_struct *mm, unsigned long start,
		    unsigned long end)
{
	frob_range_begin(mm, start, end);
	frob_clear(mm, start, end);
	mmu_notifier_invalidate_range_end(mm, start, end);
}
