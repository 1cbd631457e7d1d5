//! Does a range callback do, for one page, what a page callback did?
//!
//! Both callbacks are read as the calls they make (and the stores they
//! make through pointers), with every argument evaluated to a symbolic
//! value: the callbacks' parameters are symbols, the range callback being
//! asked about the page (`start` = the page's address, `end` = that plus
//! `PAGE_SIZE`); a local variable is the value assigned to it (one of its
//! values, inside a loop that reassigns it; unknown once its fields are
//! written or it is stepped); `+`/`-` are folded.  A call of the page
//! callback is covered by a call of the range callback when the callee is
//! the same (or its `_range` form, taking the page as a range) and every
//! argument is the same value, or a pair of arguments is an interval that
//! holds the page's (a wider range).  Calls of static helpers that the
//! range side does not make the same way are looked into, with their
//! parameters bound to the arguments.  Anything else is not shown to be
//! equivalent: two stores to the same member with different values, two
//! calls with different flags, a local filled field by field.

use std::collections::{BTreeMap, HashSet};

use tree_sitter::{Node, Tree};

use crate::rewrite::removal::function_definitions;
use crate::rewrite::syntax::descendants;
use crate::scan::kernel_c::{callee_name, declarator_name, is_static, operator, text};

const MAX_DEPTH: usize = 5;

/// A symbolic value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Val {
    /// A sum of atoms times integers plus a constant.
    Lin(Lin),
    /// `f(args)`, `->field(base)`, an operator...: a constructor.
    Term(String, Vec<Val>),
    /// One of these (a local reassigned in the loop around the use).
    Alt(Vec<Val>),
    /// Not known: never shown equal to anything.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lin {
    terms: BTreeMap<String, i64>,
    k: i64,
}

impl Lin {
    fn atom(a: &str) -> Lin {
        Lin {
            terms: BTreeMap::from([(a.to_string(), 1)]),
            k: 0,
        }
    }

    fn konst(k: i64) -> Lin {
        Lin {
            terms: BTreeMap::new(),
            k,
        }
    }

    fn add(&self, o: &Lin, sign: i64) -> Lin {
        let mut terms = self.terms.clone();
        for (a, c) in &o.terms {
            *terms.entry(a.clone()).or_default() += sign * c;
        }
        terms.retain(|_, c| *c != 0);
        Lin {
            terms,
            k: self.k + sign * o.k,
        }
    }
}

fn lin(v: &Val) -> Option<&Lin> {
    match v {
        Val::Lin(l) => Some(l),
        _ => None,
    }
}

/// The atom names of the callbacks' parameters.
pub const MN: &str = "@mn";
pub const MM: &str = "@mm";
pub const ADDR: &str = "@address";

/// How a page call is covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// The same call, with the same values.
    Same,
    /// The `_range` form of the callee, over the page.
    RangeForm,
    /// The same call over an interval that holds the page's.
    Wider,
    /// The page callback calls the range callback itself on the page.
    CallsRange,
}

/// One call (or store through a pointer) a callback makes.
#[derive(Debug, Clone)]
pub struct Effect {
    /// `call:f`, `call:->f`, `write:member`.
    pub key: String,
    pub callee: Option<String>,
    pub args: Vec<Val>,
    pub snippet: String,
    pub line: usize,
    /// Conditions of the `if`s around it, inside that function.
    pub conds: Vec<String>,
    /// Whether an argument is a string literal (a message).
    pub message: bool,
    /// Identifiers of the arguments that name nothing the function
    /// knows (`STAT(mmu_invalidate_page)`'s counter).
    pub bare: Vec<String>,
    /// Whether an argument mentions the page's address.
    pub uses_address: bool,
}

/// A covered page call and what covers it.
#[derive(Debug, Clone)]
pub struct Match {
    pub page: Effect,
    pub range: Effect,
    /// The range callback that makes it.
    pub owner: String,
    pub how: How,
}

/// The result of comparing a page callback with the range callbacks.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub covered: Vec<Match>,
    pub uncovered: Vec<Effect>,
    /// For each uncovered effect, a range call of the same callee (with
    /// other values) and its owner, when there is one.
    pub near: Vec<Option<(Effect, String)>>,
}

/// A function body being read, with its parameters' values.
#[derive(Clone)]
struct Frame<'t> {
    tree: &'t Tree,
    src: &'t [u8],
    def: Node<'t>,
    name: String,
    params: Vec<String>,
    args: Vec<Val>,
    depth: usize,
}

