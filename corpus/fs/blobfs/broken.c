// SPDX-License-Identifier: GPL-2.0
/* Code that does not parse around an API call must not be edited blind. */
#include <linux/mmu_notifier.h>

static void blob_broken(struct mm_struct *mm, unsigned long addr)
{
	int x = ) ;
	mmu_notifier_invalidate_page(mm, addr);
}
