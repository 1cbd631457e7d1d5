//! Parsing kernel C with tree-sitter-c.
//!
//! tree-sitter-c knows ISO C, not the kernel's dialect.  [`parse`] is the
//! one entry point every stage parses through:
//! - `prep`: what tree-sitter cannot read (annotations such as `__init`
//!   or `__releases(x)`, `struct` inside `container_of()`, the templates
//!   and operands of inline asm) is blanked with spaces of the same length
//!   first, so every byte offset, line and column stays valid against the
//!   original text;
//! - `contain`: an error that still spreads over several top-level
//!   definitions is contained in its own definition, which is parsed
//!   apart (a [`Region`] of the [`Parsed`] file);
//! - [`failure`] names the construct that keeps a definition from
//!   parsing, for the reasons kseries gives a reviewer.
//!
//! The rest are small syntax-tree helpers.

mod contain;
mod dialect;
pub mod failure;
mod prep;

use tree_sitter::Node;

pub use contain::{Parsed, Region, is_damaged};
pub use prep::{ident_end, is_ident_byte, is_ident_start, preprocess};

/// Parses kernel C: preprocessed (offsets kept) and with parse errors
/// contained in their own top-level definition.  Every node's offsets,
/// lines and columns refer to `src` as given.  This is the one entry
/// point every stage parses through, so they all see the same trees.
pub fn parse(src: &[u8]) -> Parsed {
    contain::parse_contained(&preprocess(src))
}

/// The whole identifier around the byte range `[start, end)`.
pub fn identifier_around(src: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut s = start;
    while s > 0 && is_ident_byte(src[s - 1]) {
        s -= 1;
    }
    (s, ident_end(src, end))
}

/// `likely(x)`, `unlikely(x)`: branch hints that mean `x`.
pub fn is_branch_hint(name: &str) -> bool {
    matches!(name, "likely" | "unlikely")
}

/// Source text of a node (lossy for non-UTF-8 bytes).
pub fn text<'a>(node: Node, src: &'a [u8]) -> std::borrow::Cow<'a, str> {
    String::from_utf8_lossy(&src[node.start_byte()..node.end_byte()])
}

/// The name a function definition or declaration declares, looking
/// through pointer and parenthesised declarators.
pub fn declarator_name<'a>(decl: Node<'a>) -> Option<Node<'a>> {
    let mut d = decl.child_by_field_name("declarator")?;
    loop {
        match d.kind() {
            "identifier" | "field_identifier" => return Some(d),
            "function_declarator"
            | "pointer_declarator"
            | "parenthesized_declarator"
            | "array_declarator"
            | "init_declarator"
            | "attributed_declarator" => {
                d = d
                    .child_by_field_name("declarator")
                    .or_else(|| d.named_child(0))?;
            }
            _ => return None,
        }
    }
}

/// The identifier a declarator (of a parameter, a field...) declares.
pub fn declarator_name_of(d: Node) -> Option<Node> {
    let mut d = d;
    loop {
        match d.kind() {
            "identifier" | "field_identifier" => return Some(d),
            _ => d = d.child_by_field_name("declarator")?,
        }
    }
}

/// The innermost function definition around `node`.
pub fn enclosing_function(node: Node) -> Option<Node> {
    let mut n = node.parent();
    while let Some(p) = n {
        if p.kind() == "function_definition" {
            return Some(p);
        }
        n = p.parent();
    }
    None
}

/// Name of a function definition.
pub fn function_name(func: Node, src: &[u8]) -> Option<String> {
    declarator_name(func).map(|n| text(n, src).into_owned())
}

/// Whether a node or anything inside it failed to parse: an ERROR node,
/// or a missing `}` or `)`.  The MISSING `;` that the kernel's iterator
/// macros (`list_for_each_entry(...) {`) produce is harmless.
pub fn has_error(node: Node) -> bool {
    is_damaged(node)
}

/// Whether `node` sits inside an ERROR node.
pub fn inside_error(node: Node) -> bool {
    let mut n = Some(node);
    while let Some(p) = n {
        if p.is_error() {
            return true;
        }
        n = p.parent();
    }
    false
}

/// Every call expression inside `node`, in source order.
pub fn calls_in(node: Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "call_expression" {
            out.push(n);
        }
        let mut cursor = n.walk();
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// The called function's name, for direct calls.
pub fn callee_name(call: Node, src: &[u8]) -> Option<String> {
    let f = call.child_by_field_name("function")?;
    (f.kind() == "identifier").then(|| text(f, src).into_owned())
}

/// The argument texts of a call.
pub fn call_args(call: Node, src: &[u8]) -> Vec<String> {
    let Some(args) = call.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut cursor = args.walk();
    args.named_children(&mut cursor)
        .filter(|a| a.kind() != "comment")
        .map(|a| text(a, src).into_owned())
        .collect()
}

/// Whether a definition carries a storage class such as `static`.
pub fn has_storage(func: Node, word: &str, src: &[u8]) -> bool {
    let mut cursor = func.walk();
    func.children(&mut cursor)
        .any(|c| c.kind() == "storage_class_specifier" && text(c, src) == word)
}

/// Whether a function definition is `static`.
pub fn is_static(func: Node, src: &[u8]) -> bool {
    has_storage(func, "static", src)
}

/// The expression inside any parentheses and casts: `(unsigned long)(x)`
/// is `x`.
pub fn strip_parens_casts(mut node: Node) -> Node {
    loop {
        match node.kind() {
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => node = inner,
                None => return node,
            },
            "cast_expression" => match node.child_by_field_name("value") {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// The nearest ancestor that is not a parenthesis or a cast around `node`,
/// with the child of it that leads to `node`.
pub fn parent_through_parens_casts(node: Node) -> Option<(Node, Node)> {
    let mut child = node;
    let mut p = node.parent()?;
    while matches!(p.kind(), "parenthesized_expression" | "cast_expression") {
        child = p;
        p = p.parent()?;
    }
    Some((p, child))
}

/// The operator of a binary or assignment expression (`+`, `<<`, `+=`).
pub fn operator<'a>(node: Node, src: &'a [u8]) -> Option<std::borrow::Cow<'a, str>> {
    node.child_by_field_name("operator").map(|o| text(o, src))
}

/// Every node of `kind` inside `node` (itself included), in source order.
pub fn descendants_of_kind<'a>(node: Node<'a>, kind: &str) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == kind {
            out.push(n);
        }
        let mut cursor = n.walk();
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// The index of `arg` among its call's arguments, and the call.
pub fn argument_position<'a>(arg: Node<'a>) -> Option<(Node<'a>, usize)> {
    let list = arg.parent().filter(|p| p.kind() == "argument_list")?;
    let call = list.parent().filter(|c| c.kind() == "call_expression")?;
    let mut cursor = list.walk();
    let pos = list
        .named_children(&mut cursor)
        .filter(|a| a.kind() != "comment")
        .position(|a| a.id() == arg.id())?;
    Some((call, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_of_struct_keyword_is_blanked() {
        let src = b"int f(void) { return container_of(p, struct foo, m)->x; }";
        let tree = parse(src);
        assert!(!has_error(tree.root_node()));
    }

    #[test]
    fn missing_nodes_from_iterator_macros_are_not_errors() {
        let src = b"void f(void) { list_for_each_entry(p, h, m) { g(p); } }";
        let tree = parse(src);
        assert!(!has_error(tree.root_node()));
    }
}
