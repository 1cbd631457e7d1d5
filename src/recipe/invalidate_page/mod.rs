//! The Linux 4.13 `mmu_notifier_invalidate_page()` removal.
//!
//! Callers of
//! `mmu_notifier_invalidate_page()` become range_start/range/range_end
//! brackets, `->invalidate_page` callbacks go or are converted, the
//! per-architecture `kvm_arch_mmu_notifier_invalidate_page` hooks go or
//! become range hooks, and the API is deleted last.
//!
//! This file is the recipe's data (names, prose, stages, the check
//! table); each stage's rule is a [`Rule`] type in its own file
//! (`callers.rs`, `callbacks.rs` with `effects.rs`, `kvm.rs`, `api.rs`),
//! built on the engine's workspace, syntax, text and removal helpers.

mod accessed;
mod api;
mod callbacks;
mod callers;
mod effects;
mod kvm;

use super::check::RangeForm;
use super::{
    ApiFate, CheckRules, Extent, LockLearning, LockOp, Recipe, StageSpec, UnlockOp, WalkSpec,
};
use crate::rewrite::rule::Rule;

/// The stages' names, as plans store them.
const CALLERS: &str = "callers";
const CALLBACKS: &str = "callbacks";
const KVM: &str = "kvm";
const API: &str = "api";

/// The 4.13 migration's data.  Long because it is one struct literal,
/// a field (or a short list) at a time.
pub fn recipe() -> Recipe {
    Recipe {
        id: "invalidate-page",
        needle: "invalidate_page",
        ops_struct: "mmu_notifier_ops",
        ops_member: "invalidate_page",
        ops_members: &["invalidate_page"],
        replacement_members: &[
            "invalidate_range_start",
            "invalidate_range_end",
            "invalidate_range",
        ],
        before_member: "invalidate_range_start",
        atomic_member: "invalidate_range",
        sleepable_after_member: "invalidate_range_end",
        range_form_suffix: "_range",
        trace_prefix: "trace_",
        api_functions: &[
            "mmu_notifier_invalidate_page",
            "__mmu_notifier_invalidate_page",
        ],
        api_config: "CONFIG_MMU_NOTIFIER",
        arch_hooks: &["kvm_arch_mmu_notifier_invalidate_page"],
        lock_acquire: LOCK_ACQUIRE,
        lock_learning: LockLearning {
            lock_type: "spinlock_t",
            cond_lock: "__cond_lock",
            acquires: "__acquires",
            mm_type: "struct mm_struct",
            page_type: "struct page",
            address_type: "unsigned long",
        },
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
        lookup_worst_case_comment: &[
            "The lookup may lock any entry that maps the page: bracket the",
            "worst case, the whole compound page aligned to its size, within",
            "the vma.",
        ],
        pmd_worst_case_comment: &[
            "The entry found may be a pte or a pmd: bracket the worst",
            "case, the whole PMD-aligned range, within the vma.",
        ],
        check: check_rules(),
        messages: MESSAGES,
        api_fate: ApiFate::Removed,
        stages: STAGES,
        rules,
    }
}

const MESSAGES: super::Messages = super::Messages {
    title: "mm: remove mmu_notifier_invalidate_page()",
    what: "the Linux 4.13 removal of mmu_notifier_invalidate_page()",
    cover: &[
        "Since commit c7ab0d2fdc84 (\"mm: convert try_to_unmap_one() to use \
         page_vma_mapped_walk()\"), mmu_notifier_invalidate_page() is called with the \
         page-table lock held, yet some ->invalidate_page() callbacks sleep while they wait \
         for a device TLB flush. Other callers make the call after dropping the lock, when \
         the entry may already be in use again. And the call names one page where a \
         transparent huge page or a hugetlb page needs a range.",
        "This series removes the API. Every page-table change a secondary MMU must hear \
         about is bracketed by mmu_notifier_invalidate_range_start() and \
         mmu_notifier_invalidate_range_end(), outside the lock, where callbacks may sleep, \
         with mmu_notifier_invalidate_range() for the exact byte range under the lock. A \
         compound page spans PAGE_SIZE << compound_order(page) bytes.",
        "The callers come first, one patch per subsystem; then each driver's \
         ->invalidate_page() callback, dead by then; then KVM with every architecture's \
         hook; and last the API itself, so that every step builds and bisects.",
    ],
};

