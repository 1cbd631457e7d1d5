//! Is the page-table lock held at a call?
//!
//! A small abstract interpretation over the structured statements of one
//! function: the lock state is held, held if a result is (non-)zero, free
//! or unknown.  [`Locks`] says which calls take and drop the lock (the
//! recipe's primitives and the helpers learned from the tree) and which
//! loops run their body with it held (`while (page_vma_mapped_walk(&pvmw))`).
//! A helper that takes the lock only on success (`pte =
//! page_check_address(...)`, `if (follow_pte_pmd(...))`) holds it on the
//! branch of the test of its result that means success.  Branches that
//! always jump away (`return`, `break`, `continue`, `goto`) do not reach
//! the code after them and are left out of the merge.  `goto` targets are
//! not followed, and code under `#ifdef` is taken as configured in (with
//! its `#else` as the other branch): the evidence string says what was
//! seen, so a reviewer can check the conclusion.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use tree_sitter::Node;

use super::kernel_c::{call_args, callee_name, calls_in, strip_parens_casts, text};
use super::locks::{Locks, Taker};
use crate::recipe::Held;

/// The calls that took the lock on the paths that hold it, with their
/// argument texts.
pub type Takers = BTreeSet<(String, Vec<String>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Held(String, Takers),
    /// Held only if `var` is zero (`when_zero`) or non-zero: the result of
    /// a call that takes the lock on success, not tested yet.
    HeldIf {
        var: String,
        when_zero: bool,
        why: String,
        takers: Takers,
    },
    Free(String),
    Unknown(String),
}

impl State {
    fn merge(self, other: State) -> State {
        match (self, other) {
            (State::Held(a, ta), State::Held(b, tb)) => {
                State::Held(on_every_path(a, b), ta.union(&tb).cloned().collect())
            }
            (State::Free(a), State::Free(b)) => State::Free(on_every_path(a, b)),
            (a @ State::HeldIf { .. }, b) if a == b => a,
            (a, b) => State::Unknown(format!(
                "paths disagree ({}; {})",
                a.evidence(),
                b.evidence()
            )),
        }
    }

    fn evidence(&self) -> &str {
        match self {
            State::Held(e, _) | State::Free(e) | State::Unknown(e) => e,
            State::HeldIf { why, .. } => why,
        }
    }
}

/// The outcome of running a statement: the state where it falls through,
/// or `None` when it never does (it always jumps away).
type Flow = Option<State>;

/// Whether the page-table lock is held where `call` runs, and why.
pub fn lock_at(call: Node, func: Node, src: &[u8], locks: &Locks) -> (Option<bool>, String) {
    lock_at_cached(call, func, src, locks, &LockCache::default())
}

/// The states computed so far inside one syntax tree, so that the calls of
/// one function are not each analysed from the function's entry again (a
/// function with thousands of calls would take quadratic time).  Valid
/// for the trees of one parsed file: node ids are unique among them.
#[derive(Default)]
pub struct LockCache<'t> {
    blocks: RefCell<HashMap<usize, Block<'t>>>,
}

/// The state before each statement of a block, as far as computed.
struct Block<'t> {
    /// Its named children, in order.
    stmts: Vec<Node<'t>>,
    /// `before[k]`: the state where statement `k` starts; `before[0]` is
    /// the state the block was entered with.
    before: Vec<State>,
}

impl<'t> Block<'t> {
    fn new(block: Node<'t>, entry: State) -> Block<'t> {
        let mut cursor = block.walk();
        Block {
            stmts: block.named_children(&mut cursor).collect(),
            before: vec![entry],
        }
    }
}

/// [`lock_at`] sharing what `cache` already knows about the same tree.
pub fn lock_at_cached<'t>(
    call: Node<'t>,
    func: Node<'t>,
    src: &[u8],
    locks: &Locks,
    cache: &LockCache<'t>,
) -> (Option<bool>, String) {
    let Some(body) = func.child_by_field_name("body") else {
        return (None, "function has no body".into());
    };
    let cx = Cx { src, locks, cache };
    let state = cx.state_before(body, call, State::Free("function entry".into()));
    match state {
        State::Held(e, _) => (Some(true), e),
        State::Free(e) => (Some(false), e),
        State::Unknown(e) => (None, e),
        State::HeldIf { var, why, .. } if var.is_empty() => (
            None,
            format!("{why}, but whether it succeeded is not tested"),
        ),
        State::HeldIf { var, why, .. } => (
            None,
            format!(
                "{why}, but `{var}` is not tested before line {}",
                call.start_position().row + 1
            ),
        ),
    }
}