/// Compares the page callback `page` (defined in `page_file`) with the
/// range callbacks `ranges` (defined in `ops_file`).  `page_size` is the
/// size of a page (`PAGE_SIZE`), `range_suffix` the suffix of a callee's
/// range form (`_range`).
pub fn compare(
    page_file: (&Tree, &[u8]),
    page: &str,
    ops_file: (&Tree, &[u8]),
    ranges: &[&str],
    page_size: &str,
    range_suffix: &str,
) -> Comparison {
    let Some(pframe) = frame(
        page_file,
        page,
        vec![
            Val::Lin(Lin::atom(MN)),
            Val::Lin(Lin::atom(MM)),
            Val::Lin(Lin::atom(ADDR)),
        ],
    ) else {
        return Comparison::default();
    };
    let start = Lin::atom(ADDR);
    let end = start.add(&Lin::atom(page_size), 1);
    let range_args = vec![
        Val::Lin(Lin::atom(MN)),
        Val::Lin(Lin::atom(MM)),
        Val::Lin(start),
        Val::Lin(end),
    ];
    let mut range_effects: Vec<(Effect, String)> = Vec::new();
    for r in ranges {
        if let Some(f) = frame(ops_file, r, range_args.clone()) {
            let mut out = Vec::new();
            flatten(&f, &mut out, &mut HashSet::new());
            range_effects.extend(out.into_iter().map(|e| (e, r.to_string())));
        }
    }
    let cx = Matcher {
        ranges,
        range_args: &range_args,
        range_effects: &range_effects,
        range_suffix,
        page_size,
    };
    let mut cmp = Comparison::default();
    cx.cover_frame(&pframe, &mut cmp, &mut HashSet::new());
    cmp
}

fn frame<'t>(file: (&'t Tree, &'t [u8]), name: &str, args: Vec<Val>) -> Option<Frame<'t>> {
    let def = function_definitions(file.0, file.1, name)
        .into_iter()
        .next()?;
    Some(Frame {
        tree: file.0,
        src: file.1,
        def,
        name: name.to_string(),
        params: crate::rewrite::syntax::param_names(def, file.1),
        args,
        depth: 0,
    })
}

struct Matcher<'a> {
    ranges: &'a [&'a str],
    range_args: &'a [Val],
    range_effects: &'a [(Effect, String)],
    range_suffix: &'a str,
    page_size: &'a str,
}

impl Matcher<'_> {
    /// Covers every effect of `f`, looking into static helpers when a
    /// call of one is not covered as a whole.
    fn cover_frame(&self, f: &Frame, cmp: &mut Comparison, seen: &mut HashSet<String>) {
        for (e, call) in effects(f) {
            if let Some(m) = self.find(&e) {
                cmp.covered.push(m);
                continue;
            }
            // A helper the range side calls too, with other values, is
            // compared as a call: looking into it would pair its inner
            // statements, which hold those other values.
            let shared = e.callee.as_ref().is_some_and(|c| {
                self.range_effects
                    .iter()
                    .any(|(r, _)| r.callee.as_ref() == Some(c))
            });
            let helper = call
                .filter(|_| !shared)
                .and_then(|c| helper_frame(f, c, &e));
            match helper {
                Some(h) if seen.insert(h.name.clone()) => {
                    self.cover_frame(&h, cmp, seen);
                    seen.remove(&h.name);
                }
                _ => {
                    let near = self
                        .range_effects
                        .iter()
                        .find(|(r, _)| e.callee.is_some() && r.callee == e.callee)
                        .cloned();
                    cmp.uncovered.push(e);
                    cmp.near.push(near);
                }
            }
        }
    }

    fn find(&self, e: &Effect) -> Option<Match> {
        if let Some(c) = &e.callee
            && self.ranges.contains(&c.as_str())
            && covers_args(self.range_args, &e.args, self.page_size).is_some()
        {
            return Some(Match {
                page: e.clone(),
                range: e.clone(),
                owner: c.clone(),
                how: How::CallsRange,
            });
        }
        for (r, owner) in self.range_effects {
            let how = if r.key == e.key {
                if e.callee.is_none() {
                    // A store: the same member through the same base,
                    // the same value.
                    (r.args.len() == e.args.len()
                        && r.args.iter().zip(&e.args).all(|(a, b)| same(a, b)))
                    .then_some(How::Same)
                } else {
                    covers_args(&r.args, &e.args, self.page_size)
                }
            } else if e.callee.is_some()
                && r.callee.as_deref()
                    == e.callee
                        .as_ref()
                        .map(|c| format!("{c}{}", self.range_suffix))
                        .as_deref()
            {
                range_form(&r.args, &e.args, self.page_size).then_some(How::RangeForm)
            } else {
                None
            };
            if let Some(how) = how {
                return Some(Match {
                    page: e.clone(),
                    range: r.clone(),
                    owner: owner.clone(),
                    how,
                });
            }
        }
        None
    }
}

