//! One file's functions and direct calls, for the rules that follow calls
//! (W1 into static helpers, E3 up to static callers).

use std::collections::HashMap;

use tree_sitter::Node;

use super::Source;
use crate::scan::kernel_c::{callee_name, calls_in, enclosing_function, function_name};

pub struct FileIndex<'a> {
    /// Function definitions by name (the first one wins: `#ifdef`
    /// alternatives define the same name twice).
    pub functions: HashMap<String, Node<'a>>,
    /// Every direct call in the file, by callee name.
    pub calls: HashMap<String, Vec<Node<'a>>>,
    /// Names used other than as a call or a definition (address taken,
    /// e.g. `rwc.rmap_one = fn` or an ops initializer).
    pub address_taken: HashMap<String, Vec<Node<'a>>>,
}

impl<'a> FileIndex<'a> {
    pub fn new(file: &'a Source) -> Self {
        let root = file.tree.root_node();
        let src = &file.src;
        let mut functions = HashMap::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if n.kind() == "function_definition" {
                if let Some(name) = function_name(n, src) {
                    functions.entry(name).or_insert(n);
                }
                continue;
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        let mut calls: HashMap<String, Vec<Node>> = HashMap::new();
        for call in calls_in(root) {
            if let Some(name) = callee_name(call, src) {
                calls.entry(name).or_default().push(call);
            }
        }
        let mut address_taken: HashMap<String, Vec<Node>> = HashMap::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if n.kind() == "identifier" {
                let name = crate::scan::kernel_c::text(n, src);
                if functions.contains_key(name.as_ref()) && !is_call_or_declarator(n) {
                    address_taken.entry(name.into_owned()).or_default().push(n);
                }
                continue;
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        FileIndex {
            functions,
            calls,
            address_taken,
        }
    }

    /// Whether the function definition is `static` (its callers are all in
    /// this file, or it is called through a pointer taken here).
    pub fn is_static(&self, func: Node, src: &[u8]) -> bool {
        let mut c = func.walk();
        func.children(&mut c)
            .any(|ch| ch.kind() == "storage_class_specifier" && &src[ch.byte_range()] == b"static")
    }

    /// Direct calls of `name` with the function each sits in.
    pub fn callers(&self, name: &str) -> Vec<(Node<'a>, Option<Node<'a>>)> {
        self.calls
            .get(name)
            .map(|v| v.iter().map(|c| (*c, enclosing_function(*c))).collect())
            .unwrap_or_default()
    }
}

fn is_call_or_declarator(id: Node) -> bool {
    let Some(p) = id.parent() else {
        return true;
    };
    match p.kind() {
        "call_expression" => p
            .child_by_field_name("function")
            .is_some_and(|f| f.id() == id.id()),
        "function_declarator" | "preproc_function_def" | "preproc_def" => true,
        _ => false,
    }
}

/// Every non-static function definition of `sources`, by name: (index of
/// the source, byte range of the definition).  Headers' `static inline`
/// functions count too: every includer sees the same one.
pub fn global_functions(sources: &[super::Source]) -> HashMap<String, Vec<(usize, usize, usize)>> {
    let mut out: HashMap<String, Vec<(usize, usize, usize)>> = HashMap::new();
    for (i, s) in sources.iter().enumerate() {
        let idx = FileIndex::new(s);
        for (name, f) in &idx.functions {
            if !idx.is_static(*f, &s.src) || s.rel.ends_with(".h") {
                out.entry(name.clone())
                    .or_default()
                    .push((i, f.start_byte(), f.end_byte()));
            }
        }
    }
    out
}

/// The function definition at `range` of `source`.
pub fn definition_at(source: &super::Source, start: usize, end: usize) -> Option<Node<'_>> {
    let mut n = source
        .tree
        .root_node()
        .descendant_for_byte_range(start, end)?;
    loop {
        if n.kind() == "function_definition" && n.start_byte() == start {
            return Some(n);
        }
        n = n.parent()?;
    }
}
