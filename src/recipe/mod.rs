//! Migration recipes: the knowledge of one API migration (names, shapes,
//! rules), kept apart from the engine so that a second migration is a new
//! folder here (its data in `mod.rs`, one `rewrite::rule::Rule` per stage)
//! and its line in [`all`], and nothing else.
//!
//! The scanner asks a [`Recipe`] what to look for and how to name what it
//! finds; it never hard-codes an API name itself.

pub mod check;
pub mod invalidate_page;
pub mod notifier_range;

pub use check::CheckRules;

use serde::Serialize;

/// Everything the scanner needs to know about one API migration.
#[derive(Debug, Clone, Serialize)]
pub struct Recipe {
    /// Short identifier, e.g. `invalidate-page`.
    pub id: &'static str,
    /// The byte string whose every occurrence must be accounted for.
    pub needle: &'static str,
    /// The ops structure whose member is being removed.
    pub ops_struct: &'static str,
    /// The member of `ops_struct` being removed.
    pub ops_member: &'static str,
    /// Every member of `ops_struct` the migration changes (the scan
    /// classifies entries, callbacks and API sites of each).
    pub ops_members: &'static [&'static str],
    /// Members of `ops_struct` that can take over the removed member's work.
    pub replacement_members: &'static [&'static str],
    /// Of those: the one called before the change (may sleep), the one
    /// called under the page-table lock right after it (must not sleep),
    /// and the one called after it that may sleep.  Work the old callback
    /// did after the change moves to the second, or to the third when it
    /// sleeps.
    pub before_member: &'static str,
    pub atomic_member: &'static str,
    pub sleepable_after_member: &'static str,
    /// The range form of a callee is its name with this suffix
    /// (`kvm_unmap_hva` and `kvm_unmap_hva_range`).
    pub range_form_suffix: &'static str,
    /// Calls with this prefix are trace points (`trace_foo()`).
    pub trace_prefix: &'static str,
    /// Functions whose calls are the old API (the wrapper first).
    pub api_functions: &'static [&'static str],
    /// The preprocessor symbol that selects the real API over the stubs.
    pub api_config: &'static str,
    /// Per-architecture hooks that forward the old callback.
    pub arch_hooks: &'static [&'static str],
    /// The primitives that take the page-table lock.
    pub lock_acquire: &'static [LockOp],
    /// How helpers built on the primitives are recognised in the tree.
    pub lock_learning: LockLearning,
    /// Calls that drop the page-table lock.
    pub lock_release: &'static [UnlockOp],
    /// Loop conditions whose body runs with the page-table lock held.
    pub locked_walks: &'static [&'static str],
    /// What the rewrite needs to know about those walks.
    pub walk_specs: &'static [WalkSpec],
    /// Calls that change a pte / a pmd; the address is argument 1.
    pub pte_modifiers: &'static [&'static str],
    pub pmd_modifiers: &'static [&'static str],
    /// The replacement API: bracket start, end, and the atomic range call.
    pub range_start: &'static str,
    pub range_end: &'static str,
    pub range_call: &'static str,
    /// The range form of the arch hook, and where its prototype goes.
    pub arch_hook_range: &'static str,
    pub arch_hook_header: &'static str,
    /// Comment for a worst-case bracket around a walk of a compound page.
    pub walk_worst_case_comment: &'static [&'static str],
    /// Comment for a worst-case bracket around a pte-or-pmd lookup.
    pub pmd_worst_case_comment: &'static [&'static str],
    /// Comment for a worst-case bracket around a lookup of a page whose
    /// entry may be of any size.
    pub lookup_worst_case_comment: &'static [&'static str],
    /// What `kseries check` needs to know (bracket calls, sleeping calls,
    /// page counts, huge sizes).
    pub check: CheckRules,
    /// What the patch series says in prose (cover letter, fallback commit
    /// messages).
    pub messages: Messages,
    /// What becomes of the old API: removed (every use is an error until
    /// it is gone, `check`'s E1), or kept with a new form (an old-form use
    /// under a new-form header is `check`'s E6).
    pub api_fate: ApiFate,
    /// The stages of the series, in bisectable order.
    pub stages: &'static [StageSpec],
    /// The rewrite rules, one per stage, in the same order.
    #[serde(skip)]
    pub rules: fn() -> Vec<Box<dyn crate::rewrite::rule::Rule>>,
}

