//! E2: every bracket start has its end (same arguments) on every path out
//! of the function, and no end runs without its start.  W2: an accessed-bit
//! test through the notifiers inside an open bracket of the same mm.
//!
//! A small abstract interpretation over the function's structured
//! statements, in the manner of `scan/ptl.rs`: the state maps each bracket
//! (the argument texts of its start, spaces removed) to its status.  Jumps
//! are followed: `return` is an exit, `goto` carries its state to the label
//! (forward gotos; a backward goto is a retry loop and ends the path),
//! `break`/`continue` carry theirs to the end of the loop or switch.  A
//! loop body is taken to run at least once.
//!
//! Conditions are tracked as literals, not evaluated.  A bracket opened
//! under `if (C)` is open *when C holds*; a later `if (C)` (or `if (!C)`)
//! splits it into open and never-opened again, so `if (is_cow) start ...
//! if (is_cow) end` pairs, and so do flag-guarded brackets (`if (!notified)
//! { notified = true; start }` ... `if (notified) end`).  A start that can
//! fail opens the bracket when its result is 0: the result (the call, or
//! the variable it is assigned to) is a literal like any other, so after
//! `if (start_nonblock(...)) return -EAGAIN;` no end is due on the failure
//! path and one is on the other.  A bracket opened on some paths in ways
//! that cannot be told apart is *maybe* open; a later end on one branch
//! closes it (the end is taken to be under the same condition).
//!
//! Functions are summarised: when a bracket expressed in the function's
//! parameters is open at every return (*always*), or at every return of
//! success (0, or a non-NULL pointer) and at none of failure (*on
//! success*), the function opens it for its caller.  Its callers apply
//! the summary at the call, with the arguments put in for the parameters
//! (a `NULL` passed for a pointer the bracket uses means no bracket), so a
//! lookup helper that returns with the bracket open and its caller's end
//! pair up, and a failure path of the helper that forgets its end is the
//! one error.  Summaries of non-static functions are shared tree-wide.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use tree_sitter::Node;

use super::api::{BracketApi, Role};
use super::index::FileIndex;
use super::{Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{
    call_args, callee_name, declarator_name, descendants_of_kind, function_name, has_error,
    operator, strip_parens_casts, text,
};

/// A condition known to hold: `text` (spaces removed) is true when
/// `truthy`, false otherwise.  `result` marks the outcome of a start that
/// can fail (an end before it is tested is an error).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lit {
    pub text: String,
    pub truthy: bool,
    pub result: bool,
}

/// When a function returns with a bracket open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    Always,
    /// When it returns 0 (`int` functions).
    Zero,
    /// When it returns non-zero (a pointer, `true`).
    NonZero,
}

/// A bracket a function leaves open for its caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handed {
    /// The bracket's arguments in terms of the function's parameters.
    pub key: Vec<String>,
    pub when: When,
    /// Conditions on the parameters (`start && end`).
    pub guard: Vec<Lit>,
    /// The start inside, for messages.
    pub start_text: String,
}

/// What a function does with brackets, seen from a caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub opens: Vec<Handed>,
    pub params: Vec<String>,
}

/// Summaries of every non-static function that hands a bracket over, for
/// the whole set of files: computed until no new one appears (a wrapper
/// in one file of a helper in another).
pub fn global_summaries(
    sources: &[Source],
    rules: &CheckRules,
    api: &BracketApi,
) -> HashMap<String, Summary> {
    use rayon::prelude::*;
    let mut global: HashMap<String, Summary> = HashMap::new();
    let starts: Vec<String> = api
        .calls
        .iter()
        .filter(|(_, r)| matches!(r, Role::Start { .. }))
        .map(|(n, _)| n.clone())
        .collect();
    for _round in 0..4 {
        // Only files that name a start or a function already summarised
        // can hand a bracket over.
        let names: Vec<memchr::memmem::Finder> = starts
            .iter()
            .chain(global.keys())
            .map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned())
            .collect();
        let found: Vec<(String, Summary)> = sources
            .par_iter()
            .filter(|file| names.iter().any(|f| f.find(&file.src).is_some()))
            .flat_map_iter(|file| {
                let idx = FileIndex::new(file);
                let p = Pairing::new(file, &idx, rules, api, &global);
                p.exported()
            })
            .collect();
        let mut next: HashMap<String, Summary> = HashMap::new();
        let mut conflicting = HashSet::new();
        for (name, s) in found {
            match next.get(&name) {
                Some(other) if *other != s => {
                    conflicting.insert(name);
                }
                _ => {
                    next.insert(name, s);
                }
            }
        }
        // Two different definitions (`#ifdef` arms in two files): no
        // summary rather than a wrong one.
        for c in conflicting {
            next.remove(&c);
        }
        if next == global {
            break;
        }
        global = next;
    }
    global
}

/// E2 and W2 for one file.
pub fn check(
    file: &Source,
    idx: &FileIndex,
    rules: &CheckRules,
    api: &BracketApi,
    global: &HashMap<String, Summary>,
) -> Vec<Diagnostic> {
    let p = Pairing::new(file, idx, rules, api, global);
    let mut funcs: Vec<Node> = idx
        .calls
        .keys()
        .filter(|name| p.is_bracket_related(name))
        .flat_map(|n| idx.callers(n))
        .filter_map(|(_, f)| f)
        .collect();
    funcs.sort_by_key(|f| f.start_byte());
    funcs.dedup_by_key(|f| f.id());
    let mut out = Vec::new();
    for func in funcs {
        if let Some(a) = p.analyze(func) {
            out.extend(a.diagnostics);
        }
    }
    out
}

/// The analysis of one function.
struct Analysis {
    diagnostics: Vec<Diagnostic>,
    summary: Summary,
}

/// Per-file analysis context, with memoised summaries of its functions.
struct Pairing<'a, 'f> {
    file: &'f Source,
    idx: &'f FileIndex<'a>,
    rules: &'f CheckRules,
    api: &'f BracketApi,
    global: &'f HashMap<String, Summary>,
    memo: RefCell<HashMap<String, Option<Summary>>>,
    busy: RefCell<HashSet<String>>,
    related: HashSet<String>,
}

impl<'a, 'f> Pairing<'a, 'f> {
    fn new(
        file: &'f Source,
        idx: &'f FileIndex<'a>,
        rules: &'f CheckRules,
        api: &'f BracketApi,
        global: &'f HashMap<String, Summary>,
    ) -> Self {
        let mut p = Pairing {
            file,
            idx,
            rules,
            api,
            global,
            memo: RefCell::new(HashMap::new()),
            busy: RefCell::new(HashSet::new()),
            related: HashSet::new(),
        };
        p.related = p.related_functions();
        p
    }

