//! Migration recipes: the knowledge of one API migration (names, shapes,
//! rules), kept apart from the engine so that a second migration is a new
//! file here and nothing else.
//!
//! The scanner asks a [`Recipe`] what to look for and how to name what it
//! finds; it never hard-codes an API name itself.

pub mod check;
pub mod invalidate_page;

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
    /// Members of `ops_struct` that can take over the removed member's work.
    pub replacement_members: &'static [&'static str],
    /// Functions whose calls are the old API (the wrapper first).
    pub api_functions: &'static [&'static str],
    /// The preprocessor symbol that selects the real API over the stubs.
    pub api_config: &'static str,
    /// Per-architecture hooks that forward the old callback.
    pub arch_hooks: &'static [&'static str],
    /// Calls that take the page-table lock (the call's result holds it).
    pub lock_acquire: &'static [LockOp],
    /// Calls that drop the page-table lock.
    pub lock_release: &'static [UnlockOp],
    /// Loop conditions whose body runs with the page-table lock held.
    pub locked_walks: &'static [&'static str],
    /// What `kseries check` needs to know (bracket calls, sleeping calls,
    /// page counts, huge sizes).
    pub check: CheckRules,
}

/// How a call takes the page-table lock.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LockOp {
    pub function: &'static str,
    /// The lock is held only when the call returns zero (e.g.
    /// `follow_pte_pmd()`), rather than whenever it returns.
    pub held_on_zero: bool,
    /// For generic lock primitives (`spin_lock`): only calls whose argument
    /// text contains this count as the page-table lock.
    pub arg_contains: Option<&'static str>,
}

/// How a call drops the page-table lock.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UnlockOp {
    pub function: &'static str,
    pub arg_contains: Option<&'static str>,
}

impl Recipe {
    /// Whether `name` is one of the old API's functions.
    pub fn is_api_function(&self, name: &str) -> bool {
        self.api_functions.contains(&name)
    }

    pub fn is_arch_hook(&self, name: &str) -> bool {
        self.arch_hooks.contains(&name)
    }

    /// The lock operation performed by a call of `name` with arguments
    /// `args` (their source text joined), if it takes the page-table lock.
    pub fn lock_acquire(&self, name: &str, args: &str) -> Option<&LockOp> {
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
}

/// All recipes kseries knows, by id.
pub fn all() -> Vec<Recipe> {
    vec![invalidate_page::recipe()]
}

/// The recipe with this id.
pub fn by_id(id: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.id == id)
}
