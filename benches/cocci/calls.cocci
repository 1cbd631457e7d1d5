// Calls of the old API, for the scan benchmark.
@r@
expression mm, addr;
position p;
@@
(
mmu_notifier_invalidate_page@p(mm, addr)
|
__mmu_notifier_invalidate_page@p(mm, addr)
)

@script:python@
p << r.p;
@@
print("call %s:%s" % (p[0].file, p[0].line))
