//! What a callback does, as a set of effects, to compare a page callback
//! with the range callbacks of the same ops.
//!
//! An effect is a call of a function that is not a static helper of the
//! same file (helpers, and static functions passed as arguments, are
//! looked into instead, a few levels deep), a call through a member
//! (`->fn(...)`), or a store to a member (`x->field = ...`, `x->field++`).
//! Local variables and arguments do not count: they die with the call.

use std::collections::BTreeSet;

use tree_sitter::{Node, Tree};

use super::removal::function_definitions;
use super::syntax::descendants;
use crate::scan::kernel_c::{callee_name, is_static, text};

const MAX_DEPTH: usize = 5;

/// One thing a function does, with where it was seen.
#[derive(Debug, Clone)]
pub struct Effect {
    pub key: String,
    pub snippet: String,
    pub line: usize,
}

/// Effects of the function `name` defined in `tree`.  Calls of the
/// functions in `atoms` are effects of their own, not looked into (a page
/// callback that calls the range callback does what that callback does).
pub fn of_function(tree: &Tree, src: &[u8], name: &str, atoms: &[&str]) -> Vec<Effect> {
    let mut seen: BTreeSet<String> = atoms.iter().map(|a| a.to_string()).collect();
    seen.remove(name);
    let mut out = Vec::new();
    collect(tree, src, name, 0, &mut seen, &mut out);
    out
}

fn collect(
    tree: &Tree,
    src: &[u8],
    name: &str,
    depth: usize,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<Effect>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let Some(def) = function_definitions(tree, src, name).into_iter().next() else {
        return;
    };
    let Some(body) = def.child_by_field_name("body") else {
        return;
    };
    let helper = |n: &str| depth < MAX_DEPTH && is_static_helper(tree, src, n);
    for call in descendants(body, &["call_expression"]) {
        let Some(f) = call.child_by_field_name("function") else {
            continue;
        };
        match f.kind() {
            "identifier" => {
                let callee = text(f, src).into_owned();
                if helper(&callee) && !seen.contains(&callee) {
                    collect(tree, src, &callee, depth + 1, seen, out);
                } else {
                    out.push(effect(format!("call:{callee}"), call, src));
                }
            }
            "field_expression" => {
                if let Some(field) = f.child_by_field_name("field") {
                    out.push(effect(format!("call:->{}", text(field, src)), call, src));
                }
            }
            _ => out.push(effect(format!("call:({})", text(f, src)), call, src)),
        }
        // Static functions handed over as callbacks run too.
        if let Some(args) = call.child_by_field_name("arguments") {
            for a in descendants(args, &["identifier"]) {
                let n = text(a, src).into_owned();
                if helper(&n)
                    && !seen.contains(&n)
                    && callee_name(call, src).as_deref() != Some(n.as_str())
                {
                    collect(tree, src, &n, depth + 1, seen, out);
                }
            }
        }
    }
    for w in descendants(body, &["assignment_expression", "update_expression"]) {
        let target = w
            .child_by_field_name("left")
            .or_else(|| w.child_by_field_name("argument"));
        if let Some(t) = target.filter(|t| t.kind() == "field_expression")
            && let Some(field) = t.child_by_field_name("field")
        {
            out.push(effect(format!("write:{}", text(field, src)), w, src));
        }
    }
}

fn effect(key: String, node: Node, src: &[u8]) -> Effect {
    let snippet = text(node, src)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Effect {
        key,
        snippet,
        line: node.start_position().row + 1,
    }
}

fn is_static_helper(tree: &Tree, src: &[u8], name: &str) -> bool {
    function_definitions(tree, src, name)
        .into_iter()
        .any(|f| is_static(f, src))
}

/// Whether `e` is done by one of `others`: the same effect, or its range
/// form (`kvm_unmap_hva` by `kvm_unmap_hva_range`).
pub fn covered_by<'a>(e: &Effect, others: &'a [Effect]) -> Option<&'a Effect> {
    let range_form = format!("{}_range", e.key);
    others
        .iter()
        .find(|o| o.key == e.key || o.key == range_form)
}
