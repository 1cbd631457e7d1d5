//! The site model: what `scan` found, as plain serde data.
//!
//! JSON schema (stable; fields are only ever added):
//! `{"tree", "recipe", "sites": [Site], "summary": Summary, "lock_helpers":
//! [LockHelper]}`; every site has
//! `kind`, `file`, `line`, `column`, `end_line`, `function`, `subsystem`,
//! `occurrences` and the fields of its kind (see [`Detail`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One place in the tree that matters to the migration, or one textual
/// occurrence of the needle that does not (and why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    #[serde(flatten)]
    pub detail: Detail,
    /// Path relative to the scanned tree, with `/` separators.
    pub file: String,
    /// 1-based line and column of the site's anchor.
    pub line: usize,
    pub column: usize,
    /// Last line the site spans (the same as `line` for one-line sites).
    pub end_line: usize,
    /// The enclosing function, if the site is inside one.
    pub function: Option<String>,
    /// Where the site belongs for review and for the series.
    pub subsystem: String,
    /// Textual occurrences of the needle this site accounts for.
    pub occurrences: usize,
}

/// A source position, for cross references between sites.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Loc {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// What a site is, with the facts that kind carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Detail {
    /// A call of an old API function outside the API's own definition.
    Call {
        callee: String,
        args: Vec<String>,
        /// Whether the call runs with the page-table lock held: `null` when
        /// the function does not tell.
        under_ptl: Option<bool>,
        /// How `under_ptl` was decided, for a reviewer.
        ptl_evidence: String,
    },
    /// `.member = fn` in an initializer of the ops structure.
    OpsEntry {
        /// The variable the initializer belongs to.
        ops: String,
        /// The member the entry sets (one of the recipe's ops members).
        #[serde(default)]
        member: String,
        /// The function named by the entry.
        callback: String,
        /// The other invalidation callbacks the same ops sets, by member.
        sets: BTreeMap<String, String>,
    },
    /// The definition of a function named by an ops entry.
    Callback {
        name: String,
        /// The ops entry that names it.
        entry: Loc,
        is_static: bool,
        /// Forward declarations of the function.
        declarations: Vec<Loc>,
        /// Uses of the function other than the ops entry and declarations.
        other_users: Vec<Loc>,
        /// The other invalidation callbacks the same ops sets, by member.
        sets: BTreeMap<String, String>,
    },
    /// A declaration, definition or call of a per-architecture hook.
    ArchHook {
        name: String,
        role: HookRole,
        /// For definitions: whether the body does nothing.
        #[serde(skip_serializing_if = "Option::is_none")]
        empty: Option<bool>,
        /// For definitions: the architecture directory (`x86`, `arm64`...).
        #[serde(skip_serializing_if = "Option::is_none")]
        arch: Option<String>,
    },
    /// A part of the API's own definition.
    Api {
        role: ApiRole,
        name: String,
        /// The preprocessor condition it sits under, e.g.
        /// `CONFIG_MMU_NOTIFIER` or `!CONFIG_MMU_NOTIFIER`.
        #[serde(skip_serializing_if = "Option::is_none")]
        config: Option<String>,
        /// Lines of the comment right above that describes it.
        #[serde(skip_serializing_if = "Option::is_none")]
        comment_lines: Option<(usize, usize)>,
    },
    /// An occurrence of the needle that is not this API.
    Unrelated { reason: String },
    /// An occurrence whose meaning could not be decided.
    NeedsReview { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookRole {
    Declaration,
    Definition,
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiRole {
    /// The member of the ops structure.
    Member,
    /// An `extern` prototype.
    Declaration,
    /// The out-of-line implementation.
    Definition,
    /// The inline wrapper used when the API is configured in.
    Wrapper,
    /// The empty inline used when the API is configured out.
    Stub,
    /// A use inside the API's own definitions (wrapper calling the
    /// implementation, the implementation calling the member).
    InternalUse,
    /// `EXPORT_SYMBOL*()` of the implementation.
    Export,
}

impl Detail {
    /// The kind name used in JSON and tables.
    pub fn kind(&self) -> &'static str {
        match self {
            Detail::Call { .. } => "call",
            Detail::OpsEntry { .. } => "ops-entry",
            Detail::Callback { .. } => "callback",
            Detail::ArchHook { .. } => "arch-hook",
            Detail::Api { .. } => "api",
            Detail::Unrelated { .. } => "unrelated",
            Detail::NeedsReview { .. } => "needs-review",
        }
    }
}

/// Every kind, in report order.
pub const KINDS: [&str; 7] = [
    "call",
    "ops-entry",
    "callback",
    "arch-hook",
    "api",
    "unrelated",
    "needs-review",
];

/// The scan of one tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    /// The scanned directory as given.
    pub tree: String,
    pub recipe: String,
    pub sites: Vec<Site>,
    pub summary: Summary,
    /// Calls that return with the page-table lock held, learned from this
    /// tree's own definitions (the recipe lists only the primitives).
    #[serde(default)]
    pub lock_helpers: Vec<LockHelper>,
}

/// A function that returns with the page-table lock held, learned from
/// its definition in the scanned tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHelper {
    pub name: String,
    /// The definition it was learned from.
    pub file: String,
    pub line: usize,
    /// When it returns with the lock held: `always`, `on-zero`,
    /// `on-non-zero`.
    pub held: crate::recipe::Held,
    /// What the locked entry may map: `pte`, `pmd`, `pte-or-pmd`, `unknown`.
    pub extent: crate::recipe::Extent,
    /// Its parameters that name the mm, the address and the page looked
    /// up, when known.
    pub mm_arg: Option<usize>,
    pub address_arg: Option<usize>,
    pub page_arg: Option<usize>,
    /// Why it counts, for a reviewer.
    pub why: String,
}

/// Counts that prove nothing was skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// `*.c`/`*.h` files walked.
    pub files_walked: usize,
    /// Files that contain the needle and were parsed.
    pub candidate_files: usize,
    /// Every textual occurrence of the needle in the walked files.
    pub occurrences: usize,
    /// Sites per kind.
    pub sites: BTreeMap<String, usize>,
    /// Textual occurrences accounted for, per kind; adds up to
    /// `occurrences` (`accounted` says whether it does).
    pub occurrences_by_kind: BTreeMap<String, usize>,
    pub accounted: bool,
    /// Files passed over and why (symlinks, unreadable, too large...).
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

impl ScanReport {
    /// Sites of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Site> + 'a {
        self.sites.iter().filter(move |s| s.detail.kind() == kind)
    }
}