/// Callers first, one patch per subsystem; then each driver's dead
/// callback; then KVM with every architecture's hook; the API last.
const STAGES: &[StageSpec] = &[
    StageSpec {
        name: CALLERS,
        title: "callers",
        fallback: "Convert the calls of mmu_notifier_invalidate_page() in {subsystem}: \
                   mmu_notifier_invalidate_range_start() and _end() around the page-table \
                   change, outside the lock, and mmu_notifier_invalidate_range() with the \
                   exact byte range under the lock.",
        flag_day: None,
    },
    StageSpec {
        name: CALLBACKS,
        title: "callbacks",
        fallback: "Now that nothing calls mmu_notifier_invalidate_page(), the \
                   ->invalidate_page() callback of {subsystem} is never called: remove it, \
                   and keep any work of its own in a range callback.",
        flag_day: None,
    },
    StageSpec {
        name: KVM,
        title: "KVM",
        fallback: "Now that nothing calls mmu_notifier_invalidate_page(), KVM's \
                   ->invalidate_page() callback is never called. Move the work of its \
                   architecture hook to a range hook called from a new ->invalidate_range() \
                   callback, right after the page-table change, and remove the empty stubs.",
        flag_day: None,
    },
    StageSpec {
        name: API,
        title: "API",
        fallback: "Now that nothing calls mmu_notifier_invalidate_page() and no \
                   mmu_notifier_ops sets ->invalidate_page, remove them, with the comments \
                   that document them.",
        flag_day: None,
    },
];

/// The rules of the stages above.  Callbacks and KVM hooks are dead only
/// once no caller is left; the API goes only when nothing at all is left.
fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(callers::Callers),
        Box::new(callbacks::Callbacks),
        Box::new(kvm::Kvm),
        Box::new(api::Api),
    ]
}

