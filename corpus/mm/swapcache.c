// SPDX-License-Identifier: GPL-2.0
#include <linux/cleancache.h>

static const struct cleancache_ops *cc_ops;

static void toy_cc_invalidate(int pool, unsigned long index)
{
}

static const struct cleancache_ops toy_cleancache_ops = {
	.invalidate_page = toy_cc_invalidate,
};

void cleancache_invalidate_page(int pool, unsigned long index)
{
	if (cc_ops)
		cc_ops->invalidate_page(pool, index);
}

void swapcache_setup(void)
{
	cc_ops = &toy_cleancache_ops;
}