/// Whether the range call's arguments `r` do what the page call's `p`
/// do: equal, or with pairs that are intervals holding the page's.
fn covers_args(r: &[Val], p: &[Val], page_size: &str) -> Option<How> {
    if r.len() != p.len() {
        return None;
    }
    let mut how = How::Same;
    let mut i = 0;
    while i < p.len() {
        let here = cover(&r[i], &p[i], page_size);
        let next = if i + 1 < p.len() {
            cover(&r[i + 1], &p[i + 1], page_size)
        } else {
            Some(How::Same)
        };
        if let (Some(h), Some(_)) = (&here, &next) {
            if *h == How::Wider {
                how = How::Wider;
            }
            i += 1;
            continue;
        }
        if i + 1 < p.len() && holds(&r[i], &r[i + 1], &p[i], &p[i + 1], page_size) {
            how = How::Wider;
            i += 2;
            continue;
        }
        match here {
            Some(h) => {
                if h == How::Wider {
                    how = How::Wider;
                }
                i += 1;
            }
            None => return None,
        }
    }
    Some(how)
}

/// `f_range(..., s, e, ...)` for `f(..., address, ...)`: the address
/// replaced by an interval that holds the page.
fn range_form(r: &[Val], p: &[Val], page_size: &str) -> bool {
    if r.len() != p.len() + 1 {
        return false;
    }
    let Some(i) = p
        .iter()
        .position(|v| lin(v).is_some_and(|l| *l == Lin::atom(ADDR)))
    else {
        return false;
    };
    let page_end = Val::Lin(Lin::atom(ADDR).add(&Lin::atom(page_size), 1));
    p[..i].iter().zip(&r[..i]).all(|(a, b)| same(b, a))
        && p[i + 1..].iter().zip(&r[i + 2..]).all(|(a, b)| same(b, a))
        && holds(&r[i], &r[i + 1], &p[i], &page_end, page_size)
}

/// Whether the value `r` does what `p` does: the same value, or the same
/// constructor over arguments that hold `p`'s (a lookup over a wider
/// range), or one of `r`'s alternatives does.
fn cover(r: &Val, p: &Val, page_size: &str) -> Option<How> {
    match (r, p) {
        (Val::Unknown, _) | (_, Val::Unknown) => None,
        (Val::Alt(alts), _) => {
            let hows: Vec<How> = alts.iter().filter_map(|a| cover(a, p, page_size)).collect();
            if hows.contains(&How::Same) {
                Some(How::Same)
            } else {
                hows.into_iter().next()
            }
        }
        (_, Val::Alt(alts)) => {
            let mut how = How::Same;
            for a in alts {
                match cover(r, a, page_size)? {
                    How::Same => {}
                    h => how = h,
                }
            }
            Some(how)
        }
        (Val::Term(f, a), Val::Term(g, b)) if f == g => covers_args(a, b, page_size),
        (Val::Lin(a), Val::Lin(b)) if a == b => Some(How::Same),
        _ => None,
    }
}

/// Whether the value `r` is the value `p` (one of `r`'s alternatives).
fn same(r: &Val, p: &Val) -> bool {
    match (r, p) {
        (Val::Unknown, _) | (_, Val::Unknown) => false,
        (Val::Alt(alts), _) => alts.iter().any(|a| same(a, p)),
        (_, Val::Alt(alts)) => alts.iter().all(|a| same(r, a)),
        (Val::Term(f, a), Val::Term(g, b)) => {
            f == g && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Val::Lin(a), Val::Lin(b)) => a == b,
        _ => false,
    }
}

