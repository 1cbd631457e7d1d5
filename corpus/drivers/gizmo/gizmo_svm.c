// SPDX-License-Identifier: GPL-2.0
/*
 * Gizmo shared virtual memory: a device that also caches dirty state.
 */
#include <linux/mmu_notifier.h>

struct gizmo {
	struct mmu_notifier mn;
	unsigned long dirty_hint;
};

static void gizmo_invalidate_page(struct mmu_notifier *mn,
				  struct mm_struct *mm, unsigned long address);

static void gizmo_inv_range(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long start, unsigned long end)
{
	struct gizmo *g = container_of(mn, struct gizmo, mn);

	gizmo_flush_iotlb(g, start, end);
}

/* Also drops the device's dirty hint, which the range path never does. */
static void gizmo_invalidate_page(struct mmu_notifier *mn,
				  struct mm_struct *mm, unsigned long address)
{
	struct gizmo *g = container_of(mn, struct gizmo, mn);

	if (g->dirty_hint == address)
		g->dirty_hint = 0;
	gizmo_flush_iotlb(g, address, address + PAGE_SIZE);
}

static const struct mmu_notifier_ops gizmo_mmuops = {
	.invalidate_page	= gizmo_invalidate_page,
	.invalidate_range	= gizmo_inv_range,
};

void gizmo_bind(struct gizmo *g)
{
	g->mn.ops = &gizmo_mmuops;
}
