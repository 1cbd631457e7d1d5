// SPDX-License-Identifier: GPL-2.0
/*
 * Brackets closed on every path: early exits before the start, error
 * gotos to a label before the end, a bracket opened under a condition and
 * closed under the same one, one opened lazily inside a walk, and a
 * switch.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

int frob_remap(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	int err;

	if (start >= end)
		return -EINVAL;
	mmu_notifier_invalidate_range_start(mm, start, end);
	err = frob_prepare(mm, start);
	if (err)
		goto out_end;
	frob_move(mm, start, end);
out_end:
	mmu_notifier_invalidate_range_end(mm, start, end);
	return err;
}

int frob_copy(struct mm_struct *dst, struct mm_struct *src,
	      unsigned long start, unsigned long end, bool is_cow)
{
	int ret = 0;

	if (is_cow)
		mmu_notifier_invalidate_range_start(src, start, end);
	do {
		if (frob_copy_one(dst, src, start)) {
			ret = -ENOMEM;
			break;
		}
		start += PAGE_SIZE;
	} while (start != end);
	if (is_cow)
		mmu_notifier_invalidate_range_end(src, start, end);
	return ret;
}

void frob_protect(struct mm_struct *mm, unsigned long addr, unsigned long end)
{
	unsigned long ni_start = 0;
	unsigned long next;

	do {
		next = frob_next(addr, end);
		if (frob_none(mm, addr))
			continue;
		if (!ni_start) {
			ni_start = addr;
			mmu_notifier_invalidate_range_start(mm, ni_start, end);
		}
		frob_change(mm, addr, next);
	} while (addr = next, addr != end);

	if (ni_start)
		mmu_notifier_invalidate_range_end(mm, ni_start, end);
}

int frob_mode(struct mm_struct *mm, unsigned long start, unsigned long end,
	      int mode)
{
	mmu_notifier_invalidate_range_start(mm, start, end);
	switch (mode) {
	case 0:
		frob_clear(mm, start, end);
		break;
	case 1:
		frob_wrprotect(mm, start, end);
		/* fall through */
	default:
		frob_flush(mm);
		break;
	}
	mmu_notifier_invalidate_range_end(mm, start, end);
	return 0;
}

void frob_each(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long addr;

	for (addr = start; addr < end; addr = frob_next(addr, end)) {
		unsigned long next = frob_next(addr, end);

		if (frob_skip(mm, addr))
			continue;
		mmu_notifier_invalidate_range_start(mm, addr, next);
		frob_change(mm, addr, next);
		mmu_notifier_invalidate_range_end(mm, addr, next);
	}
}
