// SPDX-License-Identifier: GPL-2.0
/*
 * blobfs: nothing here is the mmu_notifier API, whatever the names say.
 */
#include <linux/fs.h>
#include <linux/cleancache.h>

/* Called from ->invalidatepage; unlike mmu_notifier's invalidate_page
 * this is about page-cache pages. */
static void blob_invalidate_page(struct page *page, unsigned int offset)
{
	pr_debug("blobfs: invalidate_page at %u\n", offset);
	cleancache_invalidate_page(0, page->index);
	fscache_invalidate_page(page);
}

static const struct address_space_operations blob_aops = {
	.invalidatepage = blob_invalidate_page,
};
