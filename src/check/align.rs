//! E5: a huge-page notifier range whose start is not aligned to its size
//! (a bug of the reverted 2017 series: the rmap walk does not promise a
//! 2 MiB-aligned address).
//!
//! A range is a huge-page range when its end is `start + SIZE` with SIZE a
//! huge size (`HPAGE_PMD_SIZE`, `PMD_SIZE`, `huge_page_size(h)`,
//! `PAGE_SIZE << compound_order(page)`), directly or through the variable
//! that holds it.  Its start is aligned when it is masked
//! (`& HPAGE_PMD_MASK`, `& huge_page_mask(h)`, `& ~(size - 1)`), when the
//! variable holding it is only ever assigned masked values, when an
//! assertion in the function proves it (`VM_BUG_ON(address &
//! ~HPAGE_PMD_MASK)`), or, for a parameter of a static function, when
//! every caller in the file passes an aligned value.  Clamps are seen
//! through: `end = min(vma->vm_end, start + (PAGE_SIZE <<
//! compound_order(page)))` is a compound-page range from `start` (that
//! same bug), and `max(vma->vm_start, haddr)` starts aligned when
//! `haddr` does.  Every bracket call of the tree's API is checked, and
//! the atomic `invalidate_range` too; in the structure form, the init that
//! fills the range with its bounds.  Anything not proven
//! is an error (a parameter of a non-static function too: assert it, as
//! mm/khugepaged.c does); only a chain too long to follow is a note.

use tree_sitter::Node;

