// SPDX-License-Identifier: GPL-2.0
#include <linux/kvm_host.h>

/* The shared status page must be re-pinned when its host page moves. */
void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,
					   unsigned long address)
{
	if (address == kvm->arch.status_page_hva)
		kvm_make_all_cpus_request(kvm, KVM_REQ_STATUS_RELOAD);
}
