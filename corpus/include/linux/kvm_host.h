/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LINUX_KVM_HOST_H
#define __LINUX_KVM_HOST_H

#include <linux/mmu_notifier.h>
#include <asm/kvm_host.h>

struct kvm {
	struct mmu_notifier mmu_notifier;
	unsigned long mmu_notifier_seq;
	long mmu_notifier_count;
};

int kvm_unmap_hva(struct kvm *kvm, unsigned long hva);
int kvm_unmap_hva_range(struct kvm *kvm, unsigned long start,
			unsigned long end);

#endif
