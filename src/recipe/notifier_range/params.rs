//! Turning a function's `(…, mm, start, end)` parameters into one pointer
//! to the range structure: the parameter list, and every read of a
//! parameter in the body, which becomes a read of the structure's member.
//! Shared by the wrappers, the `__` functions, the stubs, the ops members
//! and the callbacks.

use tree_sitter::Node;

use crate::rewrite::syntax::descendants;
use crate::rewrite::text::{display_width, indent_at, line_start};
use crate::rewrite::workspace::UnitDraft;
use crate::scan::kernel_c::{declarator_name_of, text};

/// A parameter list's parameters: `(declaration text, name)`.
pub fn params(list: Node, src: &[u8]) -> Vec<(String, String)> {
    let mut cursor = list.walk();
    list.named_children(&mut cursor)
        .filter(|p| p.kind() == "parameter_declaration")
        .map(|p| {
            let name = p
                .child_by_field_name("declarator")
                .and_then(declarator_name_of)
                .map(|n| text(n, src).into_owned())
                .unwrap_or_default();
            (normalise(&text(p, src)), name)
        })
        .collect()
}

/// The parameter list of a function definition or declaration, or of a
/// function-pointer member.
pub fn param_list(node: Node) -> Option<Node> {
    descendants(node, &["function_declarator"])
        .into_iter()
        .next()
        .and_then(|d| d.child_by_field_name("parameters"))
}