    /// Functions of this file that call a start, or a function handing
    /// a bracket over, directly or through other such functions.
    fn related_functions(&self) -> HashSet<String> {
        let src = &self.file.src;
        let direct = |name: &str| {
            matches!(self.api.role(name), Some(Role::Start { .. }))
                || (self.global.contains_key(name) && !self.idx.functions.contains_key(name))
        };
        let calls_of: BTreeMap<&String, Vec<String>> = self
            .idx
            .functions
            .iter()
            .map(|(name, f)| {
                let calls = f
                    .child_by_field_name("body")
                    .map(|b| {
                        crate::scan::kernel_c::calls_in(b)
                            .into_iter()
                            .filter_map(|c| callee_name(c, src))
                            .collect()
                    })
                    .unwrap_or_default();
                (name, calls)
            })
            .collect();
        let mut related: HashSet<String> = calls_of
            .iter()
            .filter(|(_, calls)| calls.iter().any(|c| direct(c)))
            .map(|(n, _)| (*n).clone())
            .collect();
        loop {
            let more: Vec<String> = calls_of
                .iter()
                .filter(|(n, calls)| {
                    !related.contains(**n) && calls.iter().any(|c| related.contains(c))
                })
                .map(|(n, _)| (*n).clone())
                .collect();
            if more.is_empty() {
                break;
            }
            related.extend(more);
        }
        related
    }

    /// Whether a call of `name` takes part in bracket pairing.
    fn is_bracket_related(&self, name: &str) -> bool {
        self.api.role(name).is_some()
            || self.related.contains(name)
            || self.global.contains_key(name)
    }

