// SPDX-License-Identifier: GPL-2.0
/*
 * Brackets left open on some path out of the function, and an end that
 * no start opened.  A notifier that counts in start and uncounts in end
 * (KVM's mmu_notifier_count) is left unbalanced forever.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_remap(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	int err;

	mmu_notifier_invalidate_range_start(mm, start, end);
	err = frob_prepare(mm, start);
	if (err)
		goto out;
	frob_move(mm, start, end);
	mmu_notifier_invalidate_range_end(mm, start, end);
out:
	return err;
}

int frob_protect(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	mmu_notifier_invalidate_range_start(mm, start, end);
	if (frob_busy(mm))
		return -EBUSY;
	frob_change(mm, start, end);
	mmu_notifier_invalidate_range_end(mm, start, end);
	return 0;
}

void frob_walk(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long addr;

	for (addr = start; addr < end; addr = frob_next(addr, end)) {
		unsigned long next = frob_next(addr, end);

		mmu_notifier_invalidate_range_start(mm, addr, next);
		if (frob_stop(mm, addr))
			break;
		frob_change(mm, addr, next);
		mmu_notifier_invalidate_range_end(mm, addr, next);
	}
}

void frob_finish(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	frob_flush(mm);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

void frob_mismatch(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	mmu_notifier_invalidate_range_start(mm, start, end);
	frob_change(mm, start, end);
	mmu_notifier_invalidate_range_end(mm, start, start + PAGE_SIZE);
}
