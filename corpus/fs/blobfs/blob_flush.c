// SPDX-License-Identifier: GPL-2.0
/*
 * Uses of blob_notify(), a macro that hides an API call: each use is
 * where the call is really made, and is reported as a site of its own.
 */
#include <linux/mm.h>
#include "blob_compat.h"

/* Used through another macro: its uses are followed too. */
#define blob_notify_base(b, mm)	blob_notify(mm, (b)->base)

static void blob_flush_one(struct blob *b, struct mm_struct *mm,
			   unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *ptep;

	if (follow_pte(mm, addr, &ptep, &ptl))
		return;
	pte_clear(mm, addr, ptep);
	blob_notify(mm, addr);
	pte_unmap_unlock(ptep, ptl);
}

static void blob_flush(struct blob *b, struct mm_struct *mm)
{
	blob_notify_base(b, mm);
}
