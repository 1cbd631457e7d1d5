//! E2: every `range_start` has its `range_end` (same mm and range) on every
//! path out of the function, and no `end` runs without its `start`.
//!
//! A small abstract interpretation over the function's structured
//! statements, in the manner of `scan/ptl.rs`: the state maps each bracket
//! (the argument texts of its start) to open or closed.  Jumps are
//! followed: `return` is an exit, `goto` carries its state to the label
//! (forward gotos; a backward goto is a retry loop and ends the path),
//! `break`/`continue` carry theirs to the end of the loop or switch.
//!
//! Conditions are not evaluated.  A bracket opened on one branch only is
//! *conditionally* open; an `end` on one branch of a later `if` then
//! closes it (the kernel idiom `if (is_cow) start(...); ... if (is_cow)
//! end(...);`).  A bracket opened on every path (*definitely* open) stays
//! open on any path that skips its end, and that path is reported at the
//! jump that took it (`goto`, `break`) or at the `return`.  A loop body is
//! taken to run at least once.

use std::collections::{BTreeMap, HashMap, HashSet};

use tree_sitter::Node;

use super::index::FileIndex;
use super::{Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{call_args, callee_name, calls_in, has_error, text};

pub fn check(file: &Source, idx: &FileIndex, rules: &CheckRules) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut funcs: Vec<Node> = [rules.range_start, rules.range_end]
        .iter()
        .flat_map(|n| idx.callers(n))
        .filter_map(|(_, f)| f)
        .collect();
    funcs.sort_by_key(|f| f.start_byte());
    funcs.dedup_by_key(|f| f.id());
    for func in funcs {
        if has_error(func) {
            continue; // an ERROR node hides statements: no verdict.
        }

        let Some(body) = func.child_by_field_name("body") else {
            continue;
        };
        let mut cx = Cx {
            file,
            rules,
            labels: HashMap::new(),
            seen_labels: HashSet::new(),
            frames: Vec::new(),
            found: Vec::new(),
            reported: HashSet::new(),
        };
        let end = cx.run(body, Some(State::new()));
        if let Some(state) = end {
            cx.exit(&state, None);
        }
        out.extend(cx.found);
    }
    out
}

