//! Syntax-tree helpers for the rewrite: statements, blocks, jumps.

use tree_sitter::Node;

use crate::scan::kernel_c::text;

/// Kinds whose children are statements.
const STATEMENT_PARENTS: &[&str] = &[
    "compound_statement",
    "if_statement",
    "else_clause",
    "while_statement",
    "for_statement",
    "do_statement",
    "labeled_statement",
    "case_statement",
    "preproc_ifdef",
    "preproc_if",
    "preproc_else",
    "preproc_elif",
    "translation_unit",
];

/// The statement that contains `node` (a call in an `if` condition
/// belongs to the whole `if`).
pub fn statement_of(node: Node) -> Node {
    let mut n = node;
    while let Some(p) = n.parent() {
        let is_condition = p
            .child_by_field_name("condition")
            .is_some_and(|c| c.id() == n.id());
        if STATEMENT_PARENTS.contains(&p.kind()) && !is_condition {
            return n;
        }
        n = p;
    }
    n
}

/// The compound statement directly holding `stmt`, looking through
/// `#ifdef` blocks and labels.
pub fn block_of(stmt: Node) -> Option<Node> {
    let mut n = stmt.parent()?;
    loop {
        match n.kind() {
            "compound_statement" => return Some(n),
            "preproc_ifdef" | "preproc_if" | "preproc_else" | "preproc_elif"
            | "labeled_statement" => n = n.parent()?,
            _ => return None,
        }
    }
}

/// Named children of a block, comments left out.
pub fn statements(block: Node) -> Vec<Node> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .filter(|c| c.kind() != "comment")
        .collect()
}

/// The declarations that open a block.
pub fn leading_declarations(block: Node) -> Vec<Node> {
    statements(block)
        .into_iter()
        .take_while(|s| s.kind() == "declaration")
        .collect()
}

pub fn is_jump(node: Node) -> bool {
    matches!(
        node.kind(),
        "return_statement" | "break_statement" | "continue_statement" | "goto_statement"
    )
}

/// Every node of `kind` inside `node` (itself included), in source order.
pub fn descendants<'t>(node: Node<'t>, kinds: &[&str]) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if kinds.contains(&n.kind()) {
            out.push(n);
        }
        let mut cursor = n.walk();
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// Whether `inner` lies within `outer` (or is it).
pub fn contains(outer: Node, inner: Node) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

/// The loop (or, for `break`, switch) a `break`/`continue` leaves.
pub fn jump_target(jump: Node) -> Option<Node> {
    let loops = ["while_statement", "for_statement", "do_statement"];
    let mut n = jump.parent();
    while let Some(p) = n {
        if loops.contains(&p.kind())
            || (jump.kind() == "break_statement" && p.kind() == "switch_statement")
        {
            return Some(p);
        }
        if p.kind() == "function_definition" {
            return None;
        }
        n = p.parent();
    }
    None
}

/// The label a `goto` jumps to.
pub fn goto_label(jump: Node, src: &[u8]) -> Option<String> {
    jump.child_by_field_name("label")
        .map(|l| text(l, src).into_owned())
}

/// Every identifier text used in a node.
pub fn identifiers(node: Node, src: &[u8]) -> std::collections::HashSet<String> {
    descendants(node, &["identifier", "field_identifier"])
        .into_iter()
        .map(|n| text(n, src).into_owned())
        .collect()
}

/// The parameter declarations of a function definition or declaration.
pub fn param_decls(def: Node) -> Vec<Node> {
    descendants(
        def.child_by_field_name("declarator").unwrap_or(def),
        &["parameter_declaration"],
    )
}

/// The names of a function's parameters, in order.
pub fn param_names(def: Node, src: &[u8]) -> Vec<String> {
    param_decls(def)
        .into_iter()
        .filter_map(|p| p.child_by_field_name("declarator"))
        .filter_map(|d| {
            crate::scan::kernel_c::declarator_name_of(d).map(|n| text(n, src).into_owned())
        })
        .collect()
}
