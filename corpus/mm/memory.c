// SPDX-License-Identifier: GPL-2.0
/* Page-table lookups that hand their caller the page-table lock. */
#include <linux/mm.h>

int __follow_pte(struct mm_struct *mm, unsigned long address,
		 pte_t **ptepp, spinlock_t **ptlp)
{
	pmd_t *pmd;
	pte_t *ptep;

	pmd = walk_to_pmd(mm, address);
	if (!pmd || pmd_none(*pmd))
		return -EINVAL;

	ptep = pte_offset_map_lock(mm, pmd, address, ptlp);
	if (!pte_present(*ptep)) {
		pte_unmap_unlock(ptep, *ptlp);
		return -EINVAL;
	}
	*ptepp = ptep;
	return 0;
}
