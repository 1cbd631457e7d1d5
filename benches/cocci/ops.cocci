// `.invalidate_page = fn` entries of struct mmu_notifier_ops.
@r@
identifier ops, fn;
position p;
@@
struct mmu_notifier_ops ops = {
	.invalidate_page = fn@p,
};

@script:python@
p << r.p;
fn << r.fn;
@@
print("ops-entry %s:%s %s" % (p[0].file, p[0].line, fn))
