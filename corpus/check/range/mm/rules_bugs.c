// SPDX-License-Identifier: GPL-2.0
/*
 * The other historical bugs, in the structure form: a lone
 * invalidate_range() for a page-table change (E3), a page count as the
 * range's end (E4), a huge range from an unaligned address (E5), and an
 * accessed-bit test inside the bracket of the same mm (W2).
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mmu_notifier.h>

static bool frob_unmap_one(struct page *page, struct vm_area_struct *vma,
			   unsigned long address, void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *pte = frob_pte(vma, address);

	ptep_clear_flush(vma, address, pte);
	mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE);
	return true;
}

void frob_unmap_page(struct page *page)
{
	struct rmap_walk_control rwc = {
		.rmap_one = frob_unmap_one,
	};

	rmap_walk(page, &rwc);
}

void frob_split_pmd(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mmu_notifier_range range;

	VM_BUG_ON(haddr & ~HPAGE_PMD_MASK);
	mmu_notifier_range_init(&range, vma->vm_mm, haddr,
				haddr + HPAGE_PMD_NR);
	mmu_notifier_invalidate_range_start(&range);
	frob_split(vma, haddr);
	mmu_notifier_invalidate_range_end(&range);
}

void frob_collapse(struct vm_area_struct *vma, unsigned long address)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, vma->vm_mm, address,
				address + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	frob_collapse_pmd(vma, address);
	mmu_notifier_invalidate_range_end(&range);
}

int frob_age(struct vm_area_struct *vma, unsigned long address, pte_t *pte)
{
	struct mmu_notifier_range range;
	int young;

	mmu_notifier_range_init(&range, vma->vm_mm, address,
				address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	young = ptep_clear_flush_young_notify(vma, address, pte);
	mmu_notifier_invalidate_range_end(&range);
	return young;
}
