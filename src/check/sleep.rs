//! W1: a callback the core calls under the page-table lock
//! (`invalidate_page`, `invalidate_range`, `change_pte` of a
//! `struct mmu_notifier_ops` initializer) that can sleep: the core holds
//! a spinlock while it walks the page tables, so sleeping there is a bug.
//!
//! The callback's body is searched for a sleeping call (recipe list:
//! `mutex_lock`, `down_read`, `wait_event*`, `GFP_KERNEL` allocations ...),
//! following direct calls of static functions of the same file, and of
//! functions defined once among the checked files (KVM's callback calling
//! an architecture's hook in another file), transitively, each function
//! once.  The first chain found in source order is reported at the ops
//! entry, since that is where the contract is made.  Calls through
//! pointers, and into files that were not checked, are not followed.

use std::collections::HashSet;

use tree_sitter::Node;

use super::index::{FileIndex, definition_at};
use super::{Ctx, Diagnostic, Severity, Source, diag};
use crate::scan::kernel_c::{
    call_args, callee_name, calls_in, descendants_of_kind, strip_parens_casts, text,
};

pub fn check(file: &Source, idx: &FileIndex, ctx: &Ctx) -> Vec<Diagnostic> {
    let recipe = ctx.recipe;
    let mut out = Vec::new();
    let atomic = recipe.check.atomic_members;
    for (member, entry, callback) in ops_entries(file, recipe.ops_struct, atomic) {
        let mut visited = HashSet::new();
        let chain = match idx.functions.get(&callback) {
            Some(func) => sleep_chain(ctx, file, idx, &callback, *func, &mut visited),
            None => elsewhere(ctx, file, &callback, &mut visited),
        };
        let Some(chain) = chain else {
            continue;
        };
        out.push(diag(
            file,
            entry,
            "W1",
            Severity::Warning,
            format!(
                "`.{member} = {callback}` runs under the page-table lock but can sleep: {}",
                chain.join(" -> ")
            ),
        ));
    }
    out
}

/// `(member, entry node, callback name)` for every one of `members` set in
/// an initializer of the ops structure `ops_struct`.
pub(crate) fn ops_entries<'a>(
    file: &'a Source,
    ops_struct: &str,
    members: &[&str],
) -> Vec<(String, Node<'a>, String)> {
    let src = &file.src;
    let mut out = Vec::new();
    for decl in descendants_of_kind(file.tree.root_node(), "declaration") {
        let Some(ty) = decl.child_by_field_name("type") else {
            continue;
        };
        let is_ops = ty.kind() == "struct_specifier"
            && ty
                .child_by_field_name("name")
                .is_some_and(|n| text(n, src) == ops_struct);
        if !is_ops {
            continue;
        }
        for pair in descendants_of_kind(decl, "initializer_pair") {
            let Some(member) = descendants_of_kind(pair, "field_identifier")
                .first()
                .map(|f| text(*f, src).into_owned())
            else {
                continue;
            };
            if !members.contains(&member.as_str()) {
                continue;
            }
            let Some(value) = pair.child_by_field_name("value") else {
                continue;
            };
            let mut v = strip_parens_casts(value);
            if v.kind() == "pointer_expression" {
                v = v.child_by_field_name("argument").unwrap_or(v);
            }
            if v.kind() == "identifier" {
                out.push((member, pair, text(v, src).into_owned()));
            }
        }
    }
    out
}

/// The chain from the function `name` (defined in one of the checked
/// files) to a sleeping call, as W1 prints it.
pub fn chain_of(ctx: &Ctx, name: &str) -> Option<String> {
    let mut visited = HashSet::new();
    ctx.sources.iter().find_map(|source| {
        let idx = FileIndex::new(source);
        let func = idx.functions.get(name)?;
        sleep_chain(ctx, source, &idx, name, *func, &mut visited).map(|c| c.join(" -> "))
    })
}

/// The chain through any definition of `name` in another checked file
/// (an architecture's hook, a `__weak` default and its override alike).
fn elsewhere(
    ctx: &Ctx,
    from: &Source,
    name: &str,
    visited: &mut HashSet<String>,
) -> Option<Vec<String>> {
    for (i, start, end) in ctx.functions.get(name)? {
        let source = &ctx.sources[*i];
        if source.rel == from.rel {
            continue;
        }
        let idx = FileIndex::new(source);
        let Some(func) = definition_at(source, *start, *end) else {
            continue;
        };
        if let Some(mut chain) = sleep_chain(ctx, source, &idx, name, func, visited) {
            chain[0] = format!("{name} ({})", source.rel);
            return Some(chain);
        }
    }
    None
}

/// The first chain from `name` to a sleeping call, as
/// `["foo", "bar", "mutex_lock at line 12"]`.
fn sleep_chain(
    ctx: &Ctx,
    file: &Source,
    idx: &FileIndex,
    name: &str,
    func: Node,
    visited: &mut HashSet<String>,
) -> Option<Vec<String>> {
    if !visited.insert(format!("{}:{name}", file.rel)) {
        return None; // already searched (or a cycle)
    }
    let src = &file.src;
    let rules = &ctx.recipe.check;
    let body = func.child_by_field_name("body")?;
    for call in calls_in(body) {
        let Some(callee) = callee_name(call, src) else {
            continue;
        };
        let line = call.start_position().row + 1;
        if rules.is_sleeping_call(&callee) {
            return Some(vec![name.into(), format!("{callee} at line {line}")]);
        }
        let args = call_args(call, src);
        if let Some(flag) = rules
            .sleeping_args
            .iter()
            .find(|f| args.iter().any(|a| contains_word(a, f)))
        {
            return Some(vec![
                name.into(),
                format!("{callee}({flag}) at line {line}"),
            ]);
        }
        let here = idx
            .functions
            .get(&callee)
            .and_then(|helper| sleep_chain(ctx, file, idx, &callee, *helper, visited));
        let is_static_here = idx
            .functions
            .get(&callee)
            .is_some_and(|h| idx.is_static(*h, src));
        let rest = here.or_else(|| {
            (!is_static_here)
                .then(|| elsewhere(ctx, file, &callee, visited))
                .flatten()
        });
        if let Some(mut rest) = rest {
            rest.insert(0, name.into());
            return Some(rest);
        }
    }
    None
}

/// Whether `word` occurs in `s` as a whole identifier.
fn contains_word(s: &str, word: &str) -> bool {
    s.match_indices(word).any(|(i, _)| {
        let before = s[..i].chars().next_back();
        let after = s[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}