/// The lock state where a function returns.
#[derive(Debug, Clone)]
pub struct Exit<'t> {
    /// The `return` statement, or `None` for the end of the body.
    pub ret: Option<Node<'t>>,
    /// The returned expression.
    pub value: Option<Node<'t>>,
    pub state: ExitState,
    pub evidence: String,
}

/// The lock at a return: held, held if the returned value is (non-)zero,
/// free, or not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitState {
    Held(Takers),
    HeldIfResult { when_zero: bool, takers: Takers },
    Free,
    Unknown,
}

/// The lock state at every way out of `func`: each `return` (after its
/// value is computed) and the end of the body.
pub fn exits<'t>(func: Node<'t>, src: &[u8], locks: &Locks) -> Vec<Exit<'t>> {
    let Some(body) = func.child_by_field_name("body") else {
        return Vec::new();
    };
    let cache = LockCache::default();
    let cx = Cx {
        src,
        locks,
        cache: &cache,
    };
    let entry = State::Free("function entry".into());
    let mut out = Vec::new();
    for ret in super::kernel_c::descendants_of_kind(body, "return_statement") {
        let before = cx.state_before(body, ret, entry.clone());
        let value = ret.named_child(0).filter(|v| v.kind() != "comment");
        let state = cx.at_return(value, before);
        out.push(Exit {
            ret: Some(ret),
            value,
            evidence: state.evidence().to_string(),
            state: exit_state(state, value, src),
        });
    }
    if let Some(state) = cx.run(body, entry) {
        out.push(Exit {
            ret: None,
            value: None,
            evidence: state.evidence().to_string(),
            state: exit_state(state, None, src),
        });
    }
    out
}

fn exit_state(state: State, value: Option<Node>, src: &[u8]) -> ExitState {
    match state {
        State::Held(_, t) => ExitState::Held(t),
        State::Free(_) => ExitState::Free,
        State::Unknown(_) => ExitState::Unknown,
        State::HeldIf {
            var,
            when_zero,
            takers,
            ..
        } => {
            let returned = value.map(|v| text(strip_parens_casts(v), src).into_owned());
            if returned.as_deref() == Some(var.as_str()) || var.is_empty() {
                ExitState::HeldIfResult { when_zero, takers }
            } else {
                ExitState::Unknown
            }
        }
    }
}

struct Cx<'a, 't> {
    src: &'a [u8],
    locks: &'a Locks<'a>,
    cache: &'a LockCache<'t>,
}

