//! The Linux 4.13 `mmu_notifier_invalidate_page()` removal.
//!
//! Source of truth: `shared/docs/migration.md`.  Callers of
//! `mmu_notifier_invalidate_page()` become range_start/range/range_end
//! brackets, `->invalidate_page` callbacks go or are converted, the
//! per-architecture `kvm_arch_mmu_notifier_invalidate_page` hooks go or
//! become range hooks, and the API is deleted last.

use super::{LockOp, Recipe, UnlockOp, WalkSpec};

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
        lock_acquire: LOCK_ACQUIRE,
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
        walk_specs: &[WalkSpec {
            function: "page_vma_mapped_walk",
            page_member: "page",
            vma_member: "vma",
            address_member: "address",
        }],
        pte_modifiers: &[
            "set_pte_at",
            "ptep_clear_flush",
            "ptep_get_and_clear",
            "ptep_get_and_clear_full",
            "pte_clear",
            "ptep_set_wrprotect",
            "ptep_modify_prot_commit",
        ],
        pmd_modifiers: &[
            "set_pmd_at",
            "pmdp_huge_clear_flush",
            "pmdp_huge_get_and_clear",
            "pmdp_invalidate",
            "pmdp_set_wrprotect",
        ],
        range_start: "mmu_notifier_invalidate_range_start",
        range_end: "mmu_notifier_invalidate_range_end",
        range_call: "mmu_notifier_invalidate_range",
        arch_hook_range: "kvm_arch_mmu_notifier_invalidate_range",
        arch_hook_header: "include/linux/kvm_host.h",
        walk_worst_case_comment: &[
            "The walk may change every entry that maps the page: bracket",
            "the worst case, the whole compound page aligned to its size,",
            "within the vma.",
        ],
        pmd_worst_case_comment: &[
            "The entry found may be a pte or a pmd: bracket the worst",
            "case, the whole PMD-aligned range, within the vma.",
        ],
    }
}

// The page-table lock is a spinlock taken by these helpers (see
// include/linux/mm.h and mm/memory.c of that era).
const LOCK_ACQUIRE: &[LockOp] = &[
    LockOp::pte_lock("pte_offset_map_lock", 2),
    LockOp::returning_lock("pmd_lock"),
    LockOp::returning_lock("pud_lock"),
    LockOp::returning_lock("huge_pte_lock"),
    LockOp::returning_lock("pmd_trans_huge_lock"),
    LockOp::pte_lock("get_locked_pte", 1),
    LockOp::lookup("follow_pte_pmd", true),
    LockOp::lookup("follow_pte", false),
    // A bare spinlock counts only when it is visibly a ptl.
    LockOp::spinlock("spin_lock", "ptl"),
];
