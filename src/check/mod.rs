//! `kseries check`: a linter for mmu_notifier semantics.
//!
//! It reads any tree (before the migration, after it, or new code) and
//! reports, like a compiler, what breaks the rules of the notifier API:
//!
//! - E1: a use of the removed API (call, ops entry, arch hook), from
//!   [`crate::scan::scan`];
//! - E2: a `range_start` without its `range_end` on some path out of the
//!   function, or an `end` without a `start` ([`pairing`]);
//! - E3: `invalidate_range()` used in place of the start/end bracket
//!   ([`range_only`]);
//! - E4: a page count used as a byte length ([`page_count`]);
//! - E5: a huge-page range whose start is not aligned ([`align`]);
//! - E6: a half-converted tree: a call or callback of the other generation
//!   of the bracket API than the tree's header ([`generation`]);
//! - W1: a callback that runs under the page-table lock and can sleep
//!   ([`sleep`]);
//! - W2: an accessed-bit test through the notifiers inside an open bracket
//!   of the same mm ([`pairing`]).
//!
//! Only files containing one of the recipe's check needles are parsed
//! (a byte prefilter, like `scan`), so the whole kernel takes seconds.
//! The bracket API is learned from the tree's own header ([`api`]), and
//! what a function does with brackets is summarised for its callers, in
//! its file and, for non-static functions, tree-wide ([`pairing`]).

mod align;
pub(crate) mod api;
mod generation;
mod index;
mod page_count;
mod pairing;
mod range_only;
mod render;
pub mod sarif;
mod sleep;
mod walk;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::recipe::{ApiFate, Recipe};
use crate::scan::{Detail, ScanError};
pub use render::render_text;

/// How bad a finding is.  Errors make `kseries check` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// The rules, with a one-line description each (for `--format sarif`).
pub const RULES: &[(&str, &str)] = &[
    (
        "E1",
        "use of the recipe's removed API (call, ops entry, arch hook)",
    ),
    (
        "E2",
        "an invalidation bracket's start without its end on some path (or an end without a start)",
    ),
    (
        "E3",
        "the atomic range invalidation used in place of the start/end bracket",
    ),
    ("E4", "a page count used as a byte length or address offset"),
    (
        "E5",
        "a huge-page range whose start is not aligned to its size",
    ),
    (
        "E6",
        "a half-converted tree: a bracket call, range init or ops range callback of the other generation than the tree's notifier header (bounds or range structure)",
    ),
    (
        "W1",
        "a callback that runs under the page-table lock can sleep",
    ),
    (
        "W2",
        "an accessed-bit test through the notifiers inside an open invalidation bracket of the same mm",
    ),
    (
        "N1",
        "code kseries could not check or decide (a file over the parse limit, a use hidden in a macro): review it by hand",
    ),
];

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// `E1` ... `E5`, `W1`, `W2`.
    pub code: String,
    pub severity: Severity,
    /// Path relative to the checked tree, with `/` separators.
    pub file: String,
    /// 1-based; the column counts bytes.
    pub line: usize,
    pub column: usize,
    /// The enclosing function, if any.
    pub function: Option<String>,
    pub message: String,
}

/// Counts, for the summary line and for scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub files_walked: usize,
    /// Files that contained a check needle and were parsed.
    pub files_parsed: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    /// Findings about code kseries could not decide (among the above):
    /// what `scan` reports as needs-review, files too large to parse.
    #[serde(default)]
    pub undecided: usize,
}

/// What `check` found, sorted by file, line, column and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub tree: String,
    pub recipe: String,
    pub diagnostics: Vec<Diagnostic>,
    pub summary: CheckSummary,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        self.summary.errors > 0
    }
}

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// A parsed candidate file, shared by the rules.
pub(crate) struct Source {
    pub rel: String,
    pub src: Vec<u8>,
    pub tree: crate::scan::kernel_c::Parsed,
}

impl Source {
    pub(crate) fn parse(rel: String, src: Vec<u8>) -> Source {
        let tree = crate::scan::kernel_c::parse(&src);
        Source { rel, src, tree }
    }
}

/// What the rules share across the checked files.
pub(crate) struct Ctx<'a> {
    pub recipe: &'a Recipe,
    pub sources: &'a [Source],
    pub api: api::BracketApi,
    /// Bracket summaries of non-static functions, tree-wide.
    pub summaries: HashMap<String, pairing::Summary>,
    /// Non-static function definitions: name -> (source, byte range).
    pub functions: HashMap<String, Vec<(usize, usize, usize)>>,
}

