/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _BLOB_COMPAT_H
#define _BLOB_COMPAT_H

/* A macro can hide an API call: only a human can say what it expands to. */
#define blob_notify(mm, addr)	mmu_notifier_invalidate_page(mm, addr)

/* Token pasting could build any name. */
#define blob_call(prefix, a)	prefix##_invalidate_page(a)

/* Plain identifiers in a macro body are someone else's. */
#define blob_drop(p)		blob_invalidate_page(p, 0)

#endif
