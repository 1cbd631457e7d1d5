/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __FOO_KVM_HOST_H__
#define __FOO_KVM_HOST_H__

struct kvm;

static inline void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,
							 unsigned long address)
{
}

#endif