/// A bracket is named by the texts of `(mm, start, end)`, spaces removed.
type Key = (String, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Opened on every path that reaches here.
    Open,
    /// Opened on some paths only (under a condition).
    MaybeOpen,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    status: Status,
    /// Where the start is, for messages: (line, call text).
    start_line: usize,
    start_col: usize,
    start_text: String,
    /// The jump that took this path away from the straight line
    /// (`goto out` at line N), where a leak is best reported.
    via: Option<(String, usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct State(BTreeMap<Key, Entry>);

impl State {
    fn new() -> Self {
        State::default()
    }

    fn merge(mut self, other: State) -> State {
        let keys: HashSet<Key> = self.0.keys().chain(other.0.keys()).cloned().collect();
        let mut other = other.0;
        for k in keys {
            let merged = match (self.0.remove(&k), other.remove(&k)) {
                (Some(a), Some(b)) => merge_entries(a, b),
                (Some(a), None) | (None, Some(a)) => Entry {
                    status: match a.status {
                        Status::Closed => Status::Closed,
                        _ => Status::MaybeOpen,
                    },
                    ..a
                },
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
            if e.status != Status::Closed && e.via.is_none() {
                e.via = Some((what.clone(), p.row + 1, p.column + 1));
            }
        }
        self
    }
}

fn merge_entries(a: Entry, b: Entry) -> Entry {
    use Status::*;
    let (status, keep_a) = match (a.status, b.status) {
        (Open, _) => (Open, true),
        (_, Open) => (Open, false),
        (MaybeOpen, MaybeOpen) => (MaybeOpen, true),
        // Closed on one path, opened under a condition on the other: the
        // end is under the same condition (`if (x) start ... if (x) end`).
        (MaybeOpen, Closed) | (Closed, MaybeOpen) | (Closed, Closed) => (Closed, true),
    };
    let e = if keep_a { a } else { b };
    Entry { status, ..e }
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

struct Cx<'f> {
    file: &'f Source,
    rules: &'f CheckRules,
    /// States carried by forward gotos, by label.
    labels: HashMap<String, Vec<State>>,
    seen_labels: HashSet<String>,
    frames: Vec<Frame>,
    found: Vec<Diagnostic>,
    /// (start line, report line) pairs already reported.
    reported: HashSet<(usize, usize, usize)>,
}

impl<'f> Cx<'f> {
    fn src(&self) -> &'f [u8] {
        &self.file.src
    }

    /// Runs `stmt` from `state` (`None`: unreachable); returns the state
    /// where it falls through, `None` when it never does.
    fn run(&mut self, stmt: Node, state: Option<State>) -> Option<State> {
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

    fn run_reachable(&mut self, stmt: Node, state: State) -> Option<State> {
        match stmt.kind() {
            "return_statement" => {
                let s = self.apply_calls(stmt, state);
                self.exit(&s, Some(stmt));
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
            "if_statement" => {
                let s = match stmt.child_by_field_name("condition") {
                    Some(c) => self.apply_calls(c, state),
                    None => state,
                };
                let then_flow = match stmt.child_by_field_name("consequence") {
                    Some(c) => self.run(c, Some(s.clone())),
                    None => Some(s.clone()),
                };
                let else_flow = match stmt.child_by_field_name("alternative") {
                    Some(alt) => self.run(alt, Some(s)),
                    None => Some(s),
                };
                merge_all([then_flow, else_flow])
            }
            "else_clause" => {
                let inner = stmt.named_child(0)?;
                self.run(inner, Some(state))
            }
            "while_statement" | "for_statement" | "do_statement" => self.run_loop(stmt, state),
            "switch_statement" => self.run_switch(stmt, state),
            _ => Some(self.apply_calls(stmt, state)),
        }
    }

    fn run_loop(&mut self, lp: Node, state: State) -> Option<State> {
        let mut s = state;
        // `for (init; cond; update)`: init and the first condition run
        // before the body; a `while` condition runs first too.
        for field in ["initializer", "condition"] {
            if lp.kind() != "do_statement"
                && let Some(n) = lp.child_by_field_name(field)
            {
                s = self.apply_calls(n, s);
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

    fn run_switch(&mut self, sw: Node, state: State) -> Option<State> {
        let s = match sw.child_by_field_name("condition") {
            Some(c) => self.apply_calls(c, state),
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
    fn run_preproc(&mut self, stmt: Node, state: Option<State>) -> Option<State> {
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

    /// Applies the bracket calls inside an expression-level node, in order.
    fn apply_calls(&mut self, node: Node, mut state: State) -> State {
        for call in calls_in(node) {
            let Some(name) = callee_name(call, self.src()) else {
                continue;
            };
            if name != self.rules.range_start && name != self.rules.range_end {
                continue;
            }
            let args = call_args(call, self.src());
            let [mm, start, end] = args.as_slice() else {
                continue;
            };
            let key: Key = (squash(mm), squash(start), squash(end));
            let line = call.start_position().row + 1;
            if name == self.rules.range_start {
                match state.0.get_mut(&key) {
                    Some(e) if e.status != Status::Closed => {}
                    _ => {
                        state.0.insert(
                            key,
                            Entry {
                                status: Status::Open,
                                start_line: line,
                                start_col: call.start_position().column + 1,
                                start_text: format!("{}({})", name, args.join(", ")),
                                via: None,
                            },
                        );
                    }
                }
                continue;
            }
            match state.0.get_mut(&key) {
                Some(e) => {
                    e.status = Status::Closed;
                    e.via = None;
                }
                None => self.unmatched_end(call, &name, &args, &state),
            }
        }
        state
    }

    fn unmatched_end(&mut self, call: Node, name: &str, args: &[String], state: &State) {
        let open_same_mm = state
            .0
            .iter()
            .find(|(k, e)| k.0 == squash(&args[0]) && e.status != Status::Closed);
        let message = match open_same_mm {
            Some((_, e)) => format!(
                "`{name}({})` does not match the open `{}` at line {} (same mm, different range)",
                args.join(", "),
                e.start_text,
                e.start_line
            ),
            None => format!(
                "`{name}({})` without a matching `{}` on this path",
                args.join(", "),
                self.rules.range_start
            ),
        };
        let d = diag(self.file, call, "E2", Severity::Error, message);
        if self.reported.insert((0, d.line, d.column)) {
            self.found.push(d);
        }
    }

    /// A path leaves the function at `at` (a `return`, or the end of the
    /// body when `None`): every bracket still open there leaks.
    fn exit(&mut self, state: &State, at: Option<Node>) {
        for e in state.0.values() {
            if e.status == Status::Closed {
                continue;
            }
            let maybe = if e.status == Status::MaybeOpen {
                " (opened under a condition)"
            } else {
                ""
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
                continue;
            }
            let message = format!(
                "`{}` at line {}{maybe} has no matching `{}` {how}",
                e.start_text, e.start_line, self.rules.range_end
            );
            let p = self.position_node(line, column);
            let mut d = diag(self.file, p, "E2", Severity::Error, message);
            d.line = line;
            d.column = column;
            self.found.push(d);
        }
    }

    /// Some node on `line` to anchor a diagnostic (for its function name).
    fn position_node(&self, line: usize, column: usize) -> Node<'f> {
        let root = self.file.tree.root_node();
        let point = tree_sitter::Point {
            row: line - 1,
            column: column.saturating_sub(1),
        };
        root.descendant_for_point_range(point, point)
            .unwrap_or(root)
    }
}

/// Argument text without white space, so that line breaks and spacing do
/// not make two identical ranges differ.
pub fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}
