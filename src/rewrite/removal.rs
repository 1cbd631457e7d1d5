//! Finding declarations by name and removing them cleanly.

use tree_sitter::{Node, Tree};

use super::syntax::descendants;
use super::text::{line_start, removal_range};
use super::workspace::UnitDraft;
use crate::scan::kernel_c::{declarator_name, text};

/// Function definitions named `name`.
pub fn function_definitions<'t>(tree: &'t Tree, src: &[u8], name: &str) -> Vec<Node<'t>> {
    descendants(tree.root_node(), &["function_definition"])
        .into_iter()
        .filter(|f| declarator_name(*f).is_some_and(|n| text(n, src) == name))
        .collect()
}

/// Prototypes (declarations) of the function `name`.
pub fn prototypes<'t>(tree: &'t Tree, src: &[u8], name: &str) -> Vec<Node<'t>> {
    descendants(tree.root_node(), &["declaration"])
        .into_iter()
        .filter(|d| {
            d.child_by_field_name("declarator")
                .is_some_and(|decl| descendants(decl, &["function_declarator"]).len() == 1)
                && declarator_name(*d).is_some_and(|n| text(n, src) == name)
        })
        .collect()
}

/// `EXPORT_SYMBOL*(name);` statements.
pub fn exports<'t>(tree: &'t Tree, src: &[u8], name: &str) -> Vec<Node<'t>> {
    descendants(tree.root_node(), &["expression_statement"])
        .into_iter()
        .filter(|s| {
            let t = text(*s, src);
            t.starts_with("EXPORT_SYMBOL") && t.contains(&format!("({name})"))
        })
        .collect()
}

/// The member declaration `member` of `struct owner`.
pub fn member_declarations<'t>(tree: &'t Tree, src: &[u8], owner: &str, member: &str) -> Vec<Node<'t>> {
    descendants(tree.root_node(), &["struct_specifier"])
        .into_iter()
        .filter(|s| s.child_by_field_name("name").is_some_and(|n| text(n, src) == owner))
        .filter_map(|s| s.child_by_field_name("body"))
        .flat_map(|body| descendants(body, &["field_declaration"]))
        .filter(|f| descendants(*f, &["field_identifier"]).first().is_some_and(|n| text(*n, src) == member))
        .collect()
}

/// Start of the comment block directly above `node` (no blank line in
/// between), or of the node itself.
pub fn with_leading_comment(node: Node, src: &[u8]) -> usize {
    let mut start = node.start_byte();
    let mut prev = node.prev_sibling();
    while let Some(p) = prev.filter(|p| p.kind() == "comment") {
        let gap = line_start(src, start).saturating_sub(p.end_byte());
        if gap > 1 {
            break;
        }
        start = p.start_byte();
        prev = p.prev_sibling();
    }
    start
}

/// Removes `node` (and its leading comment) as whole lines, leaving no
/// double blank line.  Returns the removed line range, 1-based.
pub fn remove(draft: &mut UnitDraft, path: &str, src: &[u8], node: Node) -> (usize, usize) {
    let from = with_leading_comment(node, src);
    let (s, e) = removal_range(src, from, node.end_byte());
    draft.replace(path, s, e, "");
    let first = src[..from].iter().filter(|&&b| b == b'\n').count() + 1;
    (first, node.end_position().row + 1)
}

/// Removes one `.member = value,` pair from an initializer list: its
/// line when it has one of its own, else just the pair and its comma.
pub fn remove_initializer_pair(draft: &mut UnitDraft, path: &str, src: &[u8], pair: Node) {
    let ls = line_start(src, pair.start_byte());
    let only_on_line = src[ls..pair.start_byte()].iter().all(|b| b.is_ascii_whitespace());
    let mut end = pair.end_byte();
    while end < src.len() && (src[end] == b' ' || src[end] == b'\t') {
        end += 1;
    }
    if src.get(end) == Some(&b',') {
        end += 1;
    }
    let rest_of_line_empty = src[end..]
        .iter()
        .take_while(|&&b| b != b'\n')
        .all(|b| b.is_ascii_whitespace());
    if only_on_line && rest_of_line_empty {
        let le = super::text::line_end(src, end.saturating_sub(1).max(pair.start_byte()));
        draft.replace(path, ls, le, "");
    } else if only_on_line {
        // `.a = f};` style: keep what follows on the line.
        let mut e2 = end;
        while e2 < src.len() && (src[e2] == b' ' || src[e2] == b'\t') {
            e2 += 1;
        }
        draft.replace(path, pair.start_byte(), e2, "");
    } else {
        draft.replace(path, pair.start_byte(), end, "");
    }
}