impl<'t> Cx<'_, 't> {
    /// The state where `target` (a descendant of `node`) starts running.
    fn state_before(&self, node: Node<'t>, target: Node<'t>, state: State) -> State {
        if node.id() == target.id() {
            return state;
        }
        match node.kind() {
            "compound_statement" | "translation_unit" | "preproc_ifdef" | "preproc_if"
            | "preproc_else" | "preproc_elif" => match self.block_state_before(node, target, state)
            {
                Ok((child, s)) => self.state_before(child, target, s),
                Err(s) => s,
            },
            _ => self.state_after_header(node, target, state),
        }
    }

    /// The state where the statement of `block` holding `target` starts,
    /// and that statement (`Err` with the entry state when none holds it).
    /// Binary search over the statements, and a memo of the states before
    /// them.
    fn block_state_before(
        &self,
        block: Node<'t>,
        target: Node<'t>,
        state: State,
    ) -> Result<(Node<'t>, State), State> {
        // Out of the memo while statements run (a nested block may be
        // memoised meanwhile), back in afterwards.
        let cached = self.cache.blocks.borrow_mut().remove(&block.id());
        let mut b = match cached {
            Some(b) if b.before[0] == state => b,
            _ => Block::new(block, state.clone()),
        };
        let k = b
            .stmts
            .partition_point(|s| s.end_byte() < target.end_byte());
        let found = b
            .stmts
            .get(k)
            .copied()
            .filter(|c| c.start_byte() <= target.start_byte());
        if found.is_some() {
            while b.before.len() <= k {
                let i = b.before.len() - 1;
                let s = b.before[i].clone();
                let stmt = b.stmts[i];
                // Code after a jump is reachable only through a label we
                // do not follow: keep the state we had.
                let next = if is_preproc_alternative(block, stmt) {
                    s
                } else {
                    self.run(stmt, s.clone()).unwrap_or(s)
                };
                b.before.push(next);
            }
        }
        let result = match found {
            Some(child) => Ok((child, b.before[k].clone())),
            None => Err(state),
        };
        self.cache.blocks.borrow_mut().insert(block.id(), b);
        result
    }

    fn state_after_header(&self, node: Node<'t>, target: Node<'t>, state: State) -> State {
        let Some(child) = child_containing(node, target) else {
            return state;
        };
        match node.kind() {
            "while_statement" | "for_statement" | "do_statement" => {
                let s = self.loop_entry(node, state);
                self.state_before(child, target, s)
            }
            "if_statement" => {
                let (then_s, else_s) = self.branch_states(node, state);
                let inside_else = node
                    .child_by_field_name("alternative")
                    .is_some_and(|alt| alt.id() == child.id());
                self.state_before(child, target, if inside_else { else_s } else { then_s })
            }
            _ => self.state_before(child, target, state),
        }
    }

    /// State at the top of a loop body.
    fn loop_entry(&self, lp: Node, state: State) -> State {
        if let Some(cond) = lp.child_by_field_name("condition")
            && let Some(walk) = self.locked_walk_in(cond)
        {
            let line = lp.start_position().row + 1;
            return State::Held(
                format!(
                    "inside the body of the {walk}() loop at line {line}, which returns with the page-table lock held"
                ),
                Takers::new(),
            );
        }
        state
    }

    fn locked_walk_in(&self, node: Node) -> Option<String> {
        calls_in(node)
            .into_iter()
            .filter_map(|c| callee_name(c, self.src))
            .find(|name| self.locks.is_locked_walk(name))
    }

    fn taker(&self, call: Node) -> Option<Taker<'_>> {
        let name = callee_name(call, self.src)?;
        self.locks
            .taker(&name, &call_args(call, self.src).join(", "))
    }

    fn held_by(&self, call: Node, taker: &Taker) -> (String, Takers) {
        let line = call.start_position().row + 1;
        let why = taker
            .why
            .map(|w| format!(", which {w}"))
            .unwrap_or_default();
        let mut takers = Takers::new();
        takers.insert((taker.name.to_string(), call_args(call, self.src)));
        (
            format!("taken by {}() at line {line}{why}", taker.name),
            takers,
        )
    }

    /// States entering the then and else branches of an `if`.
    fn branch_states(&self, stmt: Node, state: State) -> (State, State) {
        let Some(cond) = stmt.child_by_field_name("condition") else {
            return (state.clone(), state);
        };
        if let Some((tested, true_means_nonzero)) = zero_test(cond, self.src) {
            // `if (lookup(...))`, `if (!lookup(...))`.
            if tested.kind() == "call_expression"
                && let Some(t) = self.taker(tested)
            {
                let (why, takers) = self.held_by(tested, &t);
                let held = State::Held(why, takers);
                let line = tested.start_position().row + 1;
                let free = State::Free(format!("{}() at line {line} failed", t.name));
                let held_when_true = match t.held {
                    Held::OnZero => !true_means_nonzero,
                    Held::OnNonZero | Held::Always => true_means_nonzero,
                };
                return if held_when_true {
                    (held, free)
                } else {
                    (free, held)
                };
            }
            // `pte = lookup(...); if (!pte)`.
            if let State::HeldIf {
                var,
                when_zero,
                why,
                takers,
            } = &state
                && text(tested, self.src) == var.as_str()
            {
                let line = tested.start_position().row + 1;
                let held = State::Held(
                    format!("{why}, and `{var}` says it succeeded (line {line})"),
                    takers.clone(),
                );
                let free = State::Free(format!("{why}, but `{var}` says it failed (line {line})"));
                let held_when_true = *when_zero != true_means_nonzero;
                return if held_when_true {
                    (held, free)
                } else {
                    (free, held)
                };
            }
        }
        if calls_in(cond).into_iter().any(|c| self.taker(c).is_some()) {
            let line = cond.start_position().row + 1;
            let u = State::Unknown(format!(
                "the condition at line {line} takes the lock in a way that is not a plain test of the call"
            ));
            return (u.clone(), u);
        }
        let after = self.run_expression(cond, state);
        (after.clone(), after)
    }

    /// Runs one statement from `state`.
    fn run(&self, stmt: Node, state: State) -> Flow {
        match stmt.kind() {
            "return_statement" | "break_statement" | "continue_statement" | "goto_statement" => {
                None
            }
            "compound_statement" => {
                let mut s = state;
                let mut cursor = stmt.walk();
                for child in stmt.named_children(&mut cursor) {
                    s = self.run(child, s)?;
                }
                Some(s)
            }
            "labeled_statement" => {
                let inner = stmt
                    .named_child(u32::try_from(stmt.named_child_count().saturating_sub(1)).ok()?)?;
                self.run(inner, state)
            }
            "if_statement" => {
                let (then_s, else_s) = self.branch_states(stmt, state);
                let then_flow = stmt
                    .child_by_field_name("consequence")
                    .map_or(Some(then_s.clone()), |c| self.run(c, then_s));
                let else_flow = match stmt.child_by_field_name("alternative") {
                    Some(alt) => self.run(alt, else_s),
                    None => Some(else_s),
                };
                merge_flows(then_flow, else_flow)
            }
            "else_clause" => {
                let inner = stmt.named_child(0)?;
                self.run(inner, state)
            }
            "preproc_ifdef" | "preproc_if" | "preproc_else" | "preproc_elif" => {
                self.run_preproc(stmt, state)
            }
            "while_statement" | "for_statement" | "do_statement" => {
                Some(self.run_loop(stmt, state))
            }
            "switch_statement" => {
                if self.touches_lock(stmt) {
                    Some(State::Unknown(format!(
                        "switch at line {} takes or drops the lock",
                        stmt.start_position().row + 1
                    )))
                } else {
                    Some(state)
                }
            }
            _ => Some(self.run_expression(stmt, state)),
        }
    }

    /// `#ifdef` body as configured in, merged with its `#else` if any.
    fn run_preproc(&self, stmt: Node, state: State) -> Flow {
        let mut s = Some(state.clone());
        let mut alternative = None;
        let mut cursor = stmt.walk();
        for child in stmt.named_children(&mut cursor) {
            if is_preproc_alternative(stmt, child) {
                alternative = Some(child);
                continue;
            }
            if child.kind() == "identifier" || child.kind().ends_with("expression") {
                continue; // the #if condition or #ifdef name
            }
            s = match s {
                Some(st) => self.run(child, st),
                None => None,
            };
        }
        match alternative {
            Some(alt) => merge_flows(s, self.run(alt, state)),
            None => s,
        }
    }

    fn run_loop(&self, lp: Node, state: State) -> State {
        if let Some(walk) = lp
            .child_by_field_name("condition")
            .and_then(|c| self.locked_walk_in(c))
        {
            let line = lp.start_position().row + 1;
            return State::Free(format!(
                "{walk}() loop at line {line} ends with the lock dropped"
            ));
        }
        let Some(body) = lp.child_by_field_name("body") else {
            return state;
        };
        // Zero or more iterations: the state after must agree with the
        // state before for us to know it.
        match self.run(body, state.clone()) {
            Some(after) if after == state || !self.touches_lock(body) => state,
            Some(after) => state.merge(after),
            None => state,
        }
    }

    /// Applies the lock calls of an expression-level statement in order.
    fn run_expression(&self, node: Node, state: State) -> State {
        let mut s = state;
        for call in calls_in(node) {
            let Some(name) = callee_name(call, self.src) else {
                continue;
            };
            let args = call_args(call, self.src).join(", ");
            let line = call.start_position().row + 1;
            if let Some(t) = self.locks.taker(&name, &args) {
                let (why, takers) = self.held_by(call, &t);
                s = match (t.held, assigned_to(call, self.src)) {
                    (Held::Always, _) => State::Held(why, takers),
                    (held, Some(var)) => State::HeldIf {
                        var,
                        when_zero: held == Held::OnZero,
                        why,
                        takers,
                    },
                    (held, None) => State::HeldIf {
                        var: String::new(),
                        when_zero: held == Held::OnZero,
                        why,
                        takers,
                    },
                };
            } else if self.locks.releases(&name, &args) {
                s = State::Free(format!("dropped by {name}() at line {line}"));
            }
        }
        s
    }

    /// The state right after a `return` computed its value.
    fn at_return(&self, value: Option<Node>, before: State) -> State {
        let Some(v) = value else {
            return before;
        };
        let v = strip_parens_casts(v);
        // `return lookup(...)`: held as the lookup's result says.
        if v.kind() == "call_expression"
            && let Some(t) = self.taker(v)
            && t.held != Held::Always
        {
            let (why, takers) = self.held_by(v, &t);
            return State::HeldIf {
                var: String::new(),
                when_zero: t.held == Held::OnZero,
                why,
                takers,
            };
        }
        self.run_expression(v, before)
    }

    fn touches_lock(&self, node: Node) -> bool {
        calls_in(node).into_iter().any(|c| {
            let (Some(name), args) = (callee_name(c, self.src), call_args(c, self.src).join(", "))
            else {
                return false;
            };
            self.locks.taker(&name, &args).is_some() || self.locks.releases(&name, &args)
        })
    }
}