/// What a migration does to the old API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiFate {
    /// The API goes: what still uses it must go or be converted.
    Removed,
    /// The API stays with other parameters: its uses change form.
    Reshaped,
}

/// One stage of a recipe's series.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StageSpec {
    /// The name a plan stores (`callers`).
    pub name: &'static str,
    /// How prose names it ("KVM").
    pub title: &'static str,
    /// The commit message of a unit whose plan has no description of its
    /// own (plans written by hand or by older versions); `{subsystem}` is
    /// replaced by the unit's subsystem.
    pub fallback: &'static str,
    /// Set when the stage is one commit across subsystems, because what it
    /// changes cannot be split and still build (a signature change of an
    /// ops member): why, for the cover letter.
    pub flag_day: Option<&'static str>,
}

/// The prose of a series made with a recipe.  The engine writes what it
/// found (functions, files); what the migration is and why it is needed
/// is the recipe's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Messages {
    /// The cover letter's default subject (after `[PATCH 00/NN]`).
    pub title: &'static str,
    /// The migration in a few words, for the cover letter's "generated
    /// by" line.
    pub what: &'static str,
    /// The cover letter's paragraphs: the problem (citing commits the
    /// kernel way, `commit 0123456789ab ("subject")`), the rule applied,
    /// the order of the patches.
    pub cover: &'static [&'static str],
}

/// A page-table walk whose loop body runs with the lock held, and the
/// members of its state struct that say what it walks.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WalkSpec {
    pub function: &'static str,
    pub page_member: &'static str,
    pub vma_member: &'static str,
    pub address_member: &'static str,
}

/// How a primitive takes the page-table lock.  Helpers built on these
/// (lookups that return the lock through an out-parameter, `__acquires()`
/// functions, `__cond_lock()` wrappers) are learned from the tree by
/// `scan::locks`, not listed here.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LockOp {
    pub function: &'static str,
    /// When the call returns with the lock held.
    pub held: Held,
    /// For generic lock primitives (`spin_lock`): only calls whose argument
    /// text contains this count as the page-table lock.
    pub arg_contains: Option<&'static str>,
    /// What the lock guards.
    pub extent: Extent,
    /// The arguments that name the mm and the address whose entry is
    /// locked, when the call has them.
    pub mm_arg: Option<usize>,
    pub address_arg: Option<usize>,
}

/// When a call returns with the lock held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Held {
    /// Whenever it returns.
    Always,
    /// When it returns 0 (`follow_pte_pmd()`).
    OnZero,
    /// When it returns non-zero or non-NULL (a pointer to the entry).
    OnNonZero,
}

/// What a lock guards: the entry the call found may map this much.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extent {
    /// One pte: one page.
    Pte,
    /// One pmd.
    Pmd,
    /// A pte or a pmd.
    PteOrPmd,
    /// Not known from the call (a bare spinlock, a hugetlb pte).
    Unknown,
}

impl Extent {
    /// The extent of whichever of two locks a path may hold.
    pub fn union(self, other: Extent) -> Extent {
        use Extent::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => PteOrPmd,
        }
    }
}

impl LockOp {
    /// `fn(mm, ..., address, ...)` that returns the pte of `address`
    /// mapped and locked.
    pub const fn pte_lock(function: &'static str, address_arg: usize) -> LockOp {
        LockOp {
            function,
            held: Held::Always,
            arg_contains: None,
            extent: Extent::Pte,
            mm_arg: Some(0),
            address_arg: Some(address_arg),
        }
    }

    /// `fn(mm, entry)` that locks the table the entry is in and returns
    /// the lock.
    pub const fn table_lock(function: &'static str, extent: Extent) -> LockOp {
        LockOp {
            function,
            held: Held::Always,
            arg_contains: None,
            extent,
            mm_arg: Some(0),
            address_arg: None,
        }
    }