/// What `kseries check` knows about mmu_notifier semantics: which calls
/// open and close a bracket, which sleep, which change the accessed bit.
/// Long because it is one table, an entry a line.
pub fn check_rules() -> CheckRules {
    CheckRules {
        needles: &[
            "mmu_notifier_invalidate_range",
            "invalidate_page",
            "mmu_notifier_ops",
            "mmu_notifier_range",
            "compound_order",
            "HPAGE_PMD_NR",
            "HPAGE_PUD_NR",
            "hpage_nr_pages",
            "compound_nr",
            "pages_per_huge_page",
        ],
        range_start: "mmu_notifier_invalidate_range_start",
        range_end: "mmu_notifier_invalidate_range_end",
        // Later kernels add `_only_end` (4.15), `_start_nonblock` (4.19)
        // and a `struct mmu_notifier_range` argument (4.20): every one of
        // them is a wrapper of these primitives in the tree's own header.
        bracket_header: "include/linux/mmu_notifier.h",
        start_primitives: &["__mmu_notifier_invalidate_range_start"],
        end_primitives: &["__mmu_notifier_invalidate_range_end"],
        range: RangeForm {
            tag: "mmu_notifier_range",
            init: "mmu_notifier_range_init",
            mm_member: "mm",
            start_member: "start",
            end_member: "end",
            init_args: [0, 1, 2, 3],
            ops_struct: "mmu_notifier_ops",
            callbacks: &["invalidate_range_start", "invalidate_range_end"],
        },
        young_calls: &[
            "*_clear_flush_young_notify",
            "mmu_notifier_clear_flush_young",
        ],
        vma_mm_field: "vm_mm",
        clamp_calls: &["min", "max", "clamp"],
        typed_clamp_calls: &["min_t", "max_t", "clamp_t"],
        condition_wrappers: &["likely", "unlikely"],
        range_only: "mmu_notifier_invalidate_range",
        pte_changes: &[
            "set_pte_at",
            "set_pte_at_notify",
            "set_pmd_at",
            "set_pud_at",
            "pte_clear",
            "pmd_clear",
            "ptep_clear_flush",
            "ptep_clear_flush_notify",
            "ptep_get_and_clear",
            "ptep_get_and_clear_full",
            "ptep_set_wrprotect",
            "ptep_modify_prot_commit",
            "pmdp_invalidate",
            "pmdp_huge_clear_flush",
            "pmdp_huge_clear_flush_notify",
            "pmdp_huge_get_and_clear",
            "pmdp_huge_get_and_clear_full",
            "pmdp_set_wrprotect",
            "pudp_huge_clear_flush_notify",
            "pudp_huge_get_and_clear",
            "huge_ptep_clear_flush",
            "huge_ptep_get_and_clear",
            "huge_ptep_set_wrprotect",
            "set_huge_pte_at",
        ],
        // The callbacks the core calls with the page-table lock held
        // (since 4.11 invalidate_page runs under the ptl;
        // invalidate_range and change_pte always did).
        atomic_members: &["invalidate_page", "invalidate_range", "change_pte"],
        sleeping_calls: &[
            "mutex_lock*",
            "down",
            "down_interruptible",
            "down_killable",
            "down_timeout",
            "down_read",
            "down_read_nested",
            "down_read_killable",
            "down_write",
            "down_write_nested",
            "down_write_killable",
            "wait_event*",
            "wait_for_completion*",
            "wait_on_bit*",
            "wait_on_page_*",
            "might_sleep",
            "might_sleep_if",
            "schedule",
            "schedule_timeout*",
            "msleep*",
            "ssleep",
            "usleep_range",
            "synchronize_*",
            "cond_resched*",
            "flush_work",
            "flush_workqueue",
            "flush_delayed_work",
            "cancel_work_sync",
            "cancel_delayed_work_sync",
            "vmalloc",
            "vzalloc",
            "copy_from_user",
            "copy_to_user",
            "get_user_pages*",
        ],
        non_sleeping_calls: &["mutex_lock_is_held"],
        sleeping_args: &["GFP_KERNEL", "GFP_USER", "GFP_HIGHUSER"],
        page_count_macros: &["HPAGE_PMD_NR", "HPAGE_PUD_NR", "HPAGE_NR_PAGES"],
        page_count_calls: &["hpage_nr_pages", "compound_nr", "pages_per_huge_page"],
        order_calls: &["compound_order", "huge_page_order"],
        order_words: &["order"],
        address_words: &["address", "start", "end", "va", "iova"],
        non_address_words: &[
            "pfn", "idx", "index", "nr", "count", "pages", "off", "pgoff",
        ],
        non_address_types: &["pgoff_t"],
        pfn_calls: &[
            "pfn_to_page",
            "__pfn_to_page",
            "pfn_valid",
            "pfn_to_online_page",
        ],
        huge_sizes: &[
            "HPAGE_PMD_SIZE",
            "PMD_SIZE",
            "HPAGE_PUD_SIZE",
            "PUD_SIZE",
            "HPAGE_SIZE",
        ],
        huge_size_calls: &["huge_page_size", "page_size"],
        base_page_size: "PAGE_SIZE",
        huge_masks: &[
            "PMD_MASK",
            "HPAGE_PMD_MASK",
            "PUD_MASK",
            "HPAGE_PUD_MASK",
            "HPAGE_MASK",
        ],
        align_calls: &["huge_page_mask", "round_down", "ALIGN_DOWN"],
        assertions: &[
            "VM_BUG_ON",
            "BUG_ON",
            "VM_WARN_ON",
            "WARN_ON",
            "WARN_ON_ONCE",
        ],
    }
}

// The primitives that take the page-table lock (include/linux/mm.h).
// Lookups built on them (follow_pte_pmd(), get_locked_pte(),
// page_check_address() before 4.11, pmd_trans_huge_lock()...) are
// learned from each tree's own definitions by scan::locks.
const LOCK_ACQUIRE: &[LockOp] = &[
    LockOp::pte_lock("pte_offset_map_lock", 2),
    LockOp::table_lock("pmd_lock", Extent::Pmd),
    LockOp::table_lock("pud_lock", Extent::Unknown),
    LockOp::returning_lock("huge_pte_lock", Extent::Unknown),
    // A bare spinlock counts only when it is visibly a ptl.
    LockOp::spinlock("spin_lock", "ptl"),
];
