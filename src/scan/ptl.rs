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

use std::cell::RefCell;
use std::collections::HashMap;

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
    lock_at_cached(call, func, src, recipe, &LockCache::default())
}

/// The states computed so far inside one syntax tree, so that the calls of
/// one function are not each analysed from the function's entry again (a
/// function with thousands of calls would take quadratic time).  Valid
/// for one tree only: node ids are unique within a tree.
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

/// [`lock_at`] sharing what `cache` already knows about the same tree.
pub fn lock_at_cached<'t>(
    call: Node<'t>,
    func: Node<'t>,
    src: &[u8],
    recipe: &Recipe,
    cache: &LockCache<'t>,
) -> (Option<bool>, String) {
    let Some(body) = func.child_by_field_name("body") else {
        return (None, "function has no body".into());
    };
    let cx = Cx { src, recipe, cache };
    let state = cx.state_before(body, call, State::Free("function entry".into()));
    match state {
        State::Held(e) => (Some(true), e),
        State::Free(e) => (Some(false), e),
        State::Unknown(e) => (None, e),
    }
}

struct Cx<'a, 't> {
    src: &'a [u8],
    recipe: &'a Recipe,
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

impl<'t> Block<'t> {
    fn new(block: Node<'t>, entry: State) -> Block<'t> {
        let mut cursor = block.walk();
        Block {
            stmts: block.named_children(&mut cursor).collect(),
            before: vec![entry],
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

fn call_args_text(call: Node, src: &[u8]) -> String {
    call_args(call, src).join(", ")
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
        let tree = parse(src);
        let calls: Vec<Node> = calls_in(tree.root_node())
            .into_iter()
            .filter(|c| callee_name(*c, src).as_deref() == Some("mmu_notifier_invalidate_page"))
            .collect();
        assert_eq!(calls.len(), 8);
        let func = enclosing_function(calls[0]).unwrap();
        let fresh: Vec<_> = calls
            .iter()
            .map(|c| lock_at(*c, func, src, &recipe))
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
                    lock_at_cached(calls[i], func, src, &recipe, &cache),
                    fresh[i],
                    "call {i}"
                );
            }
        }
    }
}