impl<'a> Ctx<'a> {
    fn new(recipe: &'a Recipe, sources: &'a [Source]) -> Ctx<'a> {
        let api = api::BracketApi::learn(sources, &recipe.check);
        let summaries = pairing::global_summaries(sources, &recipe.check, &api);
        let functions = index::global_functions(sources);
        Ctx {
            recipe,
            sources,
            api,
            summaries,
            functions,
        }
    }
}

/// Checks the tree at `root` against `recipe`'s notifier semantics.
pub fn check(root: &Path, recipe: &Recipe) -> Result<CheckReport, CheckError> {
    // The scan (for E1) and the check's own prefilter walk both read the
    // tree: run them side by side.
    let (scanned, walked) = rayon::join(
        || crate::scan::scan(root, recipe),
        || walk::walk(root, recipe.check.needles),
    );
    let scanned = scanned?;
    // A reshaped API's uses are not errors: their form is (E6).
    let mut diagnostics = match recipe.api_fate {
        ApiFate::Removed => e1(&scanned, recipe),
        ApiFate::Reshaped => Vec::new(),
    };
    let walked = walked?;
    let mut undecided = undecided_uses(root, &scanned, recipe);
    undecided.extend(walked.too_large.iter().map(|rel| too_large(rel)));
    let undecided_count = undecided.len();
    diagnostics.extend(undecided);
    let files_parsed = walked.candidates.len();
    let sources: Vec<Source> = walked
        .candidates
        .into_par_iter()
        .map(|(rel, src)| Source::parse(rel, src))
        .collect();
    diagnostics.extend(check_parsed(&sources, recipe));
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.code).cmp(&(&b.file, b.line, b.column, &b.code))
    });
    diagnostics.dedup();
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let summary = CheckSummary {
        files_walked: walked.files_walked,
        files_parsed,
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        notes: count(Severity::Note),
        undecided: undecided_count,
    };
    Ok(CheckReport {
        tree: root.display().to_string(),
        recipe: recipe.id.to_string(),
        diagnostics,
        summary,
    })
}

/// E2 to W2 on parsed files, sorted.
fn check_parsed(sources: &[Source], recipe: &Recipe) -> Vec<Diagnostic> {
    let ctx = Ctx::new(recipe, sources);
    let mut out: Vec<Diagnostic> = (0..sources.len())
        .into_par_iter()
        .flat_map_iter(|i| check_file(&sources[i], &ctx))
        .collect();
    out.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.code).cmp(&(&b.file, b.line, b.column, &b.code))
    });
    out.dedup();
    out
}

/// E2 to W2 on one file's text, without a tree: for a rewrite to lint
/// what it is about to write.  `rel` names the file in the diagnostics.
/// (E1 needs the whole tree's scan and is not run; the bracket API is the
/// recipe's.)
pub fn check_source(rel: &str, src: &[u8], recipe: &Recipe) -> Vec<Diagnostic> {
    check_sources(&[(rel.to_string(), src.to_vec())], recipe)
}

/// E2 to W2 on a set of files taken together (paths relative to the
/// tree's root): calls are followed from one into another, and the
/// bracket API is learned from the recipe's header when it is among them.
pub fn check_sources(files: &[(String, Vec<u8>)], recipe: &Recipe) -> Vec<Diagnostic> {
    let sources: Vec<Source> = files
        .iter()
        .map(|(rel, src)| Source::parse(rel.clone(), src.clone()))
        .collect();
    check_parsed(&sources, recipe)
}

/// Whether the function `name`, defined in one of `files`, can sleep
/// (following calls into functions defined in them): the chain that
/// shows it, as W1 would print it.
pub fn sleep_chain(files: &[(String, Vec<u8>)], recipe: &Recipe, name: &str) -> Option<String> {
    let sources: Vec<Source> = files
        .iter()
        .map(|(rel, src)| Source::parse(rel.clone(), src.clone()))
        .collect();
    let ctx = Ctx {
        recipe,
        sources: &sources,
        api: api::BracketApi::fallback(&recipe.check),
        summaries: HashMap::new(),
        functions: index::global_functions(&sources),
    };
    sleep::chain_of(&ctx, name)
}

/// E2 to W2 on one parsed file.
fn check_file(file: &Source, ctx: &Ctx) -> Vec<Diagnostic> {
    let idx = index::FileIndex::new(file);
    let rules = &ctx.recipe.check;
    let mut out = Vec::new();
    out.extend(pairing::check(file, &idx, rules, &ctx.api, &ctx.summaries));
    out.extend(range_only::check(file, &idx, rules, &ctx.api));
    out.extend(page_count::check(file, &idx, rules, &ctx.api));
    out.extend(align::check(file, &idx, rules, &ctx.api));
    out.extend(sleep::check(file, &idx, ctx));
    out.extend(generation::check(file, &idx, ctx));
    out
}

