/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BAR_KVM_HOST_H__
#define __BAR_KVM_HOST_H__

struct kvm;

void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,
					   unsigned long address);

#endif