/// The variable a call's result is stored in: `v = call(...)`, `T *v =
/// call(...)`, also inside `!(v = call(...))`.
fn assigned_to(call: Node, src: &[u8]) -> Option<String> {
    let (parent, _) = super::kernel_c::parent_through_parens_casts(call)?;
    match parent.kind() {
        "assignment_expression" => {
            let left = parent.child_by_field_name("left")?;
            (left.kind() == "identifier").then(|| text(left, src).into_owned())
        }
        "init_declarator" => {
            let d = parent.child_by_field_name("declarator")?;
            super::kernel_c::declarator_name_of(d).map(|n| text(n, src).into_owned())
        }
        _ => None,
    }
}

/// `x`, `!x`, `x == 0`, `x != NULL`, `likely(x)`...: the tested
/// expression, and whether the condition is true when it is non-zero.
fn zero_test<'t>(cond: Node<'t>, src: &[u8]) -> Option<(Node<'t>, bool)> {
    let mut n = strip_parens_casts(cond);
    let mut nonzero = true;
    loop {
        match n.kind() {
            "unary_expression" if super::kernel_c::operator(n, src).as_deref() == Some("!") => {
                nonzero = !nonzero;
                n = strip_parens_casts(n.child_by_field_name("argument")?);
            }
            "call_expression"
                if callee_name(n, src).is_some_and(|f| super::kernel_c::is_branch_hint(&f)) =>
            {
                let args = n.child_by_field_name("arguments")?;
                n = strip_parens_casts(args.named_child(0)?);
            }
            "binary_expression" => {
                let op = super::kernel_c::operator(n, src)?;
                let (l, r) = (
                    n.child_by_field_name("left")?,
                    n.child_by_field_name("right")?,
                );
                let zero = |x: Node| matches!(text(x, src).as_ref(), "0" | "NULL");
                let other = if zero(r) {
                    l
                } else if zero(l) {
                    r
                } else {
                    return None;
                };
                match op.as_ref() {
                    "==" => nonzero = !nonzero,
                    "!=" => {}
                    _ => return None,
                }
                n = strip_parens_casts(other);
            }
            _ => return Some((n, nonzero)),
        }
    }
}