/// Whether `[rlo, rhi]` holds `[plo, phi]` (ends inclusive or not alike),
/// or `(rlo, rlen)` holds `(plo, plen)`: the differences are known signs
/// with the page size taken as at least 1.
fn holds(rlo: &Val, rhi: &Val, plo: &Val, phi: &Val, page_size: &str) -> bool {
    let pick = |v: &Val, f: &dyn Fn(&Lin) -> bool| match v {
        Val::Alt(alts) => alts.iter().any(|a| lin(a).is_some_and(f)),
        _ => lin(v).is_some_and(f),
    };
    let (Some(plo_l), Some(phi_l)) = (lin(plo), lin(phi)) else {
        return false;
    };
    // As an interval.
    let lo_ok =
        |r: &Lin| sign(&r.add(plo_l, -1), page_size) == Some(Sign::NonPositive) || r == plo_l;
    let hi_ok =
        |r: &Lin| sign(&r.add(phi_l, -1), page_size) == Some(Sign::NonNegative) || r == phi_l;
    if pick(rlo, &lo_ok) && pick(rhi, &hi_ok) {
        return true;
    }
    // As a start and a length.
    let (Some(rlo_l), Some(rlen_l)) = (lin(rlo), lin(rhi)) else {
        return false;
    };
    let pend = plo_l.add(phi_l, 1);
    let rend = rlo_l.add(rlen_l, 1);
    lo_ok(rlo_l) && sign(&rend.add(&pend, -1), page_size) == Some(Sign::NonNegative)
}

#[derive(Debug, PartialEq, Eq)]
enum Sign {
    NonNegative,
    NonPositive,
}

/// The sign of `k + c * page_size` for any page size of at least 1,
/// when it does not depend on it and nothing else is in it.
fn sign(l: &Lin, page_size: &str) -> Option<Sign> {
    let c = match l.terms.len() {
        0 => 0,
        1 => *l.terms.get(page_size)?,
        _ => return None,
    };
    if c >= 0 && l.k + c >= 0 && l.k >= -c {
        Some(Sign::NonNegative)
    } else if c <= 0 && l.k <= 0 {
        Some(Sign::NonPositive)
    } else {
        None
    }
}

/// Every effect of a range-side function, its static helpers' included.
fn flatten(f: &Frame, out: &mut Vec<Effect>, seen: &mut HashSet<String>) {
    for (e, call) in effects(f) {
        let helper = call.and_then(|c| helper_frame(f, c, &e));
        out.push(e);
        if let Some(h) = helper
            && seen.insert(h.name.clone())
        {
            flatten(&h, out, seen);
            seen.remove(&h.name);
        }
    }
}

/// The static helper a call calls, with its parameters bound.
fn helper_frame<'t>(f: &Frame<'t>, call: Node<'t>, e: &Effect) -> Option<Frame<'t>> {
    if f.depth >= MAX_DEPTH {
        return None;
    }
    let name = e.callee.as_ref()?;
    let def = function_definitions(f.tree, f.src, name)
        .into_iter()
        .find(|d| is_static(*d, f.src))?;
    let _ = call;
    Some(Frame {
        tree: f.tree,
        src: f.src,
        def,
        name: name.clone(),
        params: crate::rewrite::syntax::param_names(def, f.src),
        args: e.args.clone(),
        depth: f.depth + 1,
    })
}

/// The calls of `f` not inside another call's arguments, and its stores
/// through pointers, in source order, each with the call node.
fn effects<'t>(f: &Frame<'t>) -> Vec<(Effect, Option<Node<'t>>)> {
    let Some(body) = f.def.child_by_field_name("body") else {
        return Vec::new();
    };
    let ev = Eval::new(f);
    let mut out = Vec::new();
    for n in descendants(
        body,
        &[
            "call_expression",
            "assignment_expression",
            "update_expression",
        ],
    ) {
        if n.kind() == "call_expression" {
            if inside_call_args(n, body) {
                continue;
            }
            out.push((ev.call_effect(n), Some(n)));
        } else if let Some(e) = ev.store_effect(n) {
            out.push((e, None));
        }
    }
    out
}

fn inside_call_args(n: Node, stop: Node) -> bool {
    let mut p = n.parent();
    while let Some(x) = p {
        if x.id() == stop.id() {
            return false;
        }
        if x.kind() == "argument_list" {
            return true;
        }
        p = x.parent();
    }
    false
}

/// Evaluates expressions of one function body.
struct Eval<'f, 't> {
    f: &'f Frame<'t>,
    /// Locals declared in the body.
    locals: HashSet<String>,
    /// Locals that can hold anything: fields written through `.`, or
    /// their address taken.
    opaque: HashSet<String>,
}

impl<'f, 't> Eval<'f, 't> {
    fn new(f: &'f Frame<'t>) -> Self {
        let src = f.src;
        let mut locals = HashSet::new();
        let mut opaque = HashSet::new();
        if let Some(body) = f.def.child_by_field_name("body") {
            for d in descendants(body, &["declaration"]) {
                let mut c = d.walk();
                for decl in d.children_by_field_name("declarator", &mut c) {
                    if let Some(n) = crate::scan::kernel_c::declarator_name_of(decl)
                        .or_else(|| declarator_name(decl))
                    {
                        locals.insert(text(n, src).into_owned());
                    }
                }
            }
            for w in descendants(body, &["assignment_expression", "update_expression"]) {
                let t = w
                    .child_by_field_name("left")
                    .or_else(|| w.child_by_field_name("argument"));
                if let Some(t) = t.filter(|t| t.kind() == "field_expression")
                    && let Some(base) = t.child_by_field_name("argument")
                    && base.kind() == "identifier"
                    && operator_of_field(t, src) == "."
                {
                    opaque.insert(text(base, src).into_owned());
                }
            }
        }
        Eval { f, locals, opaque }
    }

