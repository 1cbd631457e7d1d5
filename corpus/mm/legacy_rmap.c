// SPDX-License-Identifier: GPL-2.0
/*
 * Reverse-map walkers in the shape of kernels before 4.11: a lookup
 * returns the pte with its lock held through an out-parameter, the
 * walker changes it, drops the lock, and only then tells the notifiers.
 */
#include <linux/rmap.h>
#include <linux/mmu_notifier.h>

pte_t *__page_lock_pte(struct page *page, struct mm_struct *mm,
		       unsigned long address, spinlock_t **ptlp, int sync)
{
	spinlock_t *ptl;
	pmd_t *pmd;
	pte_t *pte;

	if (unlikely(PageHuge(page))) {
		pte = huge_pte_find(mm, address);
		if (!pte)
			return NULL;
		ptl = huge_pte_lockptr(page_hstate(page), mm, pte);
		goto lock;
	}

	pmd = walk_to_pmd(mm, address);
	if (!pmd)
		return NULL;
	pte = pte_offset_map(pmd, address);
	if (!sync && !pte_present(*pte)) {
		pte_unmap(pte);
		return NULL;
	}
	ptl = pte_lockptr(mm, pmd);
lock:
	spin_lock(ptl);
	if (pte_present(*pte) && pte_pfn(*pte) == page_to_pfn(page)) {
		*ptlp = ptl;
		return pte;
	}
	pte_unmap_unlock(pte, ptl);
	return NULL;
}

/* Write-protect @page in @vma: one change, then the notifier after the
 * unlock when something changed. */
static int legacy_wrprotect_one(struct page *page, struct vm_area_struct *vma,
				unsigned long address, void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	int *count = arg;
	spinlock_t *ptl;
	pte_t *pte;
	int changed = 0;

	pte = page_lock_pte(page, mm, address, &ptl, 1);
	if (!pte)
		goto out;

	if (pte_write(*pte)) {
		pte_t entry;

		entry = ptep_clear_flush(vma, address, pte);
		entry = pte_wrprotect(entry);
		set_pte_at(mm, address, pte, entry);
		changed = 1;
	}
	pte_unmap_unlock(pte, ptl);

	if (changed) {
		mmu_notifier_invalidate_page(mm, address);
		(*count)++;
	}
out:
	return 0;
}

/*
 * Unmap @page from @vma.  The entry changes on one of several paths, the
 * code before the lookup jumps past it, and the notifier call after the
 * unlock is guarded by what happened.
 */
static int legacy_unmap_one(struct page *page, struct vm_area_struct *vma,
			    unsigned long address, void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long flags = (unsigned long)arg;
	int ret = LEGACY_AGAIN;
	spinlock_t *ptl;
	pte_t *pte;
	pte_t old;

	if ((flags & LEGACY_MLOCK_ONLY) && !(vma->vm_flags & VM_LOCKED))
		goto out;

	pte = page_lock_pte(page, mm, address, &ptl, 0);
	if (!pte)
		goto out;

	if (vma->vm_flags & VM_LOCKED) {
		ret = LEGACY_MLOCKED;
		goto out_unmap;
	}

	if (flags & LEGACY_DEFER_FLUSH) {
		old = ptep_get_and_clear(mm, address, pte);
		legacy_defer_flush(mm, pte_dirty(old));
	} else {
		old = ptep_clear_flush(vma, address, pte);
	}
	if (pte_dirty(old))
		set_page_dirty(page);

	if (PageAnon(page)) {
		swp_entry_t entry = { .val = page_private(page) };

		if (swap_duplicate(entry) < 0) {
			set_pte_at(mm, address, pte, old);
			ret = LEGACY_FAIL;
			goto out_unmap;
		}
		set_pte_at(mm, address, pte, swp_entry_to_pte(entry));
	}
	page_remove_rmap(page);
	put_page(page);

out_unmap:
	pte_unmap_unlock(pte, ptl);
	if (ret != LEGACY_FAIL && ret != LEGACY_MLOCKED)
		mmu_notifier_invalidate_page(mm, address);
out:
	return ret;
}

static int legacy_walk(struct page *page, int (*one)(struct page *,
			struct vm_area_struct *, unsigned long, void *),
			void *arg);

int legacy_wrprotect(struct page *page)
{
	int count = 0;

	legacy_walk(page, legacy_wrprotect_one, &count);
	return count;
}

int legacy_unmap(struct page *page, unsigned long flags)
{
	return legacy_walk(page, legacy_unmap_one, (void *)flags);
}
