// SPDX-License-Identifier: GPL-2.0
/*
 * kseries-audit: a test mmu_notifier that checks the events the core mm
 * sends to a secondary MMU.  Written for kseries (not taken from Linux).
 *
 * Control file /proc/kseries_audit, written by the guest workload:
 *   "register"  registers a notifier on the writer's mm (current->mm);
 *   "verdict"   prints the one verdict line:
 *     kseries-audit: events=N unpaired=U bad_range=B unbracketed=X page=M
 *
 * Checks, per registered mm:
 *   - every invalidate_range_start is matched by one invalidate_range_end
 *     with the same range (ends without a start, and starts still open at
 *     verdict time, are "unpaired");
 *   - every range is a byte range: page aligned, end > start ("bad_range");
 *   - every invalidate_range lies inside an active start/end bracket that
 *     covers it ("unbracketed"), except the mmu_gather TLB flush's, which
 *     comes after the end by design (counted as tlb_flush_ranges);
 *   - invalidate_page events are counted ("page") while that API exists
 *     (built with -DHAVE_INVALIDATE_PAGE).
 *
 * The range callbacks follow the kernel's declaration (-DHAVE_NOTIFIER_RANGE
 * and friends, chosen by kseries from the tree's mmu_notifier.h).
 *
 * The callbacks may run under the page-table lock: they never sleep and
 * only take a spinlock.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/kallsyms.h>
#include <linux/stacktrace.h>
#include <linux/uaccess.h>

#define AUDIT_MAX_MM 4
#define AUDIT_MAX_OPEN 64
#define AUDIT_MAX_REPORTS 8

struct audit_bracket {
	unsigned long start;
	unsigned long end;
	int used;
};

struct audit_mm {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	int registered;
	int released;
	struct audit_bracket open[AUDIT_MAX_OPEN];
};

static struct audit_mm audit_mms[AUDIT_MAX_MM];
static DEFINE_SPINLOCK(audit_lock);
static DEFINE_MUTEX(audit_ctl_mutex);

static unsigned long n_events, n_start, n_end, n_range, n_page;
static unsigned long n_unpaired, n_bad_range, n_unbracketed, n_overflow;
static unsigned long n_reports, n_tlb_flush;

/*
 * The mmu_gather TLB flush (tlb_flush_mmu_tlbonly()) calls
 * invalidate_range after the bracket of the unmap has ended: the device
 * TLB is flushed before the pages are freed.  That call is by design, not
 * a violation: it is told apart by the stack it comes from.
 */
static int audit_from_tlb_flush(void)
{
	unsigned long entries[12];
	struct stack_trace trace = {
		.entries = entries,
		.max_entries = ARRAY_SIZE(entries),
	};
	char sym[KSYM_SYMBOL_LEN];
	unsigned int i;

	save_stack_trace(&trace);
	for (i = 0; i < trace.nr_entries; i++) {
		if (entries[i] == ULONG_MAX)
			break;
		sprint_symbol_no_offset(sym, entries[i]);
		if (!strncmp(sym, "tlb_flush_mmu", 13) ||
		    !strncmp(sym, "tlb_finish_mmu", 14))
			return 1;
	}
	return 0;
}

/* Called with audit_lock held: says what went wrong, and where. */
static void audit_report(const char *what, unsigned long start,
			 unsigned long end)
{
	if (n_reports >= AUDIT_MAX_REPORTS)
		return;
	n_reports++;
	pr_err("kseries-audit: violation: %s [%#lx, %#lx) comm=%s pid=%d\n",
	       what, start, end, current->comm, task_pid_nr(current));
	dump_stack();
}

static int audit_range_ok(unsigned long start, unsigned long end)
{
	return end > start && !(start & ~PAGE_MASK) && !(end & ~PAGE_MASK);
}

static void audit_check_range(const char *what, unsigned long start,
			      unsigned long end)
{
	if (!audit_range_ok(start, end)) {
		n_bad_range++;
		audit_report(what, start, end);
	}
}

