//! Parsing kernel C with tree-sitter-c.
//!
//! tree-sitter-c knows ISO C, not the kernel's dialect.  The annotations
//! the kernel sprinkles through declarations (`__init`, `__iomem`,
//! `__releases(x)` ...) and the `struct` keyword inside `container_of()`
//! produce ERROR nodes.  We blank them with spaces of the same length
//! before parsing: every byte offset, line and column stays valid against
//! the original text, and function definitions with ERROR nodes drop from
//! about 14% to 2% of the kernel (measured, see shared/docs/rust-notes.md).

use tree_sitter::{Node, Parser, Tree};

/// Annotations that expand to attributes or to nothing.
const BARE_ANNOTATIONS: &[&str] = &[
    "__init",
    "__exit",
    "__initdata",
    "__exitdata",
    "__initconst",
    "__devinit",
    "__devexit",
    "__meminit",
    "__meminitdata",
    "__init_or_module",
    "__iomem",
    "__user",
    "__kernel",
    "__rcu",
    "__percpu",
    "__force",
    "__bitwise",
    "__nocast",
    "__safe",
    "__private",
    "__read_mostly",
    "__ro_after_init",
    "__maybe_unused",
    "__always_unused",
    "__used",
    "__cold",
    "__hot",
    "__ref",
    "__refdata",
    "__visible",
    "__weak",
    "__sched",
    "__kprobes",
    "notrace",
    "asmlinkage",
    "__always_inline",
    "noinline",
    "__must_check",
    "__noreturn",
    "__pure",
    "__flatten",
    "__latent_entropy",
    "__randomize_layout",
    "__packed",
    "__deprecated",
    "__noclone",
    "__irq_entry",
    "__lockfunc",
    "__cacheline_aligned",
    "__cacheline_aligned_in_smp",
    "__page_aligned_bss",
    "__page_aligned_data",
    "__inline__",
    "__inline",
    "__malloc",
];

/// Annotations that take a parenthesised argument list.
const CALL_ANNOTATIONS: &[&str] = &[
    "__releases",
    "__acquires",
    "__must_hold",
    "__aligned",
    "__section",
    "__printf",
    "__scanf",
    "__alloc_size",
];

/// Macros whose arguments name a type with the `struct` keyword, which
/// tree-sitter cannot parse as an expression argument.
const TYPE_ARG_MACROS: &[&str] = &[
    "container_of",
    "list_entry",
    "list_first_entry",
    "list_last_entry",
    "list_first_entry_or_null",
    "hlist_entry",
    "hlist_entry_safe",
    "rb_entry",
    "rb_entry_safe",
    "llist_entry",
    "offsetof",
    "sizeof_field",
    "FIELD_SIZEOF",
];

/// Parses kernel C.  The returned tree's offsets refer to `src` as given.
pub fn parse(src: &[u8]) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("tree-sitter-c grammar matches the tree-sitter runtime");
    let blanked = blank_annotations(src);
    parser
        .parse(&blanked, None)
        .expect("parse without a timeout or cancellation flag always returns a tree")
}

/// Replaces kernel annotations with spaces, keeping every offset.
pub fn blank_annotations(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b'/' if src.get(i + 1) == Some(&b'*') => i = skip_block_comment(src, i),
            b'/' if src.get(i + 1) == Some(&b'/') => i = skip_line(src, i),
            b'"' | b'\'' => i = skip_quoted(src, i),
            c if is_ident_start(c) => {
                let end = ident_end(src, i);
                let word = &src[i..end];
                if BARE_ANNOTATIONS.iter().any(|a| a.as_bytes() == word) {
                    blank(&mut out, i, end);
                } else if CALL_ANNOTATIONS.iter().any(|a| a.as_bytes() == word) {
                    if let Some(close) = balanced_parens_end(src, end) {
                        blank(&mut out, i, close);
                    }
                } else if TYPE_ARG_MACROS.iter().any(|a| a.as_bytes() == word)
                    && let Some(close) = balanced_parens_end(src, end)
                {
                    blank_struct_keywords(src, &mut out, end, close);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

fn blank(out: &mut [u8], from: usize, to: usize) {
    for b in &mut out[from..to] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

fn blank_struct_keywords(src: &[u8], out: &mut [u8], from: usize, to: usize) {
    let mut i = from;
    while i < to {
        if is_ident_start(src[i]) {
            let end = ident_end(src, i);
            let word = &src[i..end];
            if word == b"struct" || word == b"union" {
                blank(out, i, end);
            }
            i = end;
        } else {
            i += 1;
        }
    }
}

/// The end (exclusive) of a `( ... )` group starting at or after `from`
/// (only white space may come before it).
fn balanced_parens_end(src: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < src.len() && (src[i] == b' ' || src[i] == b'\t') {
        i += 1;
    }
    if src.get(i) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    while i < src.len() {
        match src[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' | b'\'' => {
                i = skip_quoted(src, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_block_comment(src: &[u8], i: usize) -> usize {
    memchr::memmem::find(&src[i + 2..], b"*/").map_or(src.len(), |p| i + 2 + p + 2)
}

fn skip_line(src: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &src[i..]).map_or(src.len(), |p| i + p + 1)
}

fn skip_quoted(src: &[u8], i: usize) -> usize {
    let quote = src[i];
    let mut j = i + 1;
    while j < src.len() {
        match src[j] {
            b'\\' => j += 2,
            b'\n' => return j + 1,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    src.len()
}

pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub fn ident_end(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && is_ident_byte(src[i]) {
        i += 1;
    }
    i
}

/// The whole identifier around the byte range `[start, end)`.
pub fn identifier_around(src: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut s = start;
    while s > 0 && is_ident_byte(src[s - 1]) {
        s -= 1;
    }
    (s, ident_end(src, end))
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

/// Whether a node or anything inside it failed to parse.
pub fn has_error(node: Node) -> bool {
    node.has_error() && contains_error_node(node)
}

/// `has_error()` is also true for MISSING nodes, which the kernel's
/// iterator macros (`list_for_each_entry(...) {`) produce harmlessly.
/// Only real ERROR nodes count.
fn contains_error_node(node: Node) -> bool {
    if node.is_error() {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .any(|c| c.has_error() && contains_error_node(c))
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
    fn blanking_keeps_offsets_and_removes_annotations() {
        let src = b"static void __init f(void __iomem *p) __releases(x) { /* __init */ }";
        let out = blank_annotations(src);
        assert_eq!(out.len(), src.len());
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("__iomem") && !s.contains("__releases"));
        assert!(s.contains("/* __init */"), "comments stay: {s}");
    }

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
