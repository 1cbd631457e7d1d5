//! Is the page-table lock held at a call?
//!
//! A small abstract interpretation over the structured statements of one
//! function: the lock state is held, free or unknown; the recipe says
//! which calls take and drop the lock and which loops run their body with
//! it held (`while (page_vma_mapped_walk(&pvmw))`).  Branches that always
//! jump away (`return`, `break`, `continue`, `goto`) do not reach the code
//! after them and are left out of the merge.  `goto` targets are not
//! followed, and code under `#ifdef` is taken as configured in (with its
//! `#else` as the other branch): the evidence string says what was seen, so
//! a reviewer can check the conclusion.

use tree_sitter::Node;

use super::kernel_c::{call_args, callee_name, calls_in};
use crate::recipe::Recipe;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Held(String),
    Free(String),
    Unknown(String),
}

impl State {
    fn merge(self, other: State) -> State {
        match (self, other) {
            (State::Held(a), State::Held(b)) => State::Held(on_every_path(a, b)),
            (State::Free(a), State::Free(b)) => State::Free(on_every_path(a, b)),
            (a, b) => State::Unknown(format!(
                "paths disagree ({}; {})",
                a.evidence(),
                b.evidence()
            )),
        }
    }

    fn evidence(&self) -> &str {
        match self {
            State::Held(e) | State::Free(e) | State::Unknown(e) => e,
        }
    }
}

/// The outcome of running a statement: the state where it falls through,
/// or `None` when it never does (it always jumps away).
type Flow = Option<State>;

/// Whether the page-table lock is held where `call` runs, and why.
pub fn lock_at(call: Node, func: Node, src: &[u8], recipe: &Recipe) -> (Option<bool>, String) {
    let Some(body) = func.child_by_field_name("body") else {
        return (None, "function has no body".into());
    };
    let cx = Cx { src, recipe };
    let state = cx.state_before(body, call, State::Free("function entry".into()));
    match state {
        State::Held(e) => (Some(true), e),
        State::Free(e) => (Some(false), e),
        State::Unknown(e) => (None, e),
    }
}

struct Cx<'a> {
    src: &'a [u8],
    recipe: &'a Recipe,
}

impl Cx<'_> {
    /// The state where `target` (a descendant of `node`) starts running.
    fn state_before(&self, node: Node, target: Node, state: State) -> State {
        if node.id() == target.id() {
            return state;
        }
        let Some(child) = child_containing(node, target) else {
            return state;
        };
        match node.kind() {
            "compound_statement" | "translation_unit" | "preproc_ifdef" | "preproc_if"
            | "preproc_else" | "preproc_elif" => {
                let mut s = state;
                let mut cursor = node.walk();
                for stmt in node.named_children(&mut cursor) {
                    if stmt.id() == child.id() {
                        break;
                    }
                    if is_preproc_alternative(node, stmt) {
                        continue;
                    }
                    // Code after a jump is reachable only through a label
                    // we do not follow: keep the state we had.
                    if let Some(next) = self.run(stmt, s.clone()) {
                        s = next;
                    }
                }
                self.state_before(child, target, s)
            }
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
            return State::Held(format!(
                "inside the body of the {walk}() loop at line {line}, which returns with the page-table lock held"
            ));
        }
        state
    }

    fn locked_walk_in(&self, node: Node) -> Option<String> {
        calls_in(node)
            .into_iter()
            .filter_map(|c| callee_name(c, self.src))
            .find(|name| self.recipe.is_locked_walk(name))
    }

    /// States entering the then and else branches of an `if`.
    fn branch_states(&self, stmt: Node, state: State) -> (State, State) {
        let Some(cond) = stmt.child_by_field_name("condition") else {
            return (state.clone(), state);
        };
        for call in calls_in(cond) {
            let Some(name) = callee_name(call, self.src) else {
                continue;
            };
            let args = call_args_text(call, self.src);
            if let Some(op) = self.recipe.lock_acquire(&name, &args) {
                let line = call.start_position().row + 1;
                let held = State::Held(format!("taken by {name}() at line {line}"));
                let free = State::Free(format!("{name}() at line {line} failed"));
                return if op.held_on_zero {
                    (free, held)
                } else {
                    (held, free)
                };
            }
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
            let args = call_args_text(call, self.src);
            let line = call.start_position().row + 1;
            if self.recipe.lock_acquire(&name, &args).is_some() {
                s = State::Held(format!("taken by {name}() at line {line}"));
            } else if self.recipe.is_lock_release(&name, &args) {
                s = State::Free(format!("dropped by {name}() at line {line}"));
            }
        }
        s
    }

    fn touches_lock(&self, node: Node) -> bool {
        calls_in(node).into_iter().any(|c| {
            let (Some(name), args) = (callee_name(c, self.src), call_args_text(c, self.src)) else {
                return false;
            };
            self.recipe.lock_acquire(&name, &args).is_some()
                || self.recipe.is_lock_release(&name, &args)
        })
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

fn call_args_text(call: Node, src: &[u8]) -> String {
    call_args(call, src).join(", ")
}
