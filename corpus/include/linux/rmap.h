/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_RMAP_H
#define _LINUX_RMAP_H

#include <linux/mm.h>

/*
 * Find the pte that maps @page at @address in @mm: it returns the pte,
 * mapped and with *@ptlp locked, or NULL with nothing locked.  This is
 * the lookup reverse-map walkers used before page_vma_mapped_walk().
 */
pte_t *__page_lock_pte(struct page *page, struct mm_struct *mm,
		       unsigned long address, spinlock_t **ptlp, int sync);

static inline pte_t *page_lock_pte(struct page *page, struct mm_struct *mm,
				   unsigned long address, spinlock_t **ptlp,
				   int sync)
{
	pte_t *pte;

	__cond_lock(*ptlp, pte = __page_lock_pte(page, mm, address, ptlp,
						 sync));
	return pte;
}

#endif /* _LINUX_RMAP_H */