static void audit_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct audit_mm *am = container_of(mn, struct audit_mm, mn);
	unsigned long flags;

	spin_lock_irqsave(&audit_lock, flags);
	n_events++;
	am->released = 1;
	spin_unlock_irqrestore(&audit_lock, flags);
}

static void audit_open(struct mmu_notifier *mn, unsigned long start,
		       unsigned long end)
{
	struct audit_mm *am = container_of(mn, struct audit_mm, mn);
	unsigned long flags;
	int i;

	spin_lock_irqsave(&audit_lock, flags);
	n_events++;
	n_start++;
	audit_check_range("bad range in invalidate_range_start", start, end);
	for (i = 0; i < AUDIT_MAX_OPEN; i++) {
		if (!am->open[i].used) {
			am->open[i].start = start;
			am->open[i].end = end;
			am->open[i].used = 1;
			break;
		}
	}
	if (i == AUDIT_MAX_OPEN)
		n_overflow++;
	spin_unlock_irqrestore(&audit_lock, flags);
}

static void audit_close(struct mmu_notifier *mn, unsigned long start,
			unsigned long end)
{
	struct audit_mm *am = container_of(mn, struct audit_mm, mn);
	unsigned long flags;
	int i;

	spin_lock_irqsave(&audit_lock, flags);
	n_events++;
	n_end++;
	audit_check_range("bad range in invalidate_range_end", start, end);
	for (i = 0; i < AUDIT_MAX_OPEN; i++) {
		if (am->open[i].used && am->open[i].start == start &&
		    am->open[i].end == end) {
			am->open[i].used = 0;
			break;
		}
	}
	if (i == AUDIT_MAX_OPEN && !n_overflow) {
		n_unpaired++;
		audit_report("invalidate_range_end without a matching start",
			     start, end);
	}
	spin_unlock_irqrestore(&audit_lock, flags);
}

/*
 * The range callbacks as the kernel under test declares them: with the
 * range structure (HAVE_NOTIFIER_RANGE), or with (mm, start, end); a start
 * that returns int (HAVE_INT_RANGE_START) and one that takes a blockable
 * flag (HAVE_RANGE_START_BLOCKABLE) in kernels that have them.
 */
#ifdef HAVE_INT_RANGE_START
#define AUDIT_START_RET int
#define AUDIT_START_DONE return 0
#else
#define AUDIT_START_RET void
#define AUDIT_START_DONE return
#endif

#ifdef HAVE_RANGE_START_BLOCKABLE
#define AUDIT_BLOCKABLE_PARAM , bool blockable
#else
#define AUDIT_BLOCKABLE_PARAM
#endif

#ifdef HAVE_NOTIFIER_RANGE
static AUDIT_START_RET audit_start(struct mmu_notifier *mn,
				   const struct mmu_notifier_range *range)
{
	audit_open(mn, range->start, range->end);
	AUDIT_START_DONE;
}

static void audit_end(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	audit_close(mn, range->start, range->end);
}
#else
static AUDIT_START_RET audit_start(struct mmu_notifier *mn,
				   struct mm_struct *mm, unsigned long start,
				   unsigned long end AUDIT_BLOCKABLE_PARAM)
{
	audit_open(mn, start, end);
	AUDIT_START_DONE;
}

static void audit_end(struct mmu_notifier *mn, struct mm_struct *mm,
		      unsigned long start, unsigned long end)
{
	audit_close(mn, start, end);
}
#endif

static void audit_range(struct mmu_notifier *mn, struct mm_struct *mm,
			unsigned long start, unsigned long end)
{
	struct audit_mm *am = container_of(mn, struct audit_mm, mn);
	unsigned long flags;
	int i, covered = 0;

	spin_lock_irqsave(&audit_lock, flags);
	n_events++;
	n_range++;
	audit_check_range("bad range in invalidate_range", start, end);
	for (i = 0; i < AUDIT_MAX_OPEN; i++) {
		if (am->open[i].used && am->open[i].start <= start &&
		    end <= am->open[i].end) {
			covered = 1;
			break;
		}
	}
	if (!covered && audit_from_tlb_flush()) {
		n_tlb_flush++;
	} else if (!covered) {
		n_unbracketed++;
		audit_report("invalidate_range outside a covering start/end bracket",
			     start, end);
	}
	spin_unlock_irqrestore(&audit_lock, flags);
}

