//! E3: `mmu_notifier_invalidate_range()` in place of the start/end bracket
//! (the first bug of the reverted 2017 series): for a notifier
//! that implements only `invalidate_range_start`/`_end`, like KVM, a lone
//! `invalidate_range()` is a no-op.
//!
//! A call is fine when a `range_start` runs before it in its function, or
//! in every caller that reaches it.  Callers are followed up through
//! static functions of the same file.  A function whose address is taken
//! (`rwc.rmap_one = fn`) is called by a generic walker that brackets
//! nothing, so that chain ends unbracketed.  A non-static function can be
//! called from anywhere: that chain is unresolved, and the finding is only
//! a note (mm/memory.c's TLB-flush helpers are bracketed far up).  An error
//! needs the page-table change to be visible in the function itself.

use std::collections::HashSet;

use tree_sitter::Node;

use super::api::{BracketApi, Role};
use super::index::FileIndex;
use super::{Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{call_args, callee_name, calls_in, function_name};

pub fn check(
    file: &Source,
    idx: &FileIndex,
    rules: &CheckRules,
    api: &BracketApi,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (call, func) in idx.callers(rules.range_only) {
        let Some(func) = func else { continue };
        if started_before(func, call.start_byte(), &file.src, api) {
            continue;
        }
        let Some(fname) = function_name(func, &file.src) else {
            continue;
        };
        let mut walk = CallerWalk {
            file,
            idx,
            api,
            visited: HashSet::new(),
            unbracketed: Vec::new(),
            unresolved: Vec::new(),
        };
        walk.visit(&fname, func);
        if walk.unbracketed.is_empty() && walk.unresolved.is_empty() {
            continue;
        }
        let args = call_args(call, &file.src).join(", ");
        let what = format!("`{}({args})`", rules.range_only);
        let change = pte_change_before(func, call.start_byte(), &file.src, rules);
        let d = match (&change, walk.unresolved.is_empty()) {
            (Some((name, line)), true) => diag(
                file,
                call,
                "E3",
                Severity::Error,
                format!(
                    "{what} after the page-table change `{name}()` at line {line} with no \
                     {}/{} bracket here or in any caller ({}): `{}()` does not \
                     replace the bracket, and a notifier that implements only the bracket's \
                     callbacks never hears of this change",
                    rules.range_start,
                    rules.range_end,
                    walk.unbracketed.join("; "),
                    rules.range_only
                ),
            ),
            _ => {
                let mut why: Vec<String> = walk.unresolved.clone();
                why.extend(walk.unbracketed.iter().cloned());
                diag(
                    file,
                    call,
                    "E3",
                    Severity::Note,
                    format!(
                        "{what} with no {} before it in `{fname}`; the bracket may sit in a \
                         caller that is not resolved here ({}): check it by hand",
                        rules.range_start,
                        why.join("; ")
                    ),
                )
            }
        };
        out.push(d);
    }
    out
}

struct CallerWalk<'a, 'f> {
    file: &'f Source,
    idx: &'f FileIndex<'a>,
    api: &'f BracketApi,
    visited: HashSet<String>,
    /// Chains that end with no bracket, described.
    unbracketed: Vec<String>,
    /// Chains we cannot follow, described.
    unresolved: Vec<String>,
}

impl CallerWalk<'_, '_> {
    fn visit(&mut self, name: &str, func: Node) {
        if !self.visited.insert(name.to_string()) {
            return; // recursion: the other entries decide
        }
        let src = &self.file.src;
        if !self.idx.is_static(func, src) {
            self.unresolved.push(format!(
                "`{name}` is not static: its callers may be in other files"
            ));
            return;
        }
        if let Some(uses) = self.idx.address_taken.get(name) {
            let line = uses[0].start_position().row + 1;
            self.unbracketed.push(format!(
                "`{name}` is called through a function pointer taken at line {line}"
            ));
        }
        let callers = self.idx.callers(name);
        if callers.is_empty() && !self.idx.address_taken.contains_key(name) {
            self.unresolved
                .push(format!("no caller of `{name}` is found in this file"));
        }
        for (call, caller) in callers {
            let Some(caller) = caller else { continue };
            if started_before(caller, call.start_byte(), src, self.api) {
                continue;
            }
            let Some(cname) = function_name(caller, src) else {
                continue;
            };
            let line = call.start_position().row + 1;
            if self.visited.contains(&cname) {
                continue;
            }
            let before = self.unbracketed.len() + self.unresolved.len();
            self.visit(&cname, caller);
            if self.unbracketed.len() + self.unresolved.len() > before {
                self.unbracketed.push(format!(
                    "`{cname}` calls `{name}` at line {line} unbracketed"
                ));
            }
        }
    }
}

/// Whether `func` calls a bracket start before byte `at`.
fn started_before(func: Node, at: usize, src: &[u8], api: &BracketApi) -> bool {
    calls_in(func).into_iter().any(|c| {
        c.start_byte() < at
            && callee_name(c, src).is_some_and(|n| matches!(api.role(&n), Some(Role::Start { .. })))
    })
}

/// The first page-table change in `func` before byte `at`.
fn pte_change_before(
    func: Node,
    at: usize,
    src: &[u8],
    rules: &CheckRules,
) -> Option<(String, usize)> {
    calls_in(func).into_iter().find_map(|c| {
        let name = callee_name(c, src)?;
        (c.start_byte() < at && rules.pte_changes.contains(&name.as_str()))
            .then(|| (name, c.start_position().row + 1))
    })
}
