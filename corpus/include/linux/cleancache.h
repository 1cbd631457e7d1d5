/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_CLEANCACHE_H
#define _LINUX_CLEANCACHE_H

/* A second-chance page cache: its invalidate_page is about file pages. */
struct cleancache_ops {
	int (*get_page)(int pool, unsigned long index, void *page);
	void (*invalidate_page)(int pool, unsigned long index);
};

extern void cleancache_invalidate_page(int pool, unsigned long index);

#endif
