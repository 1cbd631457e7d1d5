// SPDX-License-Identifier: GPL-2.0
#include <linux/kvm_host.h>

/*
 * Read a model-specific register, with a fixup if it faults.  The asm's
 * operand list has a macro between its strings, which tree-sitter cannot
 * parse: it must not hide the hook below.
 */
static int bar_read_msr(unsigned int msr, unsigned long long *val)
{
	unsigned int lo, hi;
	int err = 0;

	asm volatile("1: rdmsr\n"
		     "2:\n"
		     ".section .fixup,\"ax\"\n"
		     "3: mov %4, %0\n"
		     "   jmp 2b\n"
		     ".previous\n"
		     _ASM_EXTABLE(1b, 3b)
		     : "+r" (err), "=a" (lo), "=d" (hi)
		     : "c" (msr), "i" (-EIO));
	*val = lo | ((unsigned long long)hi << 32);
	return err;
}

/* The shared status page must be re-pinned when its host page moves. */
void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,
					   unsigned long address)
{
	if (address == kvm->arch.status_page_hva)
		kvm_make_all_cpus_request(kvm, KVM_REQ_STATUS_RELOAD);
}