    fn src(&self) -> &'t [u8] {
        self.f.src
    }

    fn call_effect(&self, call: Node<'t>) -> Effect {
        let src = self.src();
        let callee = callee_name(call, src);
        let key = match call.child_by_field_name("function") {
            Some(fun) if fun.kind() == "field_expression" => format!(
                "call:->{}",
                fun.child_by_field_name("field")
                    .map(|x| text(x, src).into_owned())
                    .unwrap_or_default()
            ),
            Some(fun) => format!("call:{}", text(fun, src)),
            None => "call:?".into(),
        };
        let mut args = Vec::new();
        let mut message = false;
        let mut bare = Vec::new();
        if let Some(list) = call.child_by_field_name("arguments") {
            let mut c = list.walk();
            for a in list
                .named_children(&mut c)
                .filter(|a| a.kind() != "comment")
            {
                if matches!(a.kind(), "string_literal" | "concatenated_string") {
                    message = true;
                }
                if a.kind() == "identifier" {
                    let name = text(a, src).into_owned();
                    if !self.f.params.contains(&name) && !self.locals.contains(&name) {
                        bare.push(name);
                    }
                }
                args.push(self.eval(a, &mut 200, &mut HashSet::new()));
            }
        }
        // The callee of `x->fn(args)` is part of what is called.
        if let Some(fun) = call.child_by_field_name("function")
            && fun.kind() == "field_expression"
            && let Some(base) = fun.child_by_field_name("argument")
        {
            args.insert(0, self.eval(base, &mut 200, &mut HashSet::new()));
        }
        let uses_address = args.iter().any(mentions_address);
        self.effect(call, key, callee, args, message, bare, uses_address)
    }

    #[allow(clippy::too_many_arguments)]
    fn effect(
        &self,
        node: Node,
        key: String,
        callee: Option<String>,
        args: Vec<Val>,
        message: bool,
        bare: Vec<String>,
        uses_address: bool,
    ) -> Effect {
        Effect {
            key,
            callee,
            args,
            snippet: text(node, self.src())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            line: node.start_position().row + 1,
            conds: conditions_around(node, self.f.def, self.src()),
            message,
            bare,
            uses_address,
        }
    }

    /// A store through a pointer (`kvm->seq++`, `p->x = v`): not one to a
    /// local or to a field of a local structure.
    fn store_effect(&self, w: Node<'t>) -> Option<Effect> {
        let src = self.src();
        let target = w
            .child_by_field_name("left")
            .or_else(|| w.child_by_field_name("argument"))?;
        if target.kind() != "field_expression" {
            return None;
        }
        let base = target.child_by_field_name("argument")?;
        if operator_of_field(target, src) == "." && base.kind() == "identifier" {
            return None; // a field of a local (or parameter) structure
        }
        let field = text(target.child_by_field_name("field")?, src).into_owned();
        let mut budget = 200;
        let mut args = vec![self.eval(base, &mut budget, &mut HashSet::new())];
        let op = if w.kind() == "update_expression" {
            if text(w, src).contains("++") {
                "++".to_string()
            } else {
                "--".to_string()
            }
        } else {
            operator(w, src).map(|o| o.into_owned()).unwrap_or_default()
        };
        args.push(Val::Term(op, Vec::new()));
        if let Some(r) = w.child_by_field_name("right") {
            args.push(self.eval(r, &mut budget, &mut HashSet::new()));
        }
        let uses_address = args.iter().any(mentions_address);
        Some(self.effect(
            w,
            format!("write:{field}"),
            None,
            args,
            false,
            Vec::new(),
            uses_address,
        ))
    }

    /// The symbolic value of expression `n`.  One match arm per expression
    /// kind, which is why it runs past a hundred lines.
    fn eval(&self, n: Node<'t>, budget: &mut usize, visiting: &mut HashSet<usize>) -> Val {
        if *budget == 0 {
            return Val::Unknown;
        }
        *budget -= 1;
        let src = self.src();
        match n.kind() {
            "parenthesized_expression" => match n.named_child(0) {
                Some(i) => self.eval(i, budget, visiting),
                None => Val::Unknown,
            },
            "cast_expression" => match n.child_by_field_name("value") {
                Some(i) => self.eval(i, budget, visiting),
                None => Val::Unknown,
            },
            "number_literal" => number(&text(n, src))
                .map(|k| Val::Lin(Lin::konst(k)))
                .unwrap_or_else(|| Val::Term(format!("#{}", text(n, src)), Vec::new())),
            "identifier" | "true" | "false" | "null" => {
                let name = text(n, src).into_owned();
                self.value_of(&name, n, budget, visiting)
            }
            "binary_expression" => {
                let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) else {
                    return Val::Unknown;
                };
                let op = operator(n, src).map(|o| o.into_owned()).unwrap_or_default();
                let (a, b) = (
                    self.eval(l, budget, visiting),
                    self.eval(r, budget, visiting),
                );
                arith(&op, a, b)
            }
            "unary_expression" => {
                let op = operator(n, src).map(|o| o.into_owned()).unwrap_or_default();
                let Some(a) = n.child_by_field_name("argument") else {
                    return Val::Unknown;
                };
                let v = self.eval(a, budget, visiting);
                match (op.as_str(), &v) {
                    ("-", Val::Lin(l)) => Val::Lin(Lin::default().add(l, -1)),
                    ("+", _) => v,
                    _ => Val::Term(op, vec![v]),
                }
            }
            "pointer_expression" => {
                let op = operator(n, src).map(|o| o.into_owned()).unwrap_or_default();
                let Some(a) = n.child_by_field_name("argument") else {
                    return Val::Unknown;
                };
                Val::Term(op, vec![self.eval(a, budget, visiting)])
            }
            "field_expression" => {
                let (Some(b), Some(fld)) = (
                    n.child_by_field_name("argument"),
                    n.child_by_field_name("field"),
                ) else {
                    return Val::Unknown;
                };
                Val::Term(
                    format!("->{}", text(fld, src)),
                    vec![self.eval(b, budget, visiting)],
                )
            }
            "subscript_expression" => {
                let (Some(a), Some(i)) = (
                    n.child_by_field_name("argument"),
                    n.child_by_field_name("index"),
                ) else {
                    return Val::Unknown;
                };
                Val::Term(
                    "[]".into(),
                    vec![
                        self.eval(a, budget, visiting),
                        self.eval(i, budget, visiting),
                    ],
                )
            }
            "call_expression" => {
                let name = n
                    .child_by_field_name("function")
                    .map(|f| text(f, src).into_owned())
                    .unwrap_or_default();
                let mut args = Vec::new();
                if let Some(list) = n.child_by_field_name("arguments") {
                    let mut c = list.walk();
                    for a in list
                        .named_children(&mut c)
                        .filter(|a| a.kind() != "comment")
                    {
                        args.push(self.eval(a, budget, visiting));
                    }
                }
                Val::Term(format!("{name}()"), args)
            }
            "string_literal"
            | "concatenated_string"
            | "char_literal"
            | "sizeof_expression"
            | "type_descriptor" => Val::Term(
                format!(
                    "'{}",
                    text(n, src)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                Vec::new(),
            ),
            _ => Val::Unknown,
        }
    }

    /// The value of the variable `name` where `at` uses it.
    fn value_of(
        &self,
        name: &str,
        at: Node<'t>,
        budget: &mut usize,
        visiting: &mut HashSet<usize>,
    ) -> Val {
        let pi = self.f.params.iter().position(|p| p == name);
        let is_local = self.locals.contains(name);
        if pi.is_none() && !is_local {
            return Val::Lin(Lin::atom(name)); // a global, a macro, a constant
        }
        if is_local && self.opaque.contains(name) {
            return Val::Unknown;
        }
        let defs = self.definitions(name);
        let initial = match pi {
            Some(i) => self.f.args.get(i).cloned().unwrap_or(Val::Unknown),
            // A local nothing visible assigns (filled by a macro):
            // the same name plays the same part on both sides.
            None => Val::Term(format!("local:{name}"), Vec::new()),
        };
        if defs.is_empty() {
            return initial;
        }
        let pos = at.start_byte();
        // Definitions in a loop around the use reach it on the next turn.
        let around = loops_around(at, self.f.def);
        let carried: Vec<Node> = defs
            .iter()
            .copied()
            .filter(|d| {
                around.iter().any(|l| {
                    crate::rewrite::syntax::contains(*l, *d)
                        && !l
                            .child_by_field_name("initializer")
                            .is_some_and(|i| crate::rewrite::syntax::contains(i, *d))
                })
            })
            .collect();
        let before: Vec<Node> = defs
            .iter()
            .copied()
            .filter(|d| d.end_byte() <= pos && !carried.iter().any(|c| c.id() == d.id()))
            .collect();
        let mut reaching: Vec<Node> = Vec::new();
        match before.last() {
            Some(last) => reaching.push(*last),
            None if carried.is_empty() => return initial,
            None => {}
        }
        reaching.extend(carried.iter().copied());
        let mut vals: Vec<Val> = Vec::new();
        for d in reaching {
            if !visiting.insert(d.id()) {
                vals.push(Val::Unknown);
                continue;
            }
            let v = self.def_value(name, d, budget, visiting, &initial);
            visiting.remove(&d.id());
            if !vals.contains(&v) {
                vals.push(v);
            }
        }
        if before.is_empty() && !carried.is_empty() && pi.is_some() {
            vals.insert(0, initial);
        }
        match vals.len() {
            1 => vals.pop().expect("one"),
            _ => Val::Alt(vals),
        }
    }

    /// The value a definition gives `name`.
    fn def_value(
        &self,
        name: &str,
        d: Node<'t>,
        budget: &mut usize,
        visiting: &mut HashSet<usize>,
        initial: &Val,
    ) -> Val {
        let src = self.src();
        match d.kind() {
            "init_declarator" => match d.child_by_field_name("value") {
                Some(v) => self.eval(v, budget, visiting),
                None => initial.clone(),
            },
            "assignment_expression" => {
                let op = operator(d, src).map(|o| o.into_owned()).unwrap_or_default();
                let Some(r) = d.child_by_field_name("right") else {
                    return Val::Unknown;
                };
                let rv = self.eval(r, budget, visiting);
                if op == "=" {
                    return rv;
                }
                let prev = self.value_of(name, d, budget, visiting);
                arith(op.trim_end_matches('='), prev, rv)
            }
            "update_expression" => {
                let prev = self.value_of(name, d, budget, visiting);
                let op = if text(d, src).contains("++") {
                    "+"
                } else {
                    "-"
                };
                arith(op, prev, Val::Lin(Lin::konst(1)))
            }
            _ => Val::Unknown,
        }
    }

    /// Assignments, updates and initialisations of `name`, in order.
    fn definitions(&self, name: &str) -> Vec<Node<'t>> {
        let src = self.src();
        let Some(body) = self.f.def.child_by_field_name("body") else {
            return Vec::new();
        };
        let mut out: Vec<Node> = descendants(
            body,
            &[
                "init_declarator",
                "assignment_expression",
                "update_expression",
            ],
        )
        .into_iter()
        .filter(|d| match d.kind() {
            "init_declarator" => declarator_name(*d).is_some_and(|n| text(n, src) == name),
            "assignment_expression" => d
                .child_by_field_name("left")
                .is_some_and(|l| l.kind() == "identifier" && text(l, src) == name),
            _ => d
                .child_by_field_name("argument")
                .is_some_and(|l| l.kind() == "identifier" && text(l, src) == name),
        })
        .collect();
        out.sort_by_key(|d| d.start_byte());
        out
    }
}