    /// A call that returns the lock it took, whatever its arguments.
    pub const fn returning_lock(function: &'static str, extent: Extent) -> LockOp {
        LockOp {
            function,
            held: Held::Always,
            arg_contains: None,
            extent,
            mm_arg: None,
            address_arg: None,
        }
    }

    /// A generic lock primitive that counts only for a visibly named lock.
    pub const fn spinlock(function: &'static str, arg: &'static str) -> LockOp {
        LockOp {
            function,
            held: Held::Always,
            arg_contains: Some(arg),
            extent: Extent::Unknown,
            mm_arg: None,
            address_arg: None,
        }
    }
}

/// What the lock learner looks for in the tree (see `scan::locks`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LockLearning {
    /// The type of the page-table lock (`spinlock_t`): a `T **`
    /// parameter is an out-parameter for it, a `T *` result returns it.
    pub lock_type: &'static str,
    /// Sparse's conditional-lock annotation (`__cond_lock(lock, cond)`).
    pub cond_lock: &'static str,
    /// The annotation of a function that returns with a lock held.
    pub acquires: &'static str,
    /// Parameter types that name what a lookup looks up, when its lock
    /// primitive does not say: the mm, the page, the address.
    pub mm_type: &'static str,
    pub page_type: &'static str,
    pub address_type: &'static str,
}

/// How a call drops the page-table lock.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UnlockOp {
    pub function: &'static str,
    pub arg_contains: Option<&'static str>,
}

impl Recipe {
    /// The stage named `name`, and its place in the series' order.
    pub fn stage(&self, name: &str) -> Option<(usize, &StageSpec)> {
        self.stages.iter().enumerate().find(|(_, s)| s.name == name)
    }

    /// Whether `name` is one of the old API's functions.
    pub fn is_api_function(&self, name: &str) -> bool {
        self.api_functions.contains(&name)
    }

    /// Whether `name` is one of the ops members the migration changes.
    pub fn is_ops_member(&self, name: &str) -> bool {
        self.ops_members.contains(&name)
    }

    pub fn is_arch_hook(&self, name: &str) -> bool {
        self.arch_hooks.contains(&name)
    }

    /// The primitive a call of `name` with arguments `args` (their source
    /// text joined) is, if it takes the page-table lock.
    pub fn lock_primitive(&self, name: &str, args: &str) -> Option<&LockOp> {
        self.lock_acquire
            .iter()
            .find(|op| op.function == name && op.arg_contains.is_none_or(|a| args.contains(a)))
    }

    /// Whether a call of `name` with arguments `args` drops the page-table lock.
    pub fn is_lock_release(&self, name: &str, args: &str) -> bool {
        self.lock_release
            .iter()
            .any(|op| op.function == name && op.arg_contains.is_none_or(|a| args.contains(a)))
    }

    pub fn is_locked_walk(&self, name: &str) -> bool {
        self.locked_walks.contains(&name)
    }

    pub fn walk_spec(&self, name: &str) -> Option<&WalkSpec> {
        self.walk_specs.iter().find(|w| w.function == name)
    }

    /// The level of the page table a call changes, if it changes one.
    pub fn modified_level(&self, name: &str) -> Option<Level> {
        if self.pmd_modifiers.contains(&name) {
            Some(Level::Pmd)
        } else if self.pte_modifiers.contains(&name) {
            Some(Level::Pte)
        } else {
            None
        }
    }
}

/// The recipe a subcommand uses unless told.
pub const DEFAULT: &str = "invalidate-page";

/// All recipes kseries knows, by id.
pub fn all() -> Vec<Recipe> {
    vec![invalidate_page::recipe(), notifier_range::recipe()]
}

/// The recipe with this id.
pub fn by_id(id: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.id == id)
}

/// The level of a page-table entry a call changes: its exact range is one
/// page for a pte, the aligned PMD for a pmd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pte,
    Pmd,
}