use super::api::BracketApi;
use super::index::FileIndex;
use super::{Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{
    callee_name, calls_in, declarator_name, descendants_of_kind, function_name, operator,
    strip_parens_casts, text,
};

/// How deep we follow variables and callers.
const MAX_DEPTH: usize = 4;

enum Aligned {
    Yes,
    /// Not aligned, with the expression that shows it.
    No(String),
    /// Cannot be decided here (unresolved callers).
    Unknown(String),
}

pub fn check(
    file: &Source,
    idx: &FileIndex,
    rules: &CheckRules,
    api: &BracketApi,
) -> Vec<Diagnostic> {
    let src = &file.src;
    let mut out = Vec::new();
    // Bracket calls take (mm, start, end); the init of a range structure
    // takes its bounds where the tree's header says.
    let names: Vec<(&str, usize, usize, usize)> = api
        .names()
        .chain(std::iter::once(rules.range_only))
        .map(|n| (n, 3, 1, 2))
        .chain(std::iter::once((
            api.init.name.as_str(),
            0,
            api.init.start,
            api.init.end,
        )))
        .collect();
    for (name, count, start_at, end_at) in names {
        for (call, func) in idx.callers(name) {
            let Some(func) = func else { continue };
            let Some(args) = call.child_by_field_name("arguments") else {
                continue;
            };
            let mut c = args.walk();
            let a: Vec<Node> = args
                .named_children(&mut c)
                .filter(|n| n.kind() != "comment")
                .collect();
            if count != 0 && a.len() != count {
                continue;
            }
            let (Some(start), Some(end)) = (a.get(start_at), a.get(end_at)) else {
                continue;
            };
            let cx = Cx { file, idx, rules };
            let Some((size, defined_at)) = cx.huge_size_of_end(*end, func, call.start_byte(), 0)
            else {
                continue;
            };
            let s = text(*start, src);
            // The start as it was where the huge end was computed.
            match cx.aligned(*start, func, defined_at, 0) {
                Aligned::Yes => {}
                Aligned::No(why) => out.push(diag(
                    file,
                    *start,
                    "E5",
                    Severity::Error,
                    format!(
                        "huge-page range of `{size}` starts at `{s}`, which is not aligned to \
                         its size ({why}): mask it (`& HPAGE_PMD_MASK`, `& ~(size - 1)`)"
                    ),
                )),
                Aligned::Unknown(why) => out.push(diag(
                    file,
                    *start,
                    "E5",
                    Severity::Note,
                    format!(
                        "huge-page range of `{size}` starts at `{s}`, whose alignment is not \
                         proven here ({why})"
                    ),
                )),
            }
        }
    }
    out
}

struct Cx<'a, 'f> {
    file: &'f Source,
    idx: &'f FileIndex<'a>,
    rules: &'f CheckRules,
}

impl<'a> Cx<'a, '_> {
    fn src(&self) -> &[u8] {
        &self.file.src
    }

    /// The huge size in `end` (`x + HPAGE_PMD_SIZE`, a variable last
    /// assigned such a sum before byte `at`, or either through a clamp like
    /// `min(vma->vm_end, x + size)`), as text, and where that sum is
    /// computed.
    fn huge_size_of_end(
        &self,
        end: Node,
        func: Node,
        at: usize,
        depth: usize,
    ) -> Option<(String, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let e = strip_parens_casts(end);
        if e.kind() == "binary_expression" && operator(e, self.src()).as_deref() == Some("+") {
            let r = e.child_by_field_name("right")?;
            return self
                .is_huge_size(r)
                .then(|| (text(r, self.src()).into_owned(), at.min(e.start_byte())));
        }
        if let Some(arms) = self.clamp_arms(e) {
            return arms
                .into_iter()
                .find_map(|a| self.huge_size_of_end(a, func, at, depth + 1));
        }
        if e.kind() == "identifier" {
            let name = text(e, self.src()).into_owned();
            let (_, value) = reaching(func, assignments(func, &name, at, self.src()), at)
                .into_iter()
                .rfind(|(op, _)| op == "=")?;
            return self.huge_size_of_end(value, func, value.start_byte(), depth + 1);
        }
        None
    }

    /// The value arguments of a clamp (`min(a, b)`, `min_t(type, a, b)`).
    fn clamp_arms<'n>(&self, e: Node<'n>) -> Option<Vec<Node<'n>>> {
        if e.kind() != "call_expression" {
            return None;
        }
        let name = callee_name(e, self.src())?;
        let skip = if self.rules.typed_clamp_calls.contains(&name.as_str()) {
            1
        } else if self.rules.clamp_calls.contains(&name.as_str()) {
            0
        } else {
            return None;
        };
        let args = e.child_by_field_name("arguments")?;
        let mut c = args.walk();
        Some(
            args.named_children(&mut c)
                .filter(|n| n.kind() != "comment")
                .skip(skip)
                .collect(),
        )
    }

    fn is_huge_size(&self, node: Node) -> bool {
        let n = strip_parens_casts(node);
        let src = self.src();
        match n.kind() {
            "identifier" => self.rules.huge_sizes.contains(&text(n, src).as_ref()),
            "call_expression" => callee_name(n, src)
                .is_some_and(|c| self.rules.huge_size_calls.contains(&c.as_str())),
            "binary_expression" if operator(n, src).as_deref() == Some("<<") => n
                .child_by_field_name("left")
                .is_some_and(|l| text(strip_parens_casts(l), src) == self.rules.base_page_size),
            _ => false,
        }
    }

    /// Whether the value of `expr`, evaluated in `func` at byte `at`, is
    /// aligned to a huge-page boundary.
    fn aligned(&self, expr: Node, func: Node, at: usize, depth: usize) -> Aligned {
        let src = self.src();
        let e = strip_parens_casts(expr);
        if self.is_masked(e) {
            return Aligned::Yes;
        }
        // `max(vma->vm_start, haddr)`: an aligned start clamped to the vma
        // (the part of the huge page inside it).
        if let Some(arms) = self.clamp_arms(e) {
            if depth < MAX_DEPTH
                && arms
                    .iter()
                    .any(|a| matches!(self.aligned(*a, func, at, depth + 1), Aligned::Yes))
            {
                return Aligned::Yes;
            }
            return Aligned::No(format!("no argument of `{}` is aligned", text(e, src)));
        }
        if e.kind() != "identifier" {
            return Aligned::No(format!("`{}` is not masked", text(e, src)));
        }
        let name = text(e, src).into_owned();
        if self.asserted(func, &name) {
            return Aligned::Yes;
        }
        if depth >= MAX_DEPTH {
            return Aligned::Unknown(format!("`{name}` is followed too far"));
        }
        let values = reaching(func, assignments(func, &name, at, src), at);
        if !values.is_empty() {
            for (op, v) in values {
                let verdict = match op.as_str() {
                    "=" => self.aligned(v, func, v.start_byte(), depth + 1),
                    // Stepping by a huge size keeps the alignment; by
                    // anything else (`haddr += PAGE_SIZE`) it does not.
                    "+=" | "-=" if self.is_huge_size(v) => Aligned::Yes,
                    "&=" if self.is_mask(v) => Aligned::Yes,
                    _ => Aligned::No(String::new()),
                };
                match verdict {
                    Aligned::Yes => {}
                    Aligned::No(_) => {
                        return Aligned::No(format!(
                            "`{name} {op} {}` at line {}",
                            text(v, src),
                            v.start_position().row + 1
                        ));
                    }
                    unknown => return unknown,
                }
            }
            return Aligned::Yes;
        }
        match parameter_index(func, &name, src) {
            Some(i) => self.aligned_by_callers(func, i, &name, depth),
            None => Aligned::No(format!("nothing in this function assigns `{name}`")),
        }
    }

    /// A parameter is aligned when every static caller passes an aligned
    /// argument for it.
    fn aligned_by_callers(&self, func: Node, index: usize, param: &str, depth: usize) -> Aligned {
        let src = self.src();
        let fname = function_name(func, src).unwrap_or_default();
        if !self.idx.is_static(func, src) {
            return Aligned::No(format!(
                "`{param}` is a parameter of the non-static `{fname}` and nothing here proves it aligned"
            ));
        }
        let callers = self.idx.callers(&fname);
        if callers.is_empty() {
            return Aligned::No(format!(
                "`{param}` is a parameter of `{fname}`, which has no direct caller here to prove it aligned"
            ));
        }
        for (call, caller) in callers {
            let Some(caller) = caller else { continue };
            let Some(args) = call.child_by_field_name("arguments") else {
                continue;
            };
            let mut c = args.walk();
            let Some(arg) = args
                .named_children(&mut c)
                .filter(|n| n.kind() != "comment")
                .nth(index)
            else {
                continue;
            };
            match self.aligned(arg, caller, call.start_byte(), depth + 1) {
                Aligned::Yes => {}
                Aligned::No(why) => {
                    return Aligned::No(format!(
                        "the caller at line {} passes `{}` for `{param}`: {why}",
                        call.start_position().row + 1,
                        text(arg, src)
                    ));
                }
                unknown => return unknown,
            }
        }
        Aligned::Yes
    }

    /// `x & HPAGE_PMD_MASK`, `x & huge_page_mask(h)`, `x & ~(sz - 1)`,
    /// `round_down(x, sz)`.
    fn is_masked(&self, e: Node) -> bool {
        let src = self.src();
        match e.kind() {
            "binary_expression" if operator(e, src).as_deref() == Some("&") => [
                e.child_by_field_name("left"),
                e.child_by_field_name("right"),
            ]
            .into_iter()
            .flatten()
            .any(|side| self.is_mask(side)),
            "call_expression" => {
                callee_name(e, src).is_some_and(|c| self.rules.align_calls.contains(&c.as_str()))
            }
            _ => false,
        }
    }

    fn is_mask(&self, side: Node) -> bool {
        let src = self.src();
        let s = strip_parens_casts(side);
        match s.kind() {
            "identifier" => self.rules.huge_masks.contains(&text(s, src).as_ref()),
            "call_expression" => {
                callee_name(s, src).is_some_and(|c| self.rules.align_calls.contains(&c.as_str()))
            }
            "unary_expression" => operator(s, src).as_deref() == Some("~"),
            _ => false,
        }
    }

    /// `VM_BUG_ON(name & ~HPAGE_PMD_MASK)` somewhere in `func`.
    fn asserted(&self, func: Node, name: &str) -> bool {
        let src = self.src();
        calls_in(func).into_iter().any(|c| {
            callee_name(c, src).is_some_and(|n| self.rules.assertions.contains(&n.as_str()))
                && descendants_of_kind(c, "identifier")
                    .into_iter()
                    .any(|id| text(id, src) == name)
                && descendants_of_kind(c, "identifier")
                    .into_iter()
                    .any(|id| self.rules.huge_masks.contains(&text(id, src).as_ref()))
        })
    }
}

