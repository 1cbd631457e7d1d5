// SPDX-License-Identifier: GPL-2.0
/*
 * Toy reclaim paths that write-protect and unmap one page in every vma
 * that maps it.
 */
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/mmu_notifier.h>

/* Write-protect every pte of @page in @vma: the notifier call runs with
 * the page-table lock held by the walk. */
static bool shrink_wrprotect_one(struct page *page, struct vm_area_struct *vma,
				 unsigned long address, void *arg)
{
	struct page_vma_mapped_walk pvmw = {
		.page = page,
		.vma = vma,
		.address = address,
	};
	int *done = arg;

	while (page_vma_mapped_walk(&pvmw)) {
		pte_t entry;

		address = pvmw.address;
		if (!pvmw.pte) {
			page_vma_mapped_walk_done(&pvmw);
			return false;
		}
		if (!pte_write(*pvmw.pte))
			continue;

		entry = ptep_clear_flush(vma, address, pvmw.pte);
		entry = pte_wrprotect(entry);
		set_pte_at(vma->vm_mm, address, pvmw.pte, entry);
		mmu_notifier_invalidate_page(vma->vm_mm, address);
		(*done)++;
	}
	return true;
}

/*
 * How many pages to scan: the two configurations open the same block
 * with different tests, which no C parser can read as written.  It must
 * not hide the callers below.
 */
static unsigned long shrink_budget(struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);

#ifdef CONFIG_SHRINK_AGGRESSIVE
	if (pages > SHRINK_BATCH) {
#else
	if (pages > 4 * SHRINK_BATCH) {
#endif
		pages = SHRINK_BATCH;
	}
	return pages;
}

/* Clear one pte under its lock, notify after the unlock. */
static int shrink_clear_pte(struct vm_area_struct *vma, unsigned long address)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pte_t *ptep;
	bool cleared = false;

	if (follow_pte(mm, address, &ptep, &ptl))
		return -EFAULT;

	if (pte_present(*ptep)) {
		ptep_clear_flush(vma, address, ptep);
		cleared = true;
	}
	pte_unmap_unlock(ptep, ptl);

	if (cleared)
		mmu_notifier_invalidate_page(mm, address);
	return cleared ? 0 : -ENOENT;
}

/*
 * Macro-heavy: iterator macros without semicolons, container_of() with
 * the struct keyword, annotations, and an #ifdef inside the body.
 */
static void __maybe_unused shrink_list(struct list_head *head)
	__must_hold(&shrink_lock)
{
	struct shrink_item *item, *tmp;
	spinlock_t *ptl;

	list_for_each_entry_safe(item, tmp, head, node) {
		struct vm_area_struct *vma = container_of(item->vmap,
					struct vm_area_struct, vm_private);
		pte_t *pte;

		pte = pte_offset_map_lock(vma->vm_mm, item->pmd, item->address,
					  &ptl);

		if (pte_none(*pte)) {
			pte_unmap_unlock(pte, ptl);
			continue;
		}
#ifdef CONFIG_SHRINK_DEBUG
		pr_debug("shrink %lx\n", item->address);
#endif
		pte_clear(vma->vm_mm, item->address, pte);
		mmu_notifier_invalidate_page(vma->vm_mm, item->address);
		pte_unmap_unlock(pte, ptl);
	}
}