#ifdef HAVE_INVALIDATE_PAGE
static void audit_page(struct mmu_notifier *mn, struct mm_struct *mm,
		       unsigned long address)
{
	unsigned long flags;

	spin_lock_irqsave(&audit_lock, flags);
	n_events++;
	n_page++;
	if (address & ~PAGE_MASK) {
		n_bad_range++;
		audit_report("unaligned invalidate_page", address, address + 1);
	}
	spin_unlock_irqrestore(&audit_lock, flags);
}
#endif

static const struct mmu_notifier_ops audit_ops = {
	.release = audit_release,
	.invalidate_range_start = audit_start,
	.invalidate_range_end = audit_end,
	.invalidate_range = audit_range,
#ifdef HAVE_INVALIDATE_PAGE
	.invalidate_page = audit_page,
#endif
};

static int audit_register_current(void)
{
	struct audit_mm *am = NULL;
	int i, ret;

	if (!current->mm)
		return -EINVAL;
	for (i = 0; i < AUDIT_MAX_MM; i++) {
		if (audit_mms[i].registered && audit_mms[i].mm == current->mm &&
		    !audit_mms[i].released)
			return 0;
		if (!audit_mms[i].registered && !am)
			am = &audit_mms[i];
	}
	if (!am)
		return -ENOSPC;
	am->mn.ops = &audit_ops;
	ret = mmu_notifier_register(&am->mn, current->mm);
	if (ret)
		return ret;
	am->mm = current->mm;
	am->registered = 1;
	pr_info("kseries-audit: registered on mm of %s pid=%d\n", current->comm,
		task_pid_nr(current));
	return 0;
}

static void audit_verdict(void)
{
	unsigned long flags, open = 0, mms = 0;
	int i, j;

	spin_lock_irqsave(&audit_lock, flags);
	for (i = 0; i < AUDIT_MAX_MM; i++) {
		if (!audit_mms[i].registered)
			continue;
		mms++;
		for (j = 0; j < AUDIT_MAX_OPEN; j++)
			if (audit_mms[i].open[j].used)
				open++;
	}
	pr_info("kseries-audit-detail: mms=%lu starts=%lu ends=%lu ranges=%lu tlb_flush_ranges=%lu open=%lu overflow=%lu\n",
		mms, n_start, n_end, n_range, n_tlb_flush, open, n_overflow);
	pr_info("kseries-audit: events=%lu unpaired=%lu bad_range=%lu unbracketed=%lu page=%lu\n",
		n_events, n_unpaired + open + n_overflow, n_bad_range,
		n_unbracketed, n_page);
	spin_unlock_irqrestore(&audit_lock, flags);
}

static ssize_t audit_ctl_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	char buf[32];
	size_t n = min(len, sizeof(buf) - 1);
	int ret = 0;

	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = '\0';
	mutex_lock(&audit_ctl_mutex);
	if (!strncmp(buf, "register", 8))
		ret = audit_register_current();
	else if (!strncmp(buf, "verdict", 7))
		audit_verdict();
	else
		ret = -EINVAL;
	mutex_unlock(&audit_ctl_mutex);
	return ret ? ret : len;
}

static const struct file_operations audit_ctl_fops = {
	.owner = THIS_MODULE,
	.write = audit_ctl_write,
};

static struct proc_dir_entry *audit_ctl;

static int __init audit_init(void)
{
	audit_ctl = proc_create("kseries_audit", 0200, NULL, &audit_ctl_fops);
	if (!audit_ctl)
		return -ENOMEM;
#ifdef HAVE_INVALIDATE_PAGE
	pr_info("kseries-audit: loaded (invalidate_page hooked)\n");
#else
	pr_info("kseries-audit: loaded (no invalidate_page in this kernel)\n");
#endif
	return 0;
}

/*
 * Registered notifiers pin their mm and stay on its list: unloading is
 * refused by having no exit function.
 */
module_init(audit_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kseries mmu_notifier auditor");