/// Of the assignments before `at`, the last one in the same block as
/// `at` when there is one (it is the one that reaches: `cstart = address`
/// in one branch does not reach `cend = cstart + PMD_SIZE` in another),
/// else all of them.
fn reaching<'a>(
    func: Node<'a>,
    values: Vec<(String, Node<'a>)>,
    at: usize,
) -> Vec<(String, Node<'a>)> {
    let block_of = |n: Node<'a>| {
        let mut b = Some(n);
        while let Some(x) = b {
            if x.kind() == "compound_statement" {
                return Some(x.id());
            }
            b = x.parent();
        }
        None
    };
    let here = func.descendant_for_byte_range(at, at).and_then(block_of);
    let same: Vec<(String, Node<'a>)> = values
        .iter()
        .filter(|(_, v)| here.is_some() && block_of(*v) == here)
        .cloned()
        .collect();
    match same.last() {
        Some(last) => vec![last.clone()],
        None => values,
    }
}

/// The assignments to the variable `name` in `func` before byte `at`, as
/// `(operator, value)` in source order: initializers are `=`.
fn assignments<'a>(func: Node<'a>, name: &str, at: usize, src: &[u8]) -> Vec<(String, Node<'a>)> {
    let mut out = Vec::new();
    for d in descendants_of_kind(func, "init_declarator") {
        if d.start_byte() < at
            && declarator_name(d).is_some_and(|n| text(n, src) == name)
            && let Some(v) = d.child_by_field_name("value")
        {
            out.push(("=".to_string(), v));
        }
    }
    for a in descendants_of_kind(func, "assignment_expression") {
        if a.start_byte() < at
            && a.child_by_field_name("left")
                .is_some_and(|l| text(strip_parens_casts(l), src) == name)
            && let (Some(op), Some(v)) = (operator(a, src), a.child_by_field_name("right"))
        {
            out.push((op.into_owned(), v));
        }
    }
    out.sort_by_key(|(_, n)| n.start_byte());
    out
}

/// The position of parameter `name` in `func`'s parameter list.
fn parameter_index(func: Node, name: &str, src: &[u8]) -> Option<usize> {
    let mut d = func.child_by_field_name("declarator")?;
    while d.kind() != "function_declarator" {
        d = d.child_by_field_name("declarator")?;
    }
    let params = d.child_by_field_name("parameters")?;
    let mut c = params.walk();
    params
        .named_children(&mut c)
        .filter(|p| p.kind() == "parameter_declaration")
        .position(|p| declarator_name(p).is_some_and(|n| text(n, src) == name))
}
