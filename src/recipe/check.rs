//! What `kseries check` needs to know about a notifier API: the bracket
//! calls, what changes a page table, what sleeps, what is a page count and
//! what is a huge-page size.  Names only; the rules live in `src/check/`.

use serde::Serialize;

/// Knowledge for the notifier-semantics linter.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRules {
    /// Files are parsed only when they contain one of these byte strings.
    pub needles: &'static [&'static str],
    /// Opens an invalidation bracket: `(mm, start, end)`.  The fallback
    /// when the tree has no `bracket_header` to learn the API from.
    pub range_start: &'static str,
    /// Closes it, with the same arguments (fallback, like `range_start`).
    pub range_end: &'static str,
    /// The header whose wrappers are the tree's bracket API: a function
    /// defined there that calls a start primitive is a start (one that
    /// returns a value can fail), one that calls an end primitive an end.
    pub bracket_header: &'static str,
    pub start_primitives: &'static [&'static str],
    pub end_primitives: &'static [&'static str],
    /// The structure form of the bracket (Linux 4.20): starts and ends
    /// take a pointer to this structure (its tag), filled by `range_init`.
    pub range: RangeForm,
    /// Accessed-bit tests that ask the secondary MMUs too (W2).  A leading
    /// `*` makes the name a suffix.  The first argument is the mm or the
    /// vma (`vma_mm_field` names the mm inside a vma).
    pub young_calls: &'static [&'static str],
    pub vma_mm_field: &'static str,
    /// `min(a, b)`-like calls whose result is one of their arguments (E5
    /// looks through them); the typed ones take a type first.
    pub clamp_calls: &'static [&'static str],
    pub typed_clamp_calls: &'static [&'static str],
    /// Calls that wrap a condition without changing its truth.
    pub condition_wrappers: &'static [&'static str],
    /// The atomic, inside-the-lock call that does not replace the bracket.
    pub range_only: &'static str,
    /// Calls that change a page-table entry (the page level).
    pub pte_changes: &'static [&'static str],
    /// Members of the ops structure whose callbacks can run under the
    /// page-table lock and therefore must not sleep.
    pub atomic_members: &'static [&'static str],
    /// Calls that may sleep.  A trailing `*` makes the name a prefix.
    pub sleeping_calls: &'static [&'static str],
    /// Calls that look like a sleeping prefix but do not sleep.
    pub non_sleeping_calls: &'static [&'static str],
    /// An argument containing one of these makes a call sleep
    /// (`kmalloc(n, GFP_KERNEL)`).
    pub sleeping_args: &'static [&'static str],
    /// Identifiers that stand for a number of pages (not bytes).
    pub page_count_macros: &'static [&'static str],
    /// Calls that return a number of pages.
    pub page_count_calls: &'static [&'static str],
    /// `1 << x` is a page count when `x` calls one of these or is an
    /// identifier containing one of these words (`order`).
    pub order_calls: &'static [&'static str],
    pub order_words: &'static [&'static str],
    /// Identifier parts that make a variable or field an address.
    pub address_words: &'static [&'static str],
    /// Identifier parts that make it a page index or count instead
    /// (`end_pfn`, `start_idx`), whatever else it says.
    pub non_address_words: &'static [&'static str],
    /// Declared types that make a variable a page index, not an address.
    pub non_address_types: &'static [&'static str],
    /// Calls that take a page frame number: a variable passed to one is a
    /// pfn, not an address.
    pub pfn_calls: &'static [&'static str],
    /// Identifiers that are huge-page sizes in bytes.
    pub huge_sizes: &'static [&'static str],
    /// Calls that return a huge-page size in bytes.
    pub huge_size_calls: &'static [&'static str],
    /// `SMALL << order_call(...)`: a compound page's size in bytes.
    pub base_page_size: &'static str,
    /// Masks that align an address down to a huge-page boundary.
    pub huge_masks: &'static [&'static str],
    /// Calls that return such a mask, or align down.
    pub align_calls: &'static [&'static str],
    /// Assertions that prove a condition (`VM_BUG_ON(addr & ~HPAGE_PMD_MASK)`).
    pub assertions: &'static [&'static str],
}

/// The names of the structure form of the bracket API.  The bracket
/// header's own definition of the init function is learned (which
/// argument is which member); these are the fallbacks.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RangeForm {
    /// The structure's tag (`struct TAG`).
    pub tag: &'static str,
    /// The function that fills a range from its bounds.
    pub init: &'static str,
    /// Its members that hold the mm, the start and the end.
    pub mm_member: &'static str,
    pub start_member: &'static str,
    pub end_member: &'static str,
    /// Where the init takes the range, the mm, the start and the end,
    /// when the tree does not say.
    pub init_args: [usize; 4],
    /// The ops structure and its members whose callbacks take the range
    /// (or the old `(mm, start, end)` parameters).
    pub ops_struct: &'static str,
    pub callbacks: &'static [&'static str],
}

impl CheckRules {
    /// Whether a call of `name` may sleep by its name alone.
    pub fn is_sleeping_call(&self, name: &str) -> bool {
        if self.non_sleeping_calls.contains(&name) {
            return false;
        }
        self.sleeping_calls
            .iter()
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *p == name,
            })
    }

    /// Whether an identifier names an address (`addr`, `haddr`, `start`,
    /// `tlb->end`'s `end`).
    pub fn is_address_name(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        if lower
            .split('_')
            .any(|part| self.non_address_words.iter().any(|w| part.contains(w)))
        {
            return false;
        }
        // `haddr`, `old_addr`, `mmun_start`, `vm_end`: one `_`-separated
        // part is an address word, or ends like `addr`.
        lower
            .split('_')
            .any(|part| part.ends_with("addr") || self.address_words.contains(&part))
    }

    pub fn is_bracket_call(&self, name: &str) -> bool {
        name == self.range_start || name == self.range_end || name == self.range_only
    }

    /// Whether a call of `name` tests an accessed bit through the
    /// notifiers (W2).
    pub fn is_young_call(&self, name: &str) -> bool {
        self.young_calls.iter().any(|p| match p.strip_prefix('*') {
            Some(suffix) => name.ends_with(suffix) && name.len() > suffix.len(),
            None => *p == name,
        })
    }
}
