/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_MM_H
#define _LINUX_MM_H

#include <linux/types.h>

struct mm_struct;
struct vm_area_struct;

/*
 * Look up the pte that maps @address in @mm.  On success it returns 0
 * with the pte mapped and *@ptlp locked; the caller unlocks it.
 * kseries learns that from the definitions, not from a list.
 */
int __follow_pte(struct mm_struct *mm, unsigned long address,
		 pte_t **ptepp, spinlock_t **ptlp);

static inline int follow_pte(struct mm_struct *mm, unsigned long address,
			     pte_t **ptepp, spinlock_t **ptlp)
{
	int err;

	(void)__cond_lock(*ptlp, !(err = __follow_pte(mm, address, ptepp,
						      ptlp)));
	return err;
}

#endif /* _LINUX_MM_H */