fn operator_of_field<'s>(field: Node, src: &'s [u8]) -> std::borrow::Cow<'s, str> {
    let mut c = field.walk();
    field
        .children(&mut c)
        .find(|ch| !ch.is_named())
        .map(|o| text(o, src))
        .unwrap_or_default()
}

fn loops_around<'t>(n: Node<'t>, stop: Node<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut p = n.parent();
    while let Some(x) = p {
        if x.id() == stop.id() {
            break;
        }
        if matches!(
            x.kind(),
            "for_statement" | "while_statement" | "do_statement"
        ) {
            out.push(x);
        }
        p = x.parent();
    }
    out
}

/// The conditions of the `if`s around `n` (inside `stop`), as written.
fn conditions_around(n: Node, stop: Node, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut child = n;
    let mut p = n.parent();
    while let Some(x) = p {
        if x.id() == stop.id() {
            break;
        }
        if x.kind() == "if_statement"
            && let Some(c) = x.child_by_field_name("condition")
            && !crate::rewrite::syntax::contains(c, child)
        {
            let t = text(c, src);
            let t = t.trim();
            let t = t
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(t);
            let in_else = x
                .child_by_field_name("alternative")
                .is_some_and(|a| crate::rewrite::syntax::contains(a, child));
            let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(if in_else { format!("!({t})") } else { t });
        }
        child = x;
        p = x.parent();
    }
    out.reverse();
    out
}

