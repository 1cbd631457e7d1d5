// SPDX-License-Identifier: GPL-2.0
/*
 * Correct uses of the structure form: error paths that reach the end, a
 * bracket opened only for a copy-on-write mapping, a range started through
 * a pointer to it and ended by its name, a helper that opens the caller's range,
 * huge ranges masked to their size, an invalidate_range() inside the
 * bracket, and accessed-bit tests outside it or of another mm.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mmu_notifier.h>

int frob_move_range(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	struct mmu_notifier_range range;
	int err;

	mmu_notifier_range_init(&range, vma->vm_mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	err = frob_move_ptes(vma, range.start, range.end);
	if (err)
		goto out;
	frob_flush(vma, range.start, range.end);
out:
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

int frob_copy(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct mmu_notifier_range range;
	bool is_cow = frob_is_cow(src);
	int ret;

	if (is_cow) {
		mmu_notifier_range_init(&range, src->vm_mm, src->vm_start,
					src->vm_end);
		mmu_notifier_invalidate_range_start(&range);
	}
	ret = frob_copy_ptes(dst, src);
	if (is_cow)
		mmu_notifier_invalidate_range_end(&range);
	return ret;
}

void frob_wipe_one(struct vm_area_struct *vma, unsigned long address)
{
	struct mmu_notifier_range range;
	struct mmu_notifier_range *r = &range;
	pte_t *pte;

	mmu_notifier_range_init(r, vma->vm_mm, address, address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(r);
	pte = frob_pte(vma, address);
	ptep_clear_flush(vma, address, pte);
	mmu_notifier_invalidate_range(vma->vm_mm, address, address + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(&range);
}

/* Opens the bracket of the caller's range: the caller ends it. */
static void frob_begin(struct mmu_notifier_range *range,
		       struct vm_area_struct *vma, unsigned long address)
{
	mmu_notifier_range_init(range, vma->vm_mm, address,
				address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(range);
}

int frob_clear_one(struct vm_area_struct *vma, unsigned long address)
{
	struct mmu_notifier_range range;
	pte_t *pte;

	frob_begin(&range, vma, address);
	pte = frob_pte(vma, address);
	if (pte)
		frob_clear(vma, address, pte);
	mmu_notifier_invalidate_range_end(&range);
	return !!pte;
}

void frob_split_pmd(struct vm_area_struct *vma, unsigned long address)
{
	unsigned long haddr = address & HPAGE_PMD_MASK;
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, vma->vm_mm, haddr,
				haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	frob_split(vma, haddr);
	mmu_notifier_invalidate_range_end(&range);
}

void frob_unmap_compound(struct vm_area_struct *vma, struct page *page,
			 unsigned long address)
{
	unsigned long size = PAGE_SIZE << compound_order(page);
	unsigned long start = address & ~(size - 1);
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, vma->vm_mm, start, start + size);
	mmu_notifier_invalidate_range_start(&range);
	frob_unmap_range(vma, start, start + size);
	mmu_notifier_invalidate_range_end(&range);
}

int frob_age_then_zap(struct vm_area_struct *vma, struct mm_struct *other,
		      unsigned long address, pte_t *pte)
{
	struct mmu_notifier_range range;
	int young;

	young = ptep_clear_flush_young_notify(vma, address, pte);
	mmu_notifier_range_init(&range, other, address, address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	young |= mmu_notifier_clear_flush_young(vma->vm_mm, address,
						address + PAGE_SIZE);
	frob_zap_other(other, address);
	mmu_notifier_invalidate_range_end(&range);
	return young;
}

/* The bracket opens lazily, at the first populated entry of the walk. */
void frob_protect_range(struct vm_area_struct *vma, unsigned long addr,
			unsigned long end)
{
	struct mmu_notifier_range range;

	range.start = 0;
	for (; addr < end; addr += PMD_SIZE) {
		if (frob_pmd_none(vma, addr))
			continue;
		if (!range.start) {
			mmu_notifier_range_init(&range, vma->vm_mm, addr, end);
			mmu_notifier_invalidate_range_start(&range);
		}
		frob_protect_pmd(vma, addr);
	}
	if (range.start)
		mmu_notifier_invalidate_range_end(&range);
}