/// White space runs folded to one space.
pub fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(a, b)` replacing `list`, wrapped at 80 columns with continuation
/// lines aligned under the parenthesis, as the kernel writes a signature.
/// A top-level head whose new first line would pass 80 columns where the
/// old one did not is broken after the return type instead.
pub fn replace_list(draft: &mut UnitDraft, path: &str, src: &[u8], list: Node, new: &[String]) {
    let prefix =
        String::from_utf8_lossy(&src[line_start(src, list.start_byte())..list.start_byte()])
            .into_owned();
    let col = display_width(&prefix) + 1;
    let rest = &src[list.end_byte()..crate::rewrite::text::line_end(src, list.end_byte())];
    let tail = display_width(String::from_utf8_lossy(rest).trim_end());
    let fits = |col: usize| col + format!("({})", new.join(", ")).len() + tail <= 81;
    // The first line as it was, up to its first parameter's end.
    let old_first = {
        let mut cursor = list.walk();
        let end = list
            .named_children(&mut cursor)
            .find(|p| p.kind() == "parameter_declaration")
            .map_or(list.end_byte(), |p| p.end_byte());
        let head = &src[line_start(src, list.start_byte())..end];
        display_width(&String::from_utf8_lossy(head)) + 1
    };
    let overflows = if new.len() == 1 {
        !fits(col)
    } else {
        col + new[0].len() + 1 > 80 && old_first <= 80
    };
    let head = line_start(src, list.start_byte());
    let split = prefix
        .rfind(' ')
        .filter(|_| overflows && !prefix.starts_with(char::is_whitespace));
    if let Some(space) = split {
        let name = &prefix[space + 1..];
        let text = list_text(new, display_width(name) + 1, tail, fits);
        draft.replace(
            path,
            head + space,
            list.end_byte(),
            format!("\n{name}{text}"),
        );
        return;
    }
    let text = list_text(new, col, tail, fits);
    draft.replace(path, list.start_byte(), list.end_byte(), text);
}

/// The parameter list `new` opening at column `col` (1-based, after the
/// parenthesis), on one line when it fits, else with continuation lines
/// under the parenthesis; one that would pass 80 columns there is
/// indented with tabs only, as far as fits.
fn list_text(new: &[String], col: usize, tail: usize, fits: impl Fn(usize) -> bool) -> String {
    if fits(col) {
        return format!("({})", new.join(", "));
    }
    let mut out = format!("({}", new[0]);
    for (i, p) in new.iter().enumerate().skip(1) {
        let need = p.len() + 1 + if i + 1 == new.len() { tail } else { 0 };
        let pad = if col + need <= 80 {
            crate::rewrite::text::align_to(col)
        } else {
            "\t".repeat((80usize.saturating_sub(need) / 8).clamp(1, col / 8))
        };
        out.push_str(&format!(",\n{pad}{p}"));
    }
    out + ")"
}

/// What a definition becomes: its first `keep` parameters stay, the
/// parameters named in `tail` stay after `new_param`, the rest become
/// `new_param`, whose members `names` they stand for; calls of an
/// [`InnerCall`] in the body get `(range, …)`.
#[derive(Clone, Copy)]
pub struct Shape<'a> {
    pub keep: usize,
    pub new_param: &'a str,
    pub names: &'a [String],
    pub tail: &'a [String],
    pub inner: &'a [InnerCall<'a>],
}

/// A function that takes the range itself, called in a wrapper's body:
/// its call keeps the arguments at `kept` (the parameters the function
/// keeps after the range) and passes `range` for the others.
#[derive(Clone, Copy)]
pub struct InnerCall<'a> {
    pub name: &'a str,
    pub kept: &'a [usize],
}

/// Why a body cannot be converted.
pub type Refused = String;

/// Rewrites a definition whose parameters from `keep` on, but those named
/// in `tail`, become members of `*range` (`names[i]` is the member the
/// `i`th of them stands for): the parameter list becomes the kept
/// parameters, `new_param` and the tail's, and each read of a dropped
/// parameter `range->member`.  A parameter the body writes or takes the
/// address of gets a local copy instead.  Calls of `inner` (a function
/// that takes the range itself) get `(range, …)`.  Returns the parameters
/// that became local copies.
pub fn convert_definition(
    draft: &mut UnitDraft,
    path: &str,
    src: &[u8],
    def: Node,
    shape: &Shape,
) -> Result<Vec<String>, Refused> {
    let Shape {
        keep,
        new_param,
        names,
        tail,
        inner,
    } = *shape;
    let list = param_list(def).ok_or("no parameter list")?;
    let ps = params(list, src);
    let in_tail = |name: &str| tail.iter().any(|t| t == name);
    let tail_decls: Vec<String> = ps
        .iter()
        .skip(keep)
        .filter(|(_, n)| in_tail(n))
        .map(|(d, _)| d.clone())
        .collect();
    let dropped: Vec<&(String, String)> =
        ps.iter().skip(keep).filter(|(_, n)| !in_tail(n)).collect();
    if ps.len() < keep || dropped.len() > names.len() || tail_decls.len() != tail.len() {
        return Err(format!(
            "takes {} parameters where the API has {}",
            ps.len(),
            keep + names.len() + tail.len()
        ));
    }
    let body = def.child_by_field_name("body").ok_or("no body")?;
    let var = super::RANGE_VAR;
    let used = descendants(body, &["identifier"]);
    if used.iter().any(|i| text(*i, src) == var) {
        return Err(format!("its body already uses the name `{var}`"));
    }
    let mut new: Vec<String> = ps[..keep].iter().map(|(d, _)| d.clone()).collect();
    new.push(new_param.to_string());
    new.extend(tail_decls);
    replace_list(draft, path, src, list, &new);
    let mut copies = Vec::new();
    let mut copied = Vec::new();
    let mut renames: Vec<(Node, String)> = Vec::new();
    let inner_calls: Vec<(Node, &InnerCall)> = descendants(body, &["call_expression"])
        .into_iter()
        .filter_map(|c| {
            let f = c.child_by_field_name("function")?;
            let called = inner.iter().find(|i| i.name == text(f, src).as_ref())?;
            Some((c, called))
        })
        .collect();
    for ((decl, name), member) in dropped.into_iter().zip(names) {
        if name.is_empty() {
            continue;
        }
        if declares(body, src, name) {
            return Err(format!("its body declares its own `{name}`"));
        }
        let reads: Vec<Node> = used
            .iter()
            .copied()
            .filter(|i| text(*i, src) == name.as_str())
            .filter(|i| !inner_calls.iter().any(|(c, _)| contains(*c, *i)))
            .collect();
        if reads.iter().any(|i| is_written(*i, src)) {
            copies.push(format!("{decl} = {var}->{member};"));
            copied.push(name.clone());
            continue;
        }
        for i in reads {
            renames.push((i, format!("{var}->{member}")));
        }
    }
    rename(draft, path, src, &renames);
    for (c, called) in inner_calls {
        let args = c
            .child_by_field_name("arguments")
            .ok_or("call without arguments")?;
        let old = crate::scan::kernel_c::call_args(c, src);
        let mut passed = vec![var.to_string()];
        for &k in called.kept {
            let arg = old
                .get(k)
                .ok_or("a call of the `__` function without its own argument")?;
            passed.push(normalise(arg));
        }
        draft.replace(
            path,
            args.start_byte(),
            args.end_byte(),
            format!("({})", passed.join(", ")),
        );
    }
    if !copies.is_empty() {
        let indent = crate::rewrite::syntax::statements(body)
            .first()
            .map_or("\t".to_string(), |s| indent_at(src, s.start_byte()));
        let text: String = copies.iter().map(|c| format!("{indent}{c}\n")).collect();
        let at = crate::rewrite::text::line_end(src, body.start_byte());
        draft.insert(path, at, text);
    }
    Ok(copied)
}

/// Replaces each identifier with its new text; a call statement on one
/// line that would pass 80 columns is written anew, wrapped.
fn rename(draft: &mut UnitDraft, path: &str, src: &[u8], renames: &[(Node, String)]) {
    let mut rewrapped: Vec<Node> = Vec::new();
    for (id, new) in renames {
        if rewrapped.iter().any(|s| contains(*s, *id)) {
            continue;
        }
        let stmt = one_line_call(*id, src);
        let too_long = stmt.is_some_and(|s| {
            let line = &src[line_start(src, s.start_byte())..s.end_byte()];
            let grown: usize = renames
                .iter()
                .filter(|(i, _)| contains(s, *i))
                .map(|(i, n)| n.len() - (i.end_byte() - i.start_byte()))
                .sum();
            display_width(&String::from_utf8_lossy(line)) + grown > 80
        });
        let Some(stmt) = stmt.filter(|_| too_long) else {
            draft.replace(path, id.start_byte(), id.end_byte(), new.clone());
            continue;
        };
        let call = stmt.named_child(0).unwrap();
        let args: Vec<String> = call
            .child_by_field_name("arguments")
            .map(|a| {
                let mut c = a.walk();
                a.named_children(&mut c)
                    .filter(|n| n.kind() != "comment")
                    .map(|a| renamed(a, src, renames))
                    .collect()
            })
            .unwrap_or_default();
        let callee = call.child_by_field_name("function").unwrap();
        let text = crate::rewrite::text::call_statement(
            &indent_at(src, stmt.start_byte()),
            &renamed(callee, src, renames),
            &args,
        );
        let end = crate::rewrite::text::line_end(src, stmt.end_byte());
        draft.replace(path, line_start(src, stmt.start_byte()), end, text);
        rewrapped.push(stmt);
    }
}

/// The call statement alone on the one line that holds `id`.
fn one_line_call<'t>(id: Node<'t>, src: &[u8]) -> Option<Node<'t>> {
    let mut n = id.parent();
    while let Some(p) = n {
        if p.kind() == "expression_statement" {
            let one_line = p.start_position().row == p.end_position().row;
            let alone = src[line_start(src, p.start_byte())..p.start_byte()]
                .iter()
                .all(u8::is_ascii_whitespace)
                && src[p.end_byte()..crate::rewrite::text::line_end(src, p.end_byte())]
                    .iter()
                    .all(u8::is_ascii_whitespace);
            let call = p
                .named_child(0)
                .is_some_and(|c| c.kind() == "call_expression");
            return (one_line && alone && call).then_some(p);
        }
        n = p.parent();
    }
    None
}

/// The text of `node` with the renames inside it applied.
fn renamed(node: Node, src: &[u8], renames: &[(Node, String)]) -> String {
    let mut inside: Vec<&(Node, String)> =
        renames.iter().filter(|(i, _)| contains(node, *i)).collect();
    inside.sort_by_key(|(i, _)| i.start_byte());
    let mut out = String::new();
    let mut pos = node.start_byte();
    for (i, new) in inside {
        out.push_str(&String::from_utf8_lossy(&src[pos..i.start_byte()]));
        out.push_str(new);
        pos = i.end_byte();
    }
    // The statement is on one line: no line break to fold, and a string
    // literal keeps its exact text.
    out.push_str(&String::from_utf8_lossy(&src[pos..node.end_byte()]));
    out
}

fn contains(outer: Node, inner: Node) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

/// Whether `body` declares a variable called `name`.
fn declares(body: Node, src: &[u8], name: &str) -> bool {
    descendants(body, &["declaration"]).into_iter().any(|d| {
        let mut cursor = d.walk();
        d.children_by_field_name("declarator", &mut cursor)
            .filter_map(declarator_name_of)
            .any(|n| text(n, src) == name)
    })
}

/// Whether the identifier `id` is written there (assigned, incremented)
/// or has its address taken.
pub fn is_written(id: Node, src: &[u8]) -> bool {
    let (mut child, mut p) = (id, id.parent());
    while let Some(n) = p {
        match n.kind() {
            "parenthesized_expression" => {}
            "assignment_expression" => {
                return n
                    .child_by_field_name("left")
                    .is_some_and(|l| l.id() == child.id());
            }
            "update_expression" => return true,
            "pointer_expression" => {
                return text(n, src).trim_start().starts_with('&');
            }
            _ => return false,
        }
        child = n;
        p = n.parent();
    }
    false
}