fn arith(op: &str, a: Val, b: Val) -> Val {
    match (op, &a, &b) {
        ("+", Val::Lin(x), Val::Lin(y)) => Val::Lin(x.add(y, 1)),
        ("-", Val::Lin(x), Val::Lin(y)) => Val::Lin(x.add(y, -1)),
        (_, Val::Unknown, _) | (_, _, Val::Unknown) => Val::Unknown,
        _ => Val::Term(op.to_string(), vec![a, b]),
    }
}

fn number(t: &str) -> Option<i64> {
    let t = t.trim_end_matches(['u', 'U', 'l', 'L']);
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

fn mentions_address(v: &Val) -> bool {
    match v {
        Val::Lin(l) => l.terms.contains_key(ADDR),
        Val::Term(_, a) | Val::Alt(a) => a.iter().any(mentions_address),
        Val::Unknown => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(src: &str, page: &str, ranges: &[&str]) -> Comparison {
        let tree = crate::scan::kernel_c::parse(src.as_bytes());
        compare(
            (&tree, src.as_bytes()),
            page,
            (&tree, src.as_bytes()),
            ranges,
            "PAGE_SIZE",
            "_range",
        )
    }

    #[test]
    fn a_flush_of_the_range_covers_the_flush_of_the_page() {
        let src = "static void p(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)\n\
                   { struct d *d = container_of(mn, struct d, mn); d_flush(d, address, PAGE_SIZE); }\n\
                   static void r(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start, unsigned long end)\n\
                   { struct d *d = container_of(mn, struct d, mn); d_flush(d, start, end - start); }\n";
        let c = cmp(src, "p", &["r"]);
        assert!(c.uncovered.is_empty(), "{:?}", c.uncovered);
        assert_eq!(c.covered.len(), 2);
    }

    #[test]
    fn different_stores_and_flags_are_not_equivalent() {
        // Two branches storing different values to a local descriptor,
        // then submitting it: no equivalence from the stores.
        let src = "static void h(struct s *s, unsigned long a, int ih)\n\
                   { struct qd desc; desc.high = ADDR(a) | IH(ih); submit(&desc, s); }\n\
                   static void p(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)\n\
                   { h(get(mn), address, 1); }\n\
                   static void r(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start, unsigned long end)\n\
                   { struct qd desc; desc.high = 0; submit(&desc, get(mn)); h(get(mn), start, 0); }\n";
        let c = cmp(src, "p", &["r"]);
        // The helper both call, with another flag: not shown, and not
        // looked into (its stores would pair with the range's).
        assert_eq!(c.uncovered.len(), 1, "{:?}", c.uncovered);
        assert!(c.uncovered[0].snippet.starts_with("h(get(mn), address, 1)"));
        assert!(c.covered.is_empty(), "{:?}", c.covered);
        // Looked into when the range side does not call it: the descriptor
        // filled field by field is not a value, so nothing pairs.
        let src2 = src.replace("h(get(mn), start, 0); ", "");
        let c = cmp(&src2, "p", &["r"]);
        assert!(
            c.uncovered.iter().any(|e| e.snippet.starts_with("submit")),
            "{:?}",
            c.covered
        );
    }

    #[test]
    fn a_wider_interval_and_a_range_form_cover_the_page() {
        let src = "static void p(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)\n\
                   { struct k *k = to_k(mn); it = first(&k->t, address, address); unmap(k, address); }\n\
                   static void r(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start, unsigned long end)\n\
                   { struct k *k = to_k(mn); end -= 1; it = first(&k->t, start, end); unmap_range(k, start, end + 1); }\n";
        let c = cmp(src, "p", &["r"]);
        assert!(c.uncovered.is_empty(), "{:?}", c.uncovered);
        let hows: Vec<&How> = c.covered.iter().map(|m| &m.how).collect();
        assert!(
            hows.contains(&&How::Wider) && hows.contains(&&How::RangeForm),
            "{hows:?}"
        );
    }

    #[test]
    fn a_loop_variable_after_the_loop_is_not_the_page() {
        let src = "static void p(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)\n\
                   { inv(ctx(mn), address, true); }\n\
                   static void r(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start, unsigned long end)\n\
                   { unsigned long address;\n\
                     for (address = start; address < end; address += PAGE_SIZE) inv(ctx(mn), address, false);\n\
                     inv(ctx(mn), address, true); }\n";
        let c = cmp(src, "p", &["r"]);
        assert_eq!(c.uncovered.len(), 1, "{:?}", c.covered);
    }
}
