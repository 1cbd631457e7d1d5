//! The Linux 4.13 `mmu_notifier_invalidate_page()` removal.
//!
//! Source of truth: `shared/docs/migration.md`.  Callers of
//! `mmu_notifier_invalidate_page()` become range_start/range/range_end
//! brackets, `->invalidate_page` callbacks go or are converted, the
//! per-architecture `kvm_arch_mmu_notifier_invalidate_page` hooks go or
//! become range hooks, and the API is deleted last.

use super::{LockOp, Recipe, UnlockOp};

pub fn recipe() -> Recipe {
    Recipe {
        id: "invalidate-page",
        needle: "invalidate_page",
        ops_struct: "mmu_notifier_ops",
        ops_member: "invalidate_page",
        replacement_members: &[
            "invalidate_range_start",
            "invalidate_range_end",
            "invalidate_range",
        ],
        api_functions: &[
            "mmu_notifier_invalidate_page",
            "__mmu_notifier_invalidate_page",
        ],
        api_config: "CONFIG_MMU_NOTIFIER",
        arch_hooks: &["kvm_arch_mmu_notifier_invalidate_page"],
        // The page-table lock is a spinlock taken by these helpers; see
        // include/linux/mm.h and mm/memory.c in any tree of that era.
        lock_acquire: &[
            LockOp {
                function: "pte_offset_map_lock",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "pmd_lock",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "pud_lock",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "huge_pte_lock",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "pmd_trans_huge_lock",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "get_locked_pte",
                held_on_zero: false,
                arg_contains: None,
            },
            LockOp {
                function: "follow_pte_pmd",
                held_on_zero: true,
                arg_contains: None,
            },
            LockOp {
                function: "follow_pte",
                held_on_zero: true,
                arg_contains: None,
            },
            // A bare spinlock counts only when it is visibly a ptl.
            LockOp {
                function: "spin_lock",
                held_on_zero: false,
                arg_contains: Some("ptl"),
            },
        ],
        lock_release: &[
            UnlockOp {
                function: "pte_unmap_unlock",
                arg_contains: None,
            },
            UnlockOp {
                function: "spin_unlock",
                arg_contains: Some("ptl"),
            },
            UnlockOp {
                function: "page_vma_mapped_walk_done",
                arg_contains: None,
            },
        ],
        locked_walks: &["page_vma_mapped_walk"],
    }
}
