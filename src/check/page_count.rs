//! E4: a page count used as a byte length (a bug of the reverted 2017
//! series: `address + (1UL << compound_order(page))` is 512, not 2 MiB).
//!
//! Page counts are `1 << compound_order(page)`, `1 << order`,
//! `HPAGE_PMD_NR`, `hpage_nr_pages(page)` (the recipe lists them).  They
//! are correct as counts (`hugetlb_count_sub(1 << compound_order(page),
//! mm)` in mm/rmap.c), so only two flows are flagged: added to (or
//! subtracted from) an address, and passed as the start or end of a
//! notifier range.  A count scaled first (`HPAGE_PMD_NR << PAGE_SHIFT`,
//! `n * PAGE_SIZE`) is a length and is not flagged.

use tree_sitter::Node;

use super::api::BracketApi;
use super::index::FileIndex;
use super::{Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{
    argument_position, call_args, callee_name, calls_in, descendants_of_kind, enclosing_function,
    operator, parent_through_parens_casts, strip_parens_casts, text,
};

pub fn check(
    file: &Source,
    _idx: &FileIndex,
    rules: &CheckRules,
    api: &BracketApi,
) -> Vec<Diagnostic> {
    let src = &file.src;
    let root = file.tree.root_node();
    let mut counts: Vec<Node> = Vec::new();
    for id in descendants_of_kind(root, "identifier") {
        if rules.page_count_macros.contains(&text(id, src).as_ref()) {
            counts.push(id);
        }
    }
    for call in calls_in(root) {
        if callee_name(call, src).is_some_and(|n| rules.page_count_calls.contains(&n.as_str())) {
            counts.push(call);
        }
    }
    for shift in descendants_of_kind(root, "binary_expression") {
        if is_one_shifted_by_order(shift, src, rules) {
            counts.push(shift);
        }
    }
    counts.sort_by_key(|n| n.start_byte());
    counts
        .into_iter()
        .filter_map(|count| {
            let flow = misused(count, src, rules, api)?;
            let what = text(count, src);
            Some(diag(
                file,
                count,
                "E4",
                Severity::Error,
                format!(
                    "`{what}` is a number of pages, not bytes, but it is {flow}: \
                     use `PAGE_SIZE << ...` (or shift the count by PAGE_SHIFT)"
                ),
            ))
        })
        .collect()
}

/// `1 << compound_order(page)`, `1UL << order`.
fn is_one_shifted_by_order(bin: Node, src: &[u8], rules: &CheckRules) -> bool {
    if operator(bin, src).as_deref() != Some("<<") {
        return false;
    }
    let (Some(left), Some(right)) = (
        bin.child_by_field_name("left"),
        bin.child_by_field_name("right"),
    ) else {
        return false;
    };
    let left = strip_parens_casts(left);
    if left.kind() != "number_literal" || !is_one(&text(left, src)) {
        return false;
    }
    let calls_order = calls_in(right)
        .into_iter()
        .any(|c| callee_name(c, src).is_some_and(|n| rules.order_calls.contains(&n.as_str())));
    let names_order = descendants_of_kind(right, "identifier")
        .into_iter()
        .chain(descendants_of_kind(right, "field_identifier"))
        .any(|id| {
            let t = text(id, src).to_ascii_lowercase();
            rules.order_words.iter().any(|w| t.contains(w))
        });
    calls_order || names_order
}

fn is_one(lit: &str) -> bool {
    lit.trim_end_matches(['u', 'U', 'l', 'L']) == "1"
}

/// How a page count flows into a byte quantity, if it does.
fn misused(count: Node, src: &[u8], rules: &CheckRules, api: &BracketApi) -> Option<String> {
    let (parent, child) = parent_through_parens_casts(count)?;
    if let Some(how) = notifier_range_arg(child, src, rules, api) {
        return Some(how);
    }
    let op = operator(parent, src);
    let is_sum = parent.kind() == "binary_expression" && matches!(op.as_deref(), Some("+" | "-"));
    let is_compound =
        parent.kind() == "assignment_expression" && matches!(op.as_deref(), Some("+=" | "-="));
    if !is_sum && !is_compound {
        return None;
    }
    let other = if is_sum {
        let (l, r) = (
            parent.child_by_field_name("left")?,
            parent.child_by_field_name("right")?,
        );
        if l.id() == child.id() { r } else { l }
    } else {
        parent.child_by_field_name("left")?
    };
    if let Some(name) = address_operand(other, src, rules) {
        return Some(format!("added to the address `{name}`"));
    }
    // `x + count` passed straight to a notifier as the range's end.
    let (_, sum) = parent_through_parens_casts(parent)?;
    notifier_range_arg(sum, src, rules, api)
}

/// When `arg` is the start or end argument of a notifier range call, or
/// of the init that fills a range structure.
fn notifier_range_arg(
    arg: Node,
    src: &[u8],
    rules: &CheckRules,
    api: &BracketApi,
) -> Option<String> {
    let (call, pos) = argument_position(arg)?;
    let name = callee_name(call, src)?;
    let (start, end) = if name == api.init.name {
        (api.init.start, api.init.end)
    } else if rules.is_bracket_call(&name) || api.role(&name).is_some() {
        (1, 2)
    } else {
        return None;
    };
    (pos == start || pos == end).then(|| {
        let role = if pos == start { "start" } else { "end" };
        format!("passed as the {role} of `{name}()`")
    })
}

/// The address an operand names: `addr`, `vma->vm_start`, or an address
/// plus something (`(haddr + x)`).
fn address_operand(node: Node, src: &[u8], rules: &CheckRules) -> Option<String> {
    let n = strip_parens_casts(node);
    match n.kind() {
        "identifier" => {
            let t = text(n, src);
            (rules.is_address_name(&t) && !is_page_number(n, &t, src, rules))
                .then(|| t.into_owned())
        }
        "field_expression" => {
            let field = n.child_by_field_name("field")?;
            rules
                .is_address_name(&text(field, src))
                .then(|| text(n, src).into_owned())
        }
        "binary_expression" if matches!(operator(n, src).as_deref(), Some("+" | "-")) => {
            address_operand(n.child_by_field_name("left")?, src, rules)
        }
        _ => None,
    }
}

/// A variable named like an address that is really a page number: declared
/// `pgoff_t` (mm/khugepaged.c's `start`), or passed to `pfn_to_page()`
/// (mm/page_alloc.c's `outer_start`) in the same function.
fn is_page_number(id: Node, name: &str, src: &[u8], rules: &CheckRules) -> bool {
    let Some(func) = enclosing_function(id) else {
        return false;
    };
    let declared_as_index = ["parameter_declaration", "declaration"]
        .iter()
        .flat_map(|k| descendants_of_kind(func, k))
        .filter(|d| declared_names(*d, src).iter().any(|n| n == name))
        .filter_map(|d| d.child_by_field_name("type"))
        .any(|t| rules.non_address_types.contains(&text(t, src).as_ref()));
    let used_as_pfn = calls_in(func).into_iter().any(|c| {
        callee_name(c, src).is_some_and(|n| rules.pfn_calls.contains(&n.as_str()))
            && call_args(c, src).iter().any(|a| a.trim() == name)
    });
    declared_as_index || used_as_pfn
}

/// The names a declaration (or parameter declaration) declares.
fn declared_names(decl: Node, src: &[u8]) -> Vec<String> {
    let mut c = decl.walk();
    decl.children_by_field_name("declarator", &mut c)
        .filter_map(|mut d| {
            while d.kind() != "identifier" {
                d = d
                    .child_by_field_name("declarator")
                    .or_else(|| d.named_child(0))?;
            }
            Some(text(d, src).into_owned())
        })
        .collect()
}