fn on_every_path(a: String, b: String) -> String {
    if a == b {
        return a;
    }
    let a = a.strip_prefix("on every path: ").unwrap_or(&a).to_string();
    format!("on every path: {a}; {b}")
}

fn merge_flows(a: Flow, b: Flow) -> Flow {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.merge(b)),
        (Some(a), None) => Some(a),
        (None, b) => b,
    }
}

fn is_preproc_alternative(parent: Node, child: Node) -> bool {
    parent
        .child_by_field_name("alternative")
        .is_some_and(|alt| alt.id() == child.id())
}

fn child_containing<'a>(node: Node<'a>, target: Node<'a>) -> Option<Node<'a>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .find(|c| c.start_byte() <= target.start_byte() && target.end_byte() <= c.end_byte())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::kernel_c::{callee_name, calls_in, enclosing_function, parse};

    /// The memo gives every call the state a fresh analysis gives it,
    /// whatever order the calls are asked in.
    #[test]
    fn the_memo_changes_no_answer() {
        let src = b"void f(struct mm_struct *mm, pmd_t *pmd, unsigned long a, int c)\n\
            {\n\
            \tspinlock_t *ptl;\n\
            \tpte_t *pte;\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            \tpte = pte_offset_map_lock(mm, pmd, a, &ptl);\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            \tif (c) {\n\
            \t\tmmu_notifier_invalidate_page(mm, a);\n\
            \t\tpte_unmap_unlock(pte, ptl);\n\
            \t\tmmu_notifier_invalidate_page(mm, a);\n\
            \t} else {\n\
            \t\tmmu_notifier_invalidate_page(mm, a);\n\
            \t}\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            \tpte_unmap_unlock(pte, ptl);\n\
            \tfor (;;) {\n\
            \t\tmmu_notifier_invalidate_page(mm, a);\n\
            \t}\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            }\n";
        let recipe = crate::recipe::invalidate_page::recipe();
        let locks = Locks::new(&recipe, &[]);
        let tree = parse(src);
        let calls: Vec<Node> = calls_in(tree.root_node())
            .into_iter()
            .filter(|c| callee_name(*c, src).as_deref() == Some(recipe.api_functions[0]))
            .collect();
        assert_eq!(calls.len(), 8);
        let func = enclosing_function(calls[0]).unwrap();
        let fresh: Vec<_> = calls
            .iter()
            .map(|c| lock_at(*c, func, src, &locks))
            .collect();
        let held: Vec<Option<bool>> = fresh.iter().map(|(h, _)| *h).collect();
        assert_eq!(
            held,
            [
                Some(false),
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                None,
                Some(false),
                Some(false)
            ],
            "{fresh:#?}"
        );
        for order in [
            (0..calls.len()).collect::<Vec<_>>(),
            (0..calls.len()).rev().collect(),
            vec![4, 0, 7, 2, 5, 1, 6, 3],
        ] {
            let cache = LockCache::default();
            for i in order {
                assert_eq!(
                    lock_at_cached(calls[i], func, src, &locks, &cache),
                    fresh[i],
                    "call {i}"
                );
            }
        }
    }

    /// A lookup that takes the lock only on success holds it on the branch
    /// of the test of its result that means success.
    #[test]
    fn a_lock_taken_on_success_is_held_where_the_result_says_so() {
        let src = b"int f(struct page *page, struct mm_struct *mm, unsigned long a)\n\
            {\n\
            \tspinlock_t *ptl;\n\
            \tpte_t *pte;\n\
            \tpte = find_pte(page, mm, a, &ptl);\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            \tif (!pte) {\n\
            \t\tmmu_notifier_invalidate_page(mm, a);\n\
            \t\treturn 0;\n\
            \t}\n\
            \tmmu_notifier_invalidate_page(mm, a);\n\
            \tpte_unmap_unlock(pte, ptl);\n\
            \treturn 1;\n\
            }\n";
        let recipe = crate::recipe::invalidate_page::recipe();
        let helper = crate::scan::model::LockHelper {
            name: "find_pte".into(),
            file: "mm/x.c".into(),
            line: 1,
            held: Held::OnNonZero,
            extent: crate::recipe::Extent::Unknown,
            mm_arg: Some(1),
            address_arg: Some(2),
            page_arg: Some(0),
            why: "returns non-zero with *ptlp locked".into(),
        };
        let helpers = [helper];
        let locks = Locks::new(&recipe, &helpers);
        let tree = parse(src);
        let calls: Vec<Node> = calls_in(tree.root_node())
            .into_iter()
            .filter(|c| callee_name(*c, src).as_deref() == Some(recipe.api_functions[0]))
            .collect();
        let func = enclosing_function(calls[0]).unwrap();
        let held: Vec<Option<bool>> = calls
            .iter()
            .map(|c| lock_at(*c, func, src, &locks).0)
            .collect();
        assert_eq!(held, [None, Some(false), Some(true)]);
        let (_, evidence) = lock_at(calls[2], func, src, &locks);
        assert!(
            evidence.contains("taken by find_pte() at line 5, which returns non-zero"),
            "{evidence}"
        );
    }
}