/// E1 from the scan's sites.  Calls, ops entries and every arch-hook site
/// (declaration, definition, call) are errors: each must go or be
/// converted.  The API's own definition is the API, not a use of it: it is
/// reported as a note, so that a tree that still carries the dead API after
/// its last user is gone does not fail, but a reviewer sees it.
fn e1(scanned: &crate::scan::ScanReport, recipe: &Recipe) -> Vec<Diagnostic> {
    let (start, end) = (recipe.check.range_start, recipe.check.range_end);
    let (member, ops) = (recipe.ops_member, recipe.ops_struct);
    scanned
        .sites
        .iter()
        .filter_map(|s| {
            let (severity, message) = match &s.detail {
                Detail::Call { callee, .. } => (
                    Severity::Error,
                    format!(
                        "call of the removed `{callee}()`: bracket the change with `{start}()`/`{end}()`"
                    ),
                ),
                Detail::OpsEntry { callback, .. } => (
                    Severity::Error,
                    format!(
                        "`.{member} = {callback}` in struct {ops}: the callback is never called once the API is gone"
                    ),
                ),
                Detail::ArchHook { name, role, .. } => (
                    Severity::Error,
                    format!("{} of the removed arch hook `{name}`", hook_role(*role)),
                ),
                Detail::Api { name, .. } => (
                    Severity::Note,
                    format!("the removed API itself (`{name}`): it goes last, with its stub"),
                ),
                _ => return None,
            };
            Some(Diagnostic {
                code: "E1".into(),
                severity,
                file: s.file.clone(),
                line: s.line,
                column: s.column,
                function: s.function.clone(),
                message,
            })
        })
        .collect()
}

/// What `scan` could not decide is a finding too: nothing the linter
/// cannot see passes silently.  An occurrence that names an API function
/// or arch hook (or a site scan tied to the API without naming it, such as
/// the use of a macro that calls it) is a use of the removed API: an E1
/// error.  Any other undecided occurrence (a member or identifier that
/// may belong to another API) is an N1 note.
fn undecided_uses(
    root: &Path,
    scanned: &crate::scan::ScanReport,
    recipe: &Recipe,
) -> Vec<Diagnostic> {
    let mut files: std::collections::HashMap<&str, Option<Vec<u8>>> = Default::default();
    let mut out = Vec::new();
    for s in &scanned.sites {
        let Detail::NeedsReview { reason, .. } = &s.detail else {
            continue;
        };
        let src = files
            .entry(s.file.as_str())
            .or_insert_with(|| std::fs::read(root.join(&s.file)).ok());
        let name = src
            .as_deref()
            .and_then(|src| identifier_at(src, s.line, s.column));
        let api_use = name.as_deref().is_none_or(|n| {
            recipe.is_api_function(n) || recipe.is_arch_hook(n) || !n.contains(recipe.needle)
        });
        let (code, severity, what) = if api_use {
            ("E1", Severity::Error, "use of the removed API")
        } else {
            ("N1", Severity::Note, "occurrence")
        };
        let named = name.map(|n| format!(" `{n}`")).unwrap_or_default();
        out.push(Diagnostic {
            code: code.into(),
            severity,
            file: s.file.clone(),
            line: s.line,
            column: s.column,
            function: s.function.clone(),
            message: format!(
                "{what}{named} that kseries cannot decide: {reason}; review it by hand"
            ),
        });
    }
    out
}

/// The identifier at 1-based `line` and byte `column` of `src`.
fn identifier_at(src: &[u8], line: usize, column: usize) -> Option<String> {
    let line_start = if line <= 1 {
        0
    } else {
        memchr::memchr_iter(b'\n', src).nth(line - 2)? + 1
    };
    let at = line_start + column.checked_sub(1)?;
    if at >= src.len() || !crate::scan::kernel_c::is_ident_byte(src[at]) {
        return None;
    }
    let (start, end) = crate::scan::kernel_c::identifier_around(src, at, at);
    Some(String::from_utf8_lossy(&src[start..end]).into_owned())
}

/// A file the check rules could not read: too large to parse.
fn too_large(rel: &str) -> Diagnostic {
    Diagnostic {
        code: "N1".into(),
        severity: Severity::Note,
        file: rel.to_string(),
        line: 1,
        column: 1,
        function: None,
        message: format!(
            "not checked: the file is larger than the parse limit ({} MiB) and uses the notifier API; review it by hand",
            crate::scan::walk::MAX_PARSE_BYTES >> 20
        ),
    }
}

fn hook_role(role: crate::scan::HookRole) -> &'static str {
    match role {
        crate::scan::HookRole::Declaration => "declaration",
        crate::scan::HookRole::Definition => "definition",
        crate::scan::HookRole::Call => "call",
    }
}