    /// Summaries of the functions of this file other files can call.
    fn exported(&self) -> Vec<(String, Summary)> {
        let mut names: Vec<&String> = self
            .related
            .iter()
            .filter(|n| {
                // A header's static inline functions are every includer's.
                self.idx.functions.get(*n).is_some_and(|f| {
                    !self.idx.is_static(*f, &self.file.src) || self.file.rel.ends_with(".h")
                })
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| {
                let s = self.summary_of(n)?;
                (!s.opens.is_empty()).then(|| (n.clone(), s))
            })
            .collect()
    }

    /// The summary of a function: this file's definition first, else the
    /// tree-wide one.
    fn summary_of(&self, name: &str) -> Option<Summary> {
        if let Some(func) = self.idx.functions.get(name).copied() {
            if !self.related.contains(name) {
                return None;
            }
            if let Some(s) = self.memo.borrow().get(name) {
                return s.clone();
            }
            if !self.busy.borrow_mut().insert(name.to_string()) {
                return None; // recursion: no summary inside the cycle
            }
            let s = self.analyze(func).map(|a| a.summary);
            self.busy.borrow_mut().remove(name);
            self.memo.borrow_mut().insert(name.to_string(), s.clone());
            return s;
        }
        self.global.get(name).cloned()
    }

    fn analyze(&self, func: Node<'a>) -> Option<Analysis> {
        if has_error(func) {
            return None; // an ERROR node hides statements: no verdict.
        }
        let body = func.child_by_field_name("body")?;
        let src = &self.file.src;
        let params = param_names(func, src);
        let locals: HashSet<String> = descendants_of_kind(body, "init_declarator")
            .into_iter()
            .chain(descendants_of_kind(body, "declaration"))
            .filter_map(|d| declarator_name(d).map(|n| text(n, src).into_owned()))
            .collect();
        let mut cx = Cx {
            p: self,
            labels: HashMap::new(),
            seen_labels: HashSet::new(),
            frames: Vec::new(),
            exits: Vec::new(),
            found: Vec::new(),
            reported: HashSet::new(),
        };
        let end = cx.run(body, Some(State::default()));
        if let Some(state) = end {
            cx.exits.push(Exit {
                state,
                at: None,
                ret: Ret::Void,
            });
        }
        let ends_itself = crate::scan::kernel_c::calls_in(body)
            .into_iter()
            .any(|c| callee_name(c, src).is_some_and(|n| self.api.role(&n) == Some(Role::End)));
        let summary = cx.finish(&params, &locals, ends_itself);
        Some(Analysis {
            diagnostics: cx.found,
            summary: Summary {
                opens: summary,
                params,
            },
        })
    }
}

fn param_names(func: Node, src: &[u8]) -> Vec<String> {
    let Some(params) = super::api::parameter_list(func) else {
        return Vec::new();
    };
    let mut c = params.walk();
    params
        .named_children(&mut c)
        .filter(|p| p.kind() == "parameter_declaration")
        .map(|p| {
            crate::scan::kernel_c::declarator_name(p)
                .map(|n| text(n, src).into_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// A bracket is named by its arguments, spaces removed; one that takes a
/// range structure by the range variable (`&range` and a pointer `range`
/// alike), not by the bounds it holds.
type Key = Vec<String>;

fn bracket_key(args: &[String]) -> Key {
    match args {
        [one] => vec![BracketApi::range_variable(&squash(one)).to_string()],
        _ => args.iter().map(|a| squash(a)).collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// Opened on every path that reaches here.
    Open,
    /// Open exactly when all these conditions hold.
    Cond(Vec<Lit>),
    /// Opened on some paths only, in ways that cannot be told apart (an
    /// end on some later branch is taken to be under the same condition).
    MaybeOpen,
    /// Open on some path that reaches here and closed on another: the
    /// open one leaks unless an end follows.
    Leaky,
    Closed,
    /// Never opened on this path: its condition is known to be false.
    Never,
}

impl Status {
    fn is_open(&self) -> bool {
        !matches!(self, Status::Closed | Status::Never)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    status: Status,
    /// Where the start is, for messages.
    start_line: usize,
    start_col: usize,
    /// How messages name the start, backquoted.
    start_text: String,
    /// The start call itself (inside a helper, for a bracket a helper
    /// opened), for the summaries.
    origin: String,
    /// The jump that took this path away from the straight line
    /// (`goto out` at line N), where a leak is best reported.
    via: Option<(String, usize, usize)>,
    /// For `Open`: the condition a branch found true to make it open, so
    /// that merging with the other branch gives the condition back.
    implied: Option<Vec<Lit>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct State(BTreeMap<Key, Entry>);

impl State {
    fn merge(mut self, other: State) -> State {
        let keys: HashSet<Key> = self.0.keys().chain(other.0.keys()).cloned().collect();
        let mut other = other.0;
        for k in keys {
            let merged = match (self.0.remove(&k), other.remove(&k)) {
                (Some(a), Some(b)) => merge_entries(a, b),
                (Some(a), None) | (None, Some(a)) => one_sided(a),
                (None, None) => continue,
            };
            self.0.insert(k, merged);
        }
        self
    }

    /// The state as it leaves through a jump at `node`.
    fn via(mut self, what: String, node: Node) -> State {
        let p = node.start_position();
        for e in self.0.values_mut() {
            if e.status.is_open() && e.via.is_none() {
                e.via = Some((what.clone(), p.row + 1, p.column + 1));
            }
        }
        self
    }
}

/// A bracket present on one of two merging paths only (never opened on
/// the other).
fn one_sided(a: Entry) -> Entry {
    let status = match a.status {
        Status::Closed | Status::Never => Status::Closed,
        Status::Cond(c) => Status::Cond(c),
        Status::Leaky => Status::Leaky,
        Status::Open | Status::MaybeOpen => Status::MaybeOpen,
    };
    Entry {
        status,
        implied: None,
        ..a
    }
}

fn merge_entries(a: Entry, b: Entry) -> Entry {
    use Status::*;
    let cond_of = |e: &Entry| match (&e.status, &e.implied) {
        (Cond(c), _) => Some(c.clone()),
        (Open, Some(c)) => Some(c.clone()),
        _ => None,
    };
    let (status, keep_a) = match (&a.status, &b.status) {
        (Open, Open) if a.implied == b.implied => (Open, true),
        (Never, Never) => (Never, true),
        (Closed | Never, Closed | Never) => (Closed, true),
        (Open | Cond(_), Open | Cond(_)) if cond_of(&a).is_some() && cond_of(&a) == cond_of(&b) => {
            (Cond(cond_of(&a).expect("checked")), true)
        }
        (Open | Cond(_), Never) if cond_of(&a).is_some() => {
            (Cond(cond_of(&a).expect("some")), true)
        }
        (Never, Open | Cond(_)) if cond_of(&b).is_some() => {
            (Cond(cond_of(&b).expect("some")), false)
        }
        // Closed on one path and opened under an unknown condition on the
        // other: the end is taken to be under the same condition.
        (MaybeOpen, Closed | Never) => (Closed, false),
        (Closed | Never, MaybeOpen) => (Closed, true),
        (MaybeOpen, MaybeOpen | Cond(_)) => (MaybeOpen, true),
        (Cond(_), MaybeOpen) => (MaybeOpen, false),
        // Open (or open under a known condition) on one path, closed on
        // another: that path leaks.
        (Closed, _) => (Leaky, false),
        (_, Closed) => (Leaky, true),
        (Never, _) => (MaybeOpen, false),
        (_, Never) => (MaybeOpen, true),
        (Open | Leaky, _) => (Leaky, true),
        (_, Open | Leaky) => (Leaky, false),
        (Cond(_), Cond(_)) => (MaybeOpen, true),
    };
    let implied = if status == Open {
        a.implied.clone()
    } else {
        None
    };
    let e = if keep_a { a } else { b };
    Entry {
        status,
        implied,
        ..e
    }
}

/// At a merge of the two branches of an `if`, a bracket opened on one of
/// them only is open when that branch's condition holds.
fn merge_if(
    before: &State,
    then_flow: Option<State>,
    else_flow: Option<State>,
    then_lits: Option<Vec<Lit>>,
    else_lits: Option<Vec<Lit>>,
) -> Option<State> {
    let (Some(t), Some(mut e)) = (then_flow.clone(), else_flow.clone()) else {
        return merge_all([then_flow, else_flow]);
    };
    let mut out = State::default();
    for (k, a) in t.0 {
        let existed = before.0.get(&k).is_some_and(|x| x.status.is_open());
        let merged = match e.0.remove(&k) {
            // Opened on one branch; on the other it is as it was before
            // (not open): open when that branch's condition holds.
            Some(b) if !existed && !b.status.is_open() && a.status.is_open() => {
                opened_on_one_branch(&a, then_lits.as_ref())
            }
            Some(b) if !existed && !a.status.is_open() && b.status.is_open() => {
                opened_on_one_branch(&b, else_lits.as_ref())
            }
            Some(b) => merge_entries(a, b),
            None if !existed => opened_on_one_branch(&a, then_lits.as_ref()),
            None => one_sided(a),
        };
        out.0.insert(k, merged);
    }
    for (k, b) in e.0 {
        let existed = before.0.get(&k).is_some_and(|x| x.status.is_open());
        let merged = if existed {
            one_sided(b)
        } else {
            opened_on_one_branch(&b, else_lits.as_ref())
        };
        out.0.insert(k, merged);
    }
    Some(out)
}

fn opened_on_one_branch(e: &Entry, lits: Option<&Vec<Lit>>) -> Entry {
    let status = match (&e.status, lits) {
        (Status::Open, Some(l)) => {
            let mut l = l.clone();
            l.sort();
            l.dedup();
            Status::Cond(l)
        }
        (Status::Cond(c), Some(l)) => {
            let mut all = c.clone();
            all.extend(l.iter().cloned());
            all.sort();
            all.dedup();
            Status::Cond(all)
        }
        _ => return one_sided(e.clone()),
    };
    Entry {
        status,
        ..e.clone()
    }
}

fn merge_all(flows: impl IntoIterator<Item = Option<State>>) -> Option<State> {
    flows.into_iter().flatten().reduce(State::merge)
}

/// A loop or a switch: where `break` (and for loops `continue`) go.
struct Frame {
    is_loop: bool,
    breaks: Vec<State>,
    continues: Vec<State>,
}

/// What a `return` returns, as far as success and failure go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ret {
    Void,
    /// `0`, `NULL`, `false`.
    Zero,
    /// `-EINVAL`, `ERR_PTR(...)`: failure, whatever the convention.
    Error,
    /// `1`, `true`: non-zero, not an error.
    NonZero,
    /// A variable or call whose value is not known here (its text).
    Value(String),
}

struct Exit<'t> {
    state: State,
    at: Option<Node<'t>>,
    ret: Ret,
}

struct Cx<'p, 'a, 'f> {
    p: &'p Pairing<'a, 'f>,
    /// States carried by forward gotos, by label.
    labels: HashMap<String, Vec<State>>,
    seen_labels: HashSet<String>,
    frames: Vec<Frame>,
    exits: Vec<Exit<'a>>,
    found: Vec<Diagnostic>,
    /// (start line, report line, column) already reported.
    reported: HashSet<(usize, usize, usize)>,
}

impl<'a> Cx<'_, 'a, '_> {
    fn src(&self) -> &[u8] {
        &self.p.file.src
    }

    fn rules(&self) -> &CheckRules {
        self.p.rules
    }

    /// Runs `stmt` from `state` (`None`: unreachable); returns the state
    /// where it falls through, `None` when it never does.
    fn run(&mut self, stmt: Node<'a>, state: Option<State>) -> Option<State> {
        match stmt.kind() {
            "compound_statement" | "translation_unit" => {
                let mut s = state;
                let mut c = stmt.walk();
                let children: Vec<Node> = stmt.named_children(&mut c).collect();
                for child in children {
                    s = self.run(child, s);
                }
                s
            }
            "labeled_statement" => {
                let label = stmt
                    .child_by_field_name("label")
                    .map(|l| text(l, self.src()).into_owned())
                    .unwrap_or_default();
                self.seen_labels.insert(label.clone());
                let incoming = self.labels.remove(&label).unwrap_or_default();
                let s = merge_all(std::iter::once(state).chain(incoming.into_iter().map(Some)));
                let mut c = stmt.walk();
                let inner: Vec<Node> = stmt
                    .named_children(&mut c)
                    .filter(|n| n.kind() != "statement_identifier")
                    .collect();
                let mut s = s;
                for n in inner {
                    s = self.run(n, s);
                }
                s
            }
            "preproc_ifdef" | "preproc_if" | "preproc_else" | "preproc_elif" => {
                self.run_preproc(stmt, state)
            }
            _ => {
                let state = state?;
                self.run_reachable(stmt, state)
            }
        }
    }

    fn run_reachable(&mut self, stmt: Node<'a>, state: State) -> Option<State> {
        match stmt.kind() {
            "return_statement" => {
                let s = self.apply(stmt, state);
                let ret = self.returned(stmt);
                self.exits.push(Exit {
                    state: s,
                    at: Some(stmt),
                    ret,
                });
                None
            }
            "goto_statement" => {
                let label = stmt
                    .child_by_field_name("label")
                    .map(|l| text(l, self.src()).into_owned())
                    .unwrap_or_default();
                if !self.seen_labels.contains(&label) {
                    let s = state.via(format!("goto {label}"), stmt);
                    self.labels.entry(label).or_default().push(s);
                }
                None
            }
            "break_statement" => {
                let s = state.via("break".into(), stmt);
                if let Some(f) = self.frames.last_mut() {
                    f.breaks.push(s);
                }
                None
            }
            "continue_statement" => {
                let s = state.via("continue".into(), stmt);
                if let Some(f) = self.frames.iter_mut().rev().find(|f| f.is_loop) {
                    f.continues.push(s);
                }
                None
            }
            "if_statement" => self.run_if(stmt, state),
            "else_clause" => {
                let inner = stmt.named_child(0)?;
                self.run(inner, Some(state))
            }
            "while_statement" | "for_statement" | "do_statement" => self.run_loop(stmt, state),
            "switch_statement" => self.run_switch(stmt, state),
            _ => Some(self.apply(stmt, state)),
        }
    }

    fn run_if(&mut self, stmt: Node<'a>, state: State) -> Option<State> {
        let cond = stmt.child_by_field_name("condition");
        let s = match cond {
            Some(c) => self.apply(c, state),
            None => state,
        };
        let before = s.clone();
        let (then_lits, else_lits) = match cond {
            Some(c) => (self.lits(c, true), self.lits(c, false)),
            None => (None, None),
        };
        let then_in = cond.map_or(s.clone(), |c| self.refine(s.clone(), c, true));
        let else_in = cond.map_or(s.clone(), |c| self.refine(s, c, false));
        let consequence = stmt.child_by_field_name("consequence");
        let then_flow = match consequence {
            Some(c) => self.run(c, Some(then_in)),
            None => Some(then_in),
        };
        let else_flow = match stmt.child_by_field_name("alternative") {
            Some(alt) => self.run(alt, Some(else_in)),
            None => Some(else_in),
        };
        // `if (!flag) { flag = x; start }`: the bracket is open when the
        // flag is set.  A range's own member is set by its init
        // (`if (!range.start) { init(&range, ...); start(&range); }`).
        let then_lits = then_lits.map(|l| match (l.as_slice(), consequence) {
            ([one], Some(c))
                if !one.truthy
                    && (assigns(c, &one.text, self.src()) || self.init_sets(c, &one.text)) =>
            {
                vec![Lit {
                    truthy: true,
                    ..one.clone()
                }]
            }
            _ => l,
        });
        merge_if(&before, then_flow, else_flow, then_lits, else_lits)
    }

    fn run_loop(&mut self, lp: Node<'a>, state: State) -> Option<State> {
        let mut s = state;
        // `for (init; cond; update)`: init and the first condition run
        // before the body; a `while` condition runs first too.
        for field in ["initializer", "condition"] {
            if lp.kind() != "do_statement"
                && let Some(n) = lp.child_by_field_name(field)
            {
                s = self.apply(n, s);
            }
        }
        self.frames.push(Frame {
            is_loop: true,
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        let body_flow = match lp.child_by_field_name("body") {
            Some(b) => self.run(b, Some(s.clone())),
            None => Some(s.clone()),
        };
        let frame = self.frames.pop().expect("pushed above");
        merge_all(
            std::iter::once(body_flow)
                .chain(frame.continues.into_iter().map(Some))
                .chain(frame.breaks.into_iter().map(Some)),
        )
    }

    fn run_switch(&mut self, sw: Node<'a>, state: State) -> Option<State> {
        let s = match sw.child_by_field_name("condition") {
            Some(c) => self.apply(c, state),
            None => state,
        };
        let Some(body) = sw.child_by_field_name("body") else {
            return Some(s);
        };
        self.frames.push(Frame {
            is_loop: false,
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        let mut fall: Option<State> = None;
        let mut has_default = false;
        let mut c = body.walk();
        let cases: Vec<Node> = body.named_children(&mut c).collect();
        for case in cases {
            if case.kind() != "case_statement" {
                fall = self.run(case, fall);
                continue;
            }
            if case.child_by_field_name("value").is_none() {
                has_default = true;
            }
            let mut st = merge_all([Some(s.clone()), fall]);
            let mut cc = case.walk();
            let stmts: Vec<Node> = case
                .named_children(&mut cc)
                .filter(|n| Some(n.id()) != case.child_by_field_name("value").map(|v| v.id()))
                .collect();
            for n in stmts {
                st = self.run(n, st);
            }
            fall = st;
        }
        let frame = self.frames.pop().expect("pushed above");
        let entry = (!has_default).then_some(s);
        merge_all(
            [fall, entry]
                .into_iter()
                .chain(frame.breaks.into_iter().map(Some)),
        )
    }

    /// `#ifdef` body as configured in, merged with its `#else` if any.
    fn run_preproc(&mut self, stmt: Node<'a>, state: Option<State>) -> Option<State> {
        let alternative = stmt.child_by_field_name("alternative");
        let mut s = state.clone();
        let mut c = stmt.walk();
        let children: Vec<Node> = stmt.named_children(&mut c).collect();
        for child in children {
            if Some(child.id()) == alternative.map(|a| a.id())
                || Some(child.id()) == stmt.child_by_field_name("condition").map(|n| n.id())
                || Some(child.id()) == stmt.child_by_field_name("name").map(|n| n.id())
            {
                continue;
            }
            s = self.run(child, s);
        }
        match alternative {
            Some(alt) => {
                let other = self.run(alt, state);
                merge_all([s, other])
            }
            None => s,
        }
    }

    /// Applies what an expression-level node does, in source order: the
    /// bracket calls, calls of functions that hand a bracket over, the
    /// accessed-bit tests (W2), and assignments to a variable a condition
    /// depends on (which make that condition unknown).
    fn apply(&mut self, node: Node<'a>, mut state: State) -> State {
        for n in effects_in(node) {
            if n.kind() != "call_expression" {
                self.assigned(n, &mut state);
                continue;
            }
            let Some(name) = callee_name(n, self.src()) else {
                continue;
            };
            if self.rules().is_young_call(&name) {
                self.young(n, &name, &state);
            }
            match self.p.api.role(&name) {
                Some(Role::Start { can_fail }) => {
                    let key = self.range_key(n, bracket_key(&call_args(n, self.src())));
                    let when = if can_fail { When::Zero } else { When::Always };
                    let origin = format!("{name}({})", call_args(n, self.src()).join(", "));
                    let what = format!("`{origin}`");
                    self.open(&mut state, n, (key, when, Vec::new()), (what, origin));
                }
                Some(Role::End) => self.end(n, &name, &mut state),
                None => {
                    if let Some(summary) = self.p.summary_of(&name) {
                        self.apply_summary(n, &name, &summary, &mut state);
                    }
                }
            }
        }
        state
    }

    /// An assignment or `++`/`--` of a variable some open bracket's
    /// condition names: the condition no longer says anything.
    fn assigned(&self, n: Node, state: &mut State) {
        let target = n
            .child_by_field_name("left")
            .or_else(|| n.child_by_field_name("argument"));
        let Some(t) = target else { return };
        let name = squash(&text(strip_parens_casts(t), self.src()));
        for e in state.0.values_mut() {
            if let Status::Cond(lits) = &e.status
                && lits.iter().any(|l| l.text == name)
            {
                e.status = Status::MaybeOpen;
            }
        }
    }

    /// Opens the bracket `key` at `call`: always, or when the call's
    /// result says so, under `guard`; `what` is how messages name the
    /// start, `origin` the start call itself.
    fn open(
        &mut self,
        state: &mut State,
        call: Node,
        (key, when, mut guard): (Key, When, Vec<Lit>),
        (what, origin): (String, String),
    ) {
        if matches!(state.0.get(&key), Some(e) if e.status.is_open()) {
            return;
        }
        if when != When::Always {
            guard.push(Lit {
                text: self.result_of(call),
                truthy: when == When::NonZero,
                result: true,
            });
        }
        let status = if guard.is_empty() {
            Status::Open
        } else {
            guard.sort();
            guard.dedup();
            Status::Cond(guard)
        };
        state.0.insert(
            key,
            Entry {
                status,
                start_line: call.start_position().row + 1,
                start_col: call.start_position().column + 1,
                start_text: what,
                origin,
                via: None,
                implied: None,
            },
        );
    }

    /// Whether `block` calls the range init on a range whose member
    /// `member_text` is (`range.start`, `r->start`).
    fn init_sets(&self, block: Node, member_text: &str) -> bool {
        let init = &self.p.api.init;
        let members = [
            self.rules().range.mm_member,
            self.rules().range.start_member,
            self.rules().range.end_member,
        ];
        crate::scan::kernel_c::calls_in(block)
            .into_iter()
            .filter(|c| callee_name(*c, self.src()).is_some_and(|n| n == init.name))
            .filter_map(|c| call_args(c, self.src()).get(init.range).map(|a| squash(a)))
            .any(|arg| {
                let var = BracketApi::range_variable(&arg);
                members.iter().any(|m| {
                    member_text == format!("{var}.{m}") || member_text == format!("{var}->{m}")
                })
            })
    }

    /// A range variable that is a local pointer only ever set to the
    /// address of another (`r = &range`) is that other.
    fn range_key(&self, call: Node, key: Key) -> Key {
        let [var] = key.as_slice() else {
            return key;
        };
        let Some(func) = crate::scan::kernel_c::enclosing_function(call) else {
            return key;
        };
        match values_of(func, var, self.src()).as_slice() {
            [only] if only.starts_with('&') => {
                vec![BracketApi::range_variable(only).to_string()]
            }
            _ => key,
        }
    }

    /// What names the result of `call` in later conditions: the variable
    /// it is assigned to (`ret = f(...)`, `int ret = f(...)`, also inside
    /// `!(...)` or a macro's argument), else the call itself.
    fn result_of(&self, call: Node) -> String {
        let mut n = call;
        while let Some(p) = n.parent() {
            match p.kind() {
                "parenthesized_expression" | "cast_expression" => n = p,
                "assignment_expression"
                    if p.child_by_field_name("right").map(|r| r.id()) == Some(n.id()) =>
                {
                    if let Some(l) = p.child_by_field_name("left") {
                        return squash(&text(l, self.src()));
                    }
                    break;
                }
                "init_declarator" => {
                    if let Some(d) = declarator_name(p) {
                        return squash(&text(d, self.src()));
                    }
                    break;
                }
                _ => break,
            }
        }
        squash(&text(call, self.src()))
    }

    fn end(&mut self, call: Node, name: &str, state: &mut State) {
        let args = call_args(call, self.src());
        let key = self.range_key(call, bracket_key(&args));
        match state.0.get_mut(&key) {
            Some(e) if e.status.is_open() => {
                let failed = match &e.status {
                    Status::Cond(lits) => lits.iter().find(|l| l.result).cloned(),
                    _ => None,
                };
                e.status = Status::Closed;
                e.via = None;
                e.implied = None;
                if let Some(l) = failed {
                    let message = format!(
                        "`{name}({})` also runs when {} failed (`{}` is not tested before it): \
                         after a failed start no end is due",
                        args.join(", "),
                        e.start_text,
                        l.text
                    );
                    let d = diag(self.p.file, call, "E2", Severity::Error, message);
                    if self.reported.insert((0, d.line, d.column)) {
                        self.found.push(d);
                    }
                }
            }
            _ => self.unmatched_end(call, name, &args, state),
        }
    }

    fn unmatched_end(&mut self, call: Node, name: &str, args: &[String], state: &State) {
        let mm = args.first().map(|a| squash(a)).unwrap_or_default();
        // Another bracket of the same mm, or in the structure form another
        // range variable, is open: the end names the wrong one.
        let open_other = state.0.iter().find(|(k, e)| {
            e.status.is_open()
                && match (k.len(), args.len()) {
                    (1, 1) => true,
                    (1, _) | (_, 1) => false,
                    _ => k.first() == Some(&mm),
                }
        });
        let message = match open_other {
            Some((k, e)) => format!(
                "`{name}({})` does not match the open {} at line {} ({})",
                args.join(", "),
                e.start_text,
                e.start_line,
                if k.len() == 1 {
                    "another range"
                } else {
                    "same mm, different range"
                }
            ),
            None => format!(
                "`{name}({})` without a matching start on this path",
                args.join(", "),
            ),
        };
        let d = diag(self.p.file, call, "E2", Severity::Error, message);
        if self.reported.insert((0, d.line, d.column)) {
            self.found.push(d);
        }
    }

    /// A call of a function that hands brackets over: each one, in the
    /// caller's terms, opens here.
    fn apply_summary(&mut self, call: Node, name: &str, summary: &Summary, state: &mut State) {
        let args: Vec<String> = call_args(call, self.src())
            .iter()
            .map(|a| squash(a))
            .collect();
        if args.len() != summary.params.len() {
            return;
        }
        for h in &summary.opens {
            let Some(key) = h
                .key
                .iter()
                .map(|k| substitute(k, &summary.params, &args))
                .collect::<Option<Vec<String>>>()
                .map(|k| self.range_key(call, bracket_key(&k)))
            else {
                continue; // a NULL the bracket would dereference: none
            };
            let mut guard = Vec::new();
            let mut holds = true;
            for g in &h.guard {
                let Some(t) = substitute(&g.text, &summary.params, &args) else {
                    holds = false;
                    break;
                };
                match known_truth(&t) {
                    Some(v) if v != g.truthy => {
                        holds = false;
                        break;
                    }
                    Some(_) => {}
                    None => guard.push(Lit {
                        text: t,
                        ..g.clone()
                    }),
                }
            }
            if !holds {
                continue;
            }
            let what = format!(
                "`{name}({})` (which returns with `{}` open)",
                call_args(call, self.src()).join(", "),
                h.start_text
            );
            self.open(
                state,
                call,
                (key, h.when, guard),
                (what, h.start_text.clone()),
            );
        }
    }

    /// W2: an accessed-bit test while a bracket of the same mm is open.
    fn young(&mut self, call: Node, name: &str, state: &State) {
        let args = call_args(call, self.src());
        let Some(first) = args.first().map(|a| squash(a)) else {
            return;
        };
        let field = self.rules().vma_mm_field;
        let mms = [
            first.clone(),
            format!("{first}->{field}"),
            format!("({first})->{field}"),
        ];
        // The bracket's mm may be a local that holds the vma's
        // (`struct mm_struct *mm = vma->vm_mm;`).
        let func = crate::scan::kernel_c::enclosing_function(call);
        let same_mm = |mm: &String| {
            mms.contains(mm)
                || func
                    .is_some_and(|f| values_of(f, mm, self.src()).iter().any(|v| mms.contains(v)))
        };
        // A range structure's mm is the one its init stored; a bracket
        // whose mm is not known is taken to be of the same mm.
        let mm_of = |k: &Key| match k.as_slice() {
            [_, _, _] => k.first().cloned(),
            [range] => func
                .and_then(|f| {
                    range_init_args(f, range, &self.p.api.init, call.start_byte(), self.src())
                })
                .map(|a| a.mm),
            _ => None,
        };
        let Some((_, e)) = state
            .0
            .iter()
            .find(|(k, e)| e.status.is_open() && mm_of(k).is_none_or(|mm| same_mm(&mm)))
        else {
            return;
        };
        let message = format!(
            "`{name}({})` tests the accessed bit inside the bracket opened by {} at line {}: \
             secondary MMUs that drop their mappings when the bracket opens have \
             already done so, so their accessed bit is never seen and the page looks unused",
            args.join(", "),
            e.start_text,
            e.start_line
        );
        let d = diag(self.p.file, call, "W2", Severity::Warning, message);
        if self.reported.insert((1, d.line, d.column)) {
            self.found.push(d);
        }
    }

    /// What a `return` statement returns.
    fn returned(&self, stmt: Node) -> Ret {
        let mut c = stmt.walk();
        let Some(expr) = stmt
            .named_children(&mut c)
            .find(|n| n.kind() != "comment")
            .map(strip_parens_casts)
        else {
            return Ret::Void;
        };
        let t = squash(&text(expr, self.src()));
        match expr.kind() {
            "number_literal" => {
                if t.trim_end_matches(['u', 'U', 'l', 'L']) == "0" {
                    Ret::Zero
                } else {
                    Ret::NonZero
                }
            }
            "null" => Ret::Zero,
            "false" => Ret::Zero,
            "true" => Ret::NonZero,
            "identifier" if t == "NULL" || t == "false" => Ret::Zero,
            "identifier" if t == "true" => Ret::NonZero,
            "unary_expression" if t.starts_with('-') => Ret::Error,
            "call_expression"
                if callee_name(expr, self.src()).is_some_and(|n| n.starts_with("ERR_PTR")) =>
            {
                Ret::Error
            }
            _ => Ret::Value(t),
        }
    }

    /// The literals `cond` implies when it is `truth`, if it is a
    /// conjunction of them (`a && !b` true, `a || b` false, `!a`, `x == 0`).
    fn lits(&self, cond: Node, truth: bool) -> Option<Vec<Lit>> {
        let src = self.src();
        let e = self.unwrap_cond(cond);
        match e.kind() {
            "unary_expression" if operator(e, src).as_deref() == Some("!") => {
                self.lits(e.child_by_field_name("argument")?, !truth)
            }
            "binary_expression" => {
                let op = operator(e, src)?.into_owned();
                let (l, r) = (
                    e.child_by_field_name("left")?,
                    e.child_by_field_name("right")?,
                );
                match (op.as_str(), truth) {
                    ("&&", true) | ("||", false) => {
                        let mut out = self.lits(l, truth)?;
                        out.extend(self.lits(r, truth)?);
                        Some(out)
                    }
                    ("&&", false) | ("||", true) => None,
                    ("==" | "!=", _) => {
                        let (var, zero) = if is_zero(r, src) {
                            (l, true)
                        } else if is_zero(l, src) {
                            (r, true)
                        } else {
                            (e, false)
                        };
                        if !zero {
                            return Some(vec![self.lit(e, truth)]);
                        }
                        let nonzero = (op == "!=") == truth;
                        self.lits(var, nonzero)
                    }
                    ("<", true) if is_zero(r, src) => self.lits(l, true),
                    ("<", false) if is_zero(r, src) => None,
                    _ => Some(vec![self.lit(e, truth)]),
                }
            }
            "assignment_expression" => self.lits(e.child_by_field_name("left")?, truth),
            _ => Some(vec![self.lit(e, truth)]),
        }
    }

    fn lit(&self, e: Node, truth: bool) -> Lit {
        Lit {
            text: squash(&text(e, self.src())),
            truthy: truth,
            result: false,
        }
    }

    /// `cond` without parentheses, casts and `likely()`/`unlikely()`.
    fn unwrap_cond<'n>(&self, cond: Node<'n>) -> Node<'n> {
        let mut e = strip_parens_casts(cond);
        while e.kind() == "call_expression"
            && callee_name(e, self.src())
                .is_some_and(|n| self.rules().condition_wrappers.contains(&n.as_str()))
        {
            let Some(arg) = e
                .child_by_field_name("arguments")
                .and_then(|a| a.named_child(0))
            else {
                break;
            };
            e = strip_parens_casts(arg);
        }
        e
    }

    /// The state on the branch where `cond` is `truth`: conditional
    /// brackets whose condition it settles are open, or were never opened.
    fn refine(&self, mut state: State, cond: Node, truth: bool) -> State {
        let known = self.lits(cond, truth);
        // `if (a && b)` false says nothing about a or b alone, but a
        // bracket open exactly when both hold is not open.
        let denied = match (&known, truth) {
            (None, false) => self.lits(cond, true),
            _ => None,
        };
        let mut gone = Vec::new();
        for (k, e) in state.0.iter_mut() {
            let Status::Cond(conj) = &e.status else {
                continue;
            };
            let mut conj = conj.clone();
            if let Some(known) = &known {
                let mut contradicted = false;
                for l in known {
                    if let Some(pos) = conj.iter().position(|c| c.text == l.text) {
                        if conj[pos].truthy == l.truthy {
                            conj.remove(pos);
                        } else {
                            contradicted = true;
                        }
                    }
                }
                if contradicted {
                    gone.push(k.clone());
                    continue;
                }
            }
            if let Some(d) = &denied
                && d.iter().all(|l| {
                    conj.iter()
                        .any(|c| c.text == l.text && c.truthy == l.truthy)
                })
            {
                gone.push(k.clone());
                continue;
            }
            if conj.is_empty() {
                let Status::Cond(was) = std::mem::replace(&mut e.status, Status::Open) else {
                    unreachable!("matched Cond above")
                };
                e.implied = Some(was);
            } else {
                e.status = Status::Cond(conj);
            }
        }
        for k in gone {
            if let Some(e) = state.0.get_mut(&k) {
                e.status = Status::Never;
                e.via = None;
            }
        }
        state
    }

    /// Decides, once every path out is known, which brackets the function
    /// hands over to its caller and which leak (reported here).
    fn finish(
        &mut self,
        params: &[String],
        locals: &HashSet<String>,
        ends_itself: bool,
    ) -> Vec<Handed> {
        let exits = std::mem::take(&mut self.exits);
        let mut handed = Vec::new();
        for key in open_keys(&exits) {
            let expressible =
                key.iter().all(|part| names_only(part, params, locals)) && !key.is_empty();
            let ExitStates {
                open,
                mut leaks,
                closed,
            } = exit_states(&exits, &key, params, locals);
            let decided = if expressible && !open.is_empty() {
                self.hand_over(&exits, &open, &closed, ends_itself)
            } else {
                None
            };
            match decided {
                Some((when, guard)) => {
                    // Failure paths with the bracket open leak.
                    for (i, _, w) in &open {
                        if !agrees(&exits[*i].ret, *w, when) {
                            leaks.push(*i);
                        }
                    }
                    let start_text = exits
                        .iter()
                        .find_map(|x| x.state.0.get(&key).map(|e| e.origin.clone()))
                        .unwrap_or_default();
                    handed.push(Handed {
                        key: key.clone(),
                        when,
                        guard,
                        start_text,
                    });
                }
                None => leaks.extend(open.iter().map(|(i, _, _)| *i)),
            }
            leaks.sort();
            leaks.dedup();
            for i in leaks {
                let e = exits[i]
                    .state
                    .0
                    .get(&key)
                    .expect("open at this exit")
                    .clone();
                self.leak(&e, exits[i].at);
            }
        }
        handed
    }

    /// Whether the exits say "open for the caller": at every exit
    /// (always, for a function that ends nothing itself), or at every
    /// success exit and no failure exit.
    fn hand_over(
        &self,
        exits: &[Exit],
        open: &[(usize, Vec<Lit>, Option<When>)],
        closed: &[usize],
        ends_itself: bool,
    ) -> Option<(When, Vec<Lit>)> {
        let guard = open[0].1.clone();
        if open.iter().any(|(_, g, _)| *g != guard) {
            return None;
        }
        // A helper that opens for its caller on every path is a pure
        // opener: one that also ends brackets itself and leaves one open
        // forgot an end.
        if closed.is_empty() && open.iter().all(|(_, _, w)| w.is_none()) && !ends_itself {
            return Some((When::Always, guard));
        }
        for when in [When::Zero, When::NonZero] {
            let successes: Vec<&(usize, Vec<Lit>, Option<When>)> = open
                .iter()
                .filter(|(i, _, w)| agrees(&exits[*i].ret, *w, when))
                .collect();
            let closed_ok = closed
                .iter()
                .all(|i| !is_success(&exits[*i].ret, when) || exits[*i].ret == Ret::Void);
            let has_void = open.iter().any(|(i, _, _)| exits[*i].ret == Ret::Void);
            if !successes.is_empty() && closed_ok && !has_void {
                return Some((when, guard));
            }
        }
        None
    }

    /// Reports a bracket left open where a path leaves the function.
    fn leak(&mut self, e: &Entry, at: Option<Node>) {
        let maybe = match &e.status {
            Status::MaybeOpen => " (opened under a condition)".to_string(),
            Status::Cond(l) => format!(
                " (opened when {})",
                l.iter()
                    .map(|l| if l.truthy {
                        format!("`{}`", l.text)
                    } else {
                        format!("`!{}`", l.text)
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            _ => String::new(),
        };
        let (line, column, how) = match (&e.via, at) {
            (Some((what, l, c)), Some(r)) => (
                *l,
                *c,
                format!(
                    "on the path through `{what}` at line {l} that returns at line {}",
                    r.start_position().row + 1
                ),
            ),
            (Some((what, l, c)), None) => {
                (*l, *c, format!("on the path through `{what}` at line {l}"))
            }
            (None, Some(r)) => (
                r.start_position().row + 1,
                r.start_position().column + 1,
                format!(
                    "on the path that returns at line {}",
                    r.start_position().row + 1
                ),
            ),
            (None, None) => (
                e.start_line,
                e.start_col,
                "before the function ends".to_string(),
            ),
        };
        if !self.reported.insert((e.start_line, line, column)) {
            return;
        }
        let message = format!(
            "{} at line {}{maybe} has no matching end {how}",
            e.start_text, e.start_line
        );
        let p = self.position_node(line, column);
        let mut d = diag(self.p.file, p, "E2", Severity::Error, message);
        d.line = line;
        d.column = column;
        self.found.push(d);
    }

    /// Some node on `line` to anchor a diagnostic (for its function name).
    fn position_node(&self, line: usize, column: usize) -> Node<'_> {
        let root = self.p.file.tree.root_node();
        let point = tree_sitter::Point {
            row: line - 1,
            column: column.saturating_sub(1),
        };
        root.descendant_for_point_range(point, point)
            .unwrap_or(root)
    }
}

/// The brackets open at some exit of the function, each once, sorted.
fn open_keys(exits: &[Exit]) -> Vec<Key> {
    let mut keys: Vec<Key> = exits
        .iter()
        .flat_map(|x| x.state.0.iter())
        .filter(|(_, e)| e.status.is_open())
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Where one bracket stands at each exit, by the exit's index.
struct ExitStates {
    /// Open, with the condition on the parameters (the guard) and on the
    /// return value.
    open: Vec<(usize, Vec<Lit>, Option<When>)>,
    leaks: Vec<usize>,
    closed: Vec<usize>,
}

/// Per exit: bracket `key` open (with the condition on the parameters
/// and the return value), leaking, or closed.
fn exit_states(
    exits: &[Exit],
    key: &Key,
    params: &[String],
    locals: &HashSet<String>,
) -> ExitStates {
    let mut states = ExitStates {
        open: Vec::new(),
        leaks: Vec::new(),
        closed: Vec::new(),
    };
    for (i, x) in exits.iter().enumerate() {
        match x.state.0.get(key).map(|e| &e.status) {
            None | Some(Status::Closed | Status::Never) => states.closed.push(i),
            Some(Status::MaybeOpen | Status::Leaky) => states.leaks.push(i),
            Some(Status::Open) => states.open.push((i, Vec::new(), None)),
            Some(Status::Cond(lits)) => match open_condition(lits, &x.ret, params, locals) {
                Some((guard, when)) => states.open.push((i, guard, when)),
                None => states.leaks.push(i),
            },
        }
    }
    states
}

/// The conditions `lits` under which a bracket is open at an exit that
/// returns `ret`, split into the guard and the test of the return value.
/// `None` when the caller could not test the guard: it is a start's
/// result or names more than the parameters and locals.
fn open_condition(
    lits: &[Lit],
    ret: &Ret,
    params: &[String],
    locals: &HashSet<String>,
) -> Option<(Vec<Lit>, Option<When>)> {
    let ret_text = match ret {
        Ret::Value(t) => Some(t.as_str()),
        _ => None,
    };
    let mut when = None;
    let mut guard = Vec::new();
    for l in lits {
        if Some(l.text.as_str()) == ret_text {
            when = Some(if l.truthy { When::NonZero } else { When::Zero });
        } else {
            guard.push(l.clone());
        }
    }
    if guard
        .iter()
        .all(|g| !g.result && names_only(&g.text, params, locals))
    {
        Some((guard, when))
    } else {
        None
    }
}

/// Whether an exit with return `ret` (and, for a bracket opened on the
/// result of a call, open when the returned value is `w`) is a success
/// exit of a function that opens on `when`.
fn agrees(ret: &Ret, w: Option<When>, when: When) -> bool {
    match w {
        Some(w) => w == when,
        None => is_success(ret, when),
    }
}

fn is_success(ret: &Ret, when: When) -> bool {
    match when {
        When::Always => true,
        When::Zero => *ret == Ret::Zero,
        When::NonZero => matches!(ret, Ret::NonZero | Ret::Value(_)),
    }
}

/// The nodes whose effect [`Cx::apply`] applies, in source order: calls,
/// and assignments (before the calls inside them).
fn effects_in(node: Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if matches!(
            n.kind(),
            "call_expression" | "assignment_expression" | "update_expression"
        ) {
            out.push(n);
        }
        // A nested function body (a statement expression's block is
        // fine) never appears in C; no special case.
        let mut cursor = n.walk();
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    // Arguments are evaluated before the call applies.
    out.sort_by_key(|n| {
        if n.kind() == "call_expression" {
            n.end_byte()
        } else {
            n.start_byte()
        }
    });
    out
}

/// The values assigned to the variable `name` in `func` (initialiser or
/// assignment), spaces removed.
fn values_of(func: Node, name: &str, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for d in descendants_of_kind(func, "init_declarator") {
        if declarator_name(d).is_some_and(|n| text(n, src) == name)
            && let Some(v) = d.child_by_field_name("value")
        {
            out.push(squash(&text(v, src)));
        }
    }
    for a in descendants_of_kind(func, "assignment_expression") {
        if a.child_by_field_name("left")
            .is_some_and(|l| squash(&text(l, src)) == name)
            && let Some(v) = a.child_by_field_name("right")
        {
            out.push(squash(&text(v, src)));
        }
    }
    out
}

/// The bounds a range variable was filled with: the arguments (spaces
/// removed) of the last `init(&range, mm, start, end)` of `range` in `func`
/// before byte `before`.
pub(crate) fn range_init_args(
    func: Node,
    range: &str,
    init: &super::api::RangeInit,
    before: usize,
    src: &[u8],
) -> Option<RangeBounds> {
    let last = crate::scan::kernel_c::calls_in(func)
        .into_iter()
        .filter(|c| c.start_byte() < before)
        .filter(|c| callee_name(*c, src).is_some_and(|n| n == init.name))
        .map(|c| (c.start_byte(), call_args(c, src)))
        .filter(|(_, a)| {
            a.get(init.range)
                .is_some_and(|r| BracketApi::range_variable(&squash(r)) == range)
        })
        .max_by_key(|(at, _)| *at)?
        .1;
    Some(RangeBounds {
        mm: squash(last.get(init.mm)?),
        start: squash(last.get(init.start)?),
        end: squash(last.get(init.end)?),
    })
}

/// What a range structure was filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeBounds {
    pub mm: String,
    pub start: String,
    pub end: String,
}

/// Whether the statement `block` assigns `name` a value other than zero.
fn assigns(block: Node, name: &str, src: &[u8]) -> bool {
    descendants_of_kind(block, "assignment_expression")
        .into_iter()
        .any(|a| {
            a.child_by_field_name("left")
                .is_some_and(|l| squash(&text(l, src)) == name)
                && a.child_by_field_name("right")
                    .is_some_and(|r| !is_zero(r, src))
        })
}

fn is_zero(n: Node, src: &[u8]) -> bool {
    let t = squash(&text(strip_parens_casts(n), src));
    matches!(t.as_str(), "0" | "NULL" | "false" | "0UL" | "0L")
}

/// Whether `expr` names only parameters and globals (no local variable),
/// so a caller can name it too.
fn names_only(expr: &str, params: &[String], locals: &HashSet<String>) -> bool {
    identifiers(expr)
        .into_iter()
        .all(|(id, field)| field || params.contains(&id) || !locals.contains(&id))
}

/// A piece of an expression text: an identifier (and whether it is a
/// member name, after `.` or `->`), or any other text.
enum Piece<'a> {
    Ident(&'a str, bool),
    Other(&'a str),
}

fn pieces(expr: &str) -> Vec<Piece<'_>> {
    use crate::scan::kernel_c::{is_ident_byte, is_ident_start};
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let s = i;
        if is_ident_start(b[i]) || b[i].is_ascii_digit() {
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            if is_ident_start(b[s]) {
                let field = expr[..s].ends_with('.') || expr[..s].ends_with("->");
                out.push(Piece::Ident(&expr[s..i], field));
                continue;
            }
        } else {
            i += expr[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push(Piece::Other(&expr[s..i]));
    }
    out
}

/// The identifiers of an expression text, each with whether it is a
/// member name.
fn identifiers(expr: &str) -> Vec<(String, bool)> {
    pieces(expr)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ident(id, field) => Some((id.to_string(), field)),
            Piece::Other(_) => None,
        })
        .collect()
}

/// `expr` (in terms of `params`) with the call's `args` put in, `*&x`
/// simplified to `x`; `None` when it would dereference a NULL argument.
fn substitute(expr: &str, params: &[String], args: &[String]) -> Option<String> {
    let whole = pieces(expr).len() == 1;
    let mut out = String::new();
    for p in pieces(expr) {
        let (id, field) = match p {
            Piece::Ident(id, field) => (id, field),
            Piece::Other(t) => {
                out.push_str(t);
                continue;
            }
        };
        let Some(k) = params.iter().position(|p| p == id).filter(|_| !field) else {
            out.push_str(id);
            continue;
        };
        let a = &args[k];
        let deref = out.ends_with('*');
        if deref && (a == "NULL" || a == "0") {
            return None;
        }
        if deref && let Some(inner) = a.strip_prefix('&') {
            out.pop();
            out.push_str(inner);
        } else if whole
            || a.bytes()
                .all(|c| crate::scan::kernel_c::is_ident_byte(c) || c == b'>' || c == b'.')
        {
            out.push_str(a);
        } else {
            out.push('(');
            out.push_str(a);
            out.push(')');
        }
    }
    Some(out)
}

/// The truth of a condition text when a caller's argument settles it:
/// `&x` is never NULL, `NULL` and `0` are false.
fn known_truth(t: &str) -> Option<bool> {
    let t = t.trim_start_matches('(').trim_end_matches(')');
    if t.starts_with('&') && !t.starts_with("&&") {
        return Some(true);
    }
    match t {
        "NULL" | "0" | "false" => Some(false),
        "true" | "1" => Some(true),
        _ => None,
    }
}

/// Argument text without white space, so that line breaks and spacing do
/// not make two identical ranges differ.
pub fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The function names of a file that the pairing analysis summarised as
/// handing a bracket over (for tests and messages).
#[allow(dead_code)]
pub(crate) fn summarised(file: &Source, rules: &CheckRules, api: &BracketApi) -> Vec<String> {
    let idx = FileIndex::new(file);
    let empty = HashMap::new();
    let p = Pairing::new(file, &idx, rules, api, &empty);
    let mut names: Vec<String> = p
        .related
        .iter()
        .filter(|n| p.summary_of(n).is_some_and(|s| !s.opens.is_empty()))
        .cloned()
        .collect();
    names.sort();
    let _ = function_name;
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_put_in_for_parameters() {
        let params: Vec<String> = ["mm", "start", "end"].map(String::from).to_vec();
        let args: Vec<String> = ["vma->vm_mm", "&s", "&e"].map(String::from).to_vec();
        assert_eq!(substitute("*start", &params, &args).as_deref(), Some("s"));
        assert_eq!(
            substitute("mm", &params, &args).as_deref(),
            Some("vma->vm_mm")
        );
        let null: Vec<String> = ["mm", "NULL", "NULL"].map(String::from).to_vec();
        assert_eq!(substitute("*start", &params, &null), None);
        assert_eq!(substitute("start", &params, &null).as_deref(), Some("NULL"));
        assert_eq!(known_truth("NULL"), Some(false));
        assert_eq!(known_truth("&s"), Some(true));
        assert_eq!(known_truth("s"), None);
        // A member named like a parameter is not the parameter.
        assert_eq!(
            substitute(
                "r->start",
                &["r".into(), "start".into()],
                &["&x".into(), "a".into()]
            )
            .as_deref(),
            Some("(&x)->start")
        );
    }
}
