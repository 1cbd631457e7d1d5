/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A header's inline helper that opens the bracket for every includer.
 */
#ifndef _FROB_RANGE_H
#define _FROB_RANGE_H

#include <linux/mmu_notifier.h>

static inline void frob_range_begin(struct mm_struct *mm, unsigned long start,
				    unsigned long end)
{
	frob_trace_begin(start, end);
	mmu_notifier_invalidate_range_start(mm, start, end);
}

#endif