/// A diagnostic at `node` in `file`.
pub(crate) fn diag(
    file: &Source,
    node: tree_sitter::Node,
    code: &str,
    severity: Severity,
    message: String,
) -> Diagnostic {
    let p = node.start_position();
    Diagnostic {
        code: code.into(),
        severity,
        file: file.rel.clone(),
        line: p.row + 1,
        column: p.column + 1,
        function: crate::scan::kernel_c::enclosing_function(node)
            .or_else(|| (node.kind() == "function_definition").then_some(node))
            .and_then(|f| crate::scan::kernel_c::function_name(f, &file.src)),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(src: &str) -> Vec<(String, usize)> {
        let recipe = crate::recipe::invalidate_page::recipe();
        check_source("t.c", src.as_bytes(), &recipe)
            .into_iter()
            .map(|d| (d.code, d.line))
            .collect()
    }

    #[test]
    fn a_retry_loop_and_a_nested_error_label_pair_up() {
        let src = "int f(struct mm_struct *mm, unsigned long s, unsigned long e)\n\
                   {\n\
                   \tint err;\n\
                   again:\n\
                   \tmmu_notifier_invalidate_range_start(mm, s, e);\n\
                   \terr = g(mm);\n\
                   \tif (err == -EAGAIN) {\n\
                   \t\tmmu_notifier_invalidate_range_end(mm, s, e);\n\
                   \t\tgoto again;\n\
                   \t}\n\
                   \tif (err)\n\
                   \t\tgoto out;\n\
                   \th(mm);\n\
                   out:\n\
                   \tmmu_notifier_invalidate_range_end(mm, s, e);\n\
                   \treturn err;\n\
                   }\n";
        assert_eq!(codes(src), vec![]);
    }

    #[test]
    fn a_return_inside_a_switch_leaks() {
        let src = "int f(struct mm_struct *mm, unsigned long s, unsigned long e, int m)\n\
                   {\n\
                   \tmmu_notifier_invalidate_range_start(mm, s, e);\n\
                   \tswitch (m) {\n\
                   \tcase 1:\n\
                   \t\treturn -EINVAL;\n\
                   \tdefault:\n\
                   \t\tbreak;\n\
                   \t}\n\
                   \tmmu_notifier_invalidate_range_end(mm, s, e);\n\
                   \treturn 0;\n\
                   }\n";
        assert_eq!(codes(src), vec![("E2".to_string(), 6)]);
    }

    #[test]
    fn ifdef_alternatives_are_both_paths() {
        let src = "void f(struct mm_struct *mm, unsigned long s, unsigned long e)\n\
                   {\n\
                   \tmmu_notifier_invalidate_range_start(mm, s, e);\n\
                   #ifdef CONFIG_FOO\n\
                   \tmmu_notifier_invalidate_range_end(mm, s, e);\n\
                   #else\n\
                   \tg(mm);\n\
                   #endif\n\
                   }\n";
        assert_eq!(codes(src), vec![("E2".to_string(), 3)]);
    }

    #[test]
    fn without_a_header_the_structure_form_pairs_by_its_range() {
        // A single file (a rewrite linting its own output): the recipe's
        // init positions give the bounds; the range variable pairs.
        let src = "void f(struct vm_area_struct *vma, unsigned long a)\n\
                   {\n\
                   \tstruct mmu_notifier_range range, *r = &range;\n\
                   \tmmu_notifier_range_init(&range, vma->vm_mm, a, a + HPAGE_PMD_NR);\n\
                   \tmmu_notifier_invalidate_range_start(&range);\n\
                   \tg(vma);\n\
                   \tmmu_notifier_invalidate_range_end(&(range));\n\
                   \tmmu_notifier_invalidate_range_start(r);\n\
                   \tif (h(vma))\n\
                   \t\treturn;\n\
                   \tmmu_notifier_invalidate_range_end(r);\n\
                   }\n";
        assert_eq!(
            codes(src),
            vec![("E4".to_string(), 4), ("E2".to_string(), 10)]
        );
    }

    #[test]
    fn sleeping_rules_come_from_the_recipe() {
        let r = crate::recipe::invalidate_page::recipe();
        assert!(r.check.is_sleeping_call("mutex_lock_nested"));
        assert!(r.check.is_sleeping_call("wait_event_timeout"));
        assert!(!r.check.is_sleeping_call("down_read_trylock"));
        assert!(!r.check.is_sleeping_call("spin_lock"));
        assert!(r.check.is_address_name("haddr"));
        assert!(r.check.is_address_name("mmun_start"));
        assert!(!r.check.is_address_name("end_pfn"));
        assert!(!r.check.is_address_name("nr_pages"));
    }
}
