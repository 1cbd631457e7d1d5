/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bracket API in its structure form (as Linux 4.20 has it): a start
 * and an end take a range that an init fills with the mm and the bounds,
 * and the ops' range callbacks read them from it.
 */
#ifndef _LINUX_MMU_NOTIFIER_H
#define _LINUX_MMU_NOTIFIER_H

struct mmu_notifier;

struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	bool blockable;
};

struct mmu_notifier_ops {
	void (*release)(struct mmu_notifier *mn, struct mm_struct *mm);
	int (*invalidate_range_start)(struct mmu_notifier *mn,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *mn,
				     const struct mmu_notifier_range *range);
	void (*invalidate_range)(struct mmu_notifier *mn, struct mm_struct *mm,
				 unsigned long start, unsigned long end);
};

#ifdef CONFIG_MMU_NOTIFIER

extern int __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r);
extern void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r,
						bool only_end);
extern void __mmu_notifier_invalidate_range(struct mm_struct *mm,
					    unsigned long start,
					    unsigned long end);

static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(range->mm)) {
		range->blockable = true;
		__mmu_notifier_invalidate_range_start(range);
	}
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(range->mm))
		__mmu_notifier_invalidate_range_end(range, false);
}

static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	if (mm_has_notifiers(mm))
		__mmu_notifier_invalidate_range(mm, start, end);
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	range->mm = mm;
	range->start = start;
	range->end = end;
}

#else

static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
}

static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
}

#define mmu_notifier_range_init(range, mm, start, end)	\
do {							\
	(range)->mm = (mm);				\
	(range)->start = (start);			\
	(range)->end = (end);				\
} while (0)

#endif

#endif
