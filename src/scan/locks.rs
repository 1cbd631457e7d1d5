//! Which calls return with the page-table lock held, learned from the
//! tree itself.
//!
//! The recipe lists only the primitives (`pte_offset_map_lock()`,
//! `pmd_lock()`, `spin_lock()` of a ptl...).  Everything built on them is
//! learned from its definition in the scanned tree, once per scan:
//! - a function that returns with a `spinlock_t **` out-parameter locked
//!   on its success path, directly (`*ptlp = ptl; spin_lock(ptl); return
//!   pte;`) or through a wrapper (`__cond_lock(*ptlp, pte =
//!   __lookup(...)); return pte;`);
//! - a function that returns the `spinlock_t *` it locked;
//! - a function annotated `__acquires(...)` with a ptl.
//!
//! Only the functions called where the API is called are looked at, and
//! what they build on: their definitions are found by a byte search of
//! the tree, as callbacks are.  The summaries ([`LockHelper`]) travel in
//! the scan report, so the rewrite uses what the scan learned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tree_sitter::Node;

use super::ScanError;
use super::callbacks::identifier_nodes;
use super::classify::{ParsedFile, called_by, defined_by, loc_of_offset};
use super::kernel_c::{self, callee_name, calls_in, enclosing_function, function_name, text};
use super::model::LockHelper;
use super::ptl::{self, ExitState, Takers};
use crate::recipe::{Extent, Held, Recipe};

/// How deep wrappers of wrappers are followed.
const MAX_DEPTH: usize = 4;

/// What kseries knows about the page-table lock in one tree: the recipe's
/// primitives and the helpers learned from the tree.
pub struct Locks<'a> {
    recipe: &'a Recipe,
    helpers: &'a [LockHelper],
}

/// A call that takes the page-table lock, as the lock analysis needs it.
#[derive(Debug, Clone, Copy)]
pub struct Taker<'a> {
    pub name: &'a str,
    pub held: Held,
    pub extent: Extent,
    pub mm_arg: Option<usize>,
    pub address_arg: Option<usize>,
    pub page_arg: Option<usize>,
    /// For a learned helper: why it counts.
    pub why: Option<&'a str>,
}

impl<'a> Locks<'a> {
    pub fn new(recipe: &'a Recipe, helpers: &'a [LockHelper]) -> Locks<'a> {
        Locks { recipe, helpers }
    }

    /// The call of `name` with arguments `args` (their text joined), if it
    /// takes the page-table lock.
    pub fn taker(&self, name: &str, args: &str) -> Option<Taker<'a>> {
        if let Some(op) = self.recipe.lock_primitive(name, args) {
            return Some(Taker {
                name: op.function,
                held: op.held,
                extent: op.extent,
                mm_arg: op.mm_arg,
                address_arg: op.address_arg,
                page_arg: None,
                why: None,
            });
        }
        self.helpers.iter().find(|h| h.name == name).map(|h| Taker {
            name: &h.name,
            held: h.held,
            extent: h.extent,
            mm_arg: h.mm_arg,
            address_arg: h.address_arg,
            page_arg: h.page_arg,
            why: Some(&h.why),
        })
    }

    pub fn releases(&self, name: &str, args: &str) -> bool {
        self.recipe.is_lock_release(name, args)
    }

    pub fn is_locked_walk(&self, name: &str) -> bool {
        self.recipe.is_locked_walk(name)
    }
}

/// The calls in every function that calls the API that could hand it
/// the page-table lock: those given the address of a lock-type variable
/// (`&ptl`) or a lock-type out-parameter, and those whose result is
/// stored in one (`ptl = pmd_trans_huge_lock(...)`).  Other calls count
/// only if the tree annotates them with the acquires annotation.
pub struct Wanted {
    pub shaped: BTreeSet<String>,
    pub others: BTreeSet<String>,
}

pub fn wanted(parsed: &[ParsedFile], recipe: &Recipe) -> Wanted {
    let mut w = Wanted {
        shaped: BTreeSet::new(),
        others: BTreeSet::new(),
    };
    let lock_type = recipe.lock_learning.lock_type;
    for file in parsed {
        let Some(tree) = &file.tree else { continue };
        let mut seen = BTreeSet::new();
        for &off in &file.hits {
            let Some(node) = tree.node_for_byte_range(off, off + recipe.needle.len()) else {
                continue;
            };
            let is_api_call = node.kind() == "identifier"
                && recipe.is_api_function(&text(node, &file.src))
                && called_by(node).is_some();
            let Some(func) = enclosing_function(node).filter(|_| is_api_call) else {
                continue;
            };
            if !seen.insert(func.id()) {
                continue;
            }
            let locks = lock_variables(func, &file.src, lock_type);
            for call in calls_in(func) {
                let Some(name) = callee_name(call, &file.src) else {
                    continue;
                };
                if hands_lock(call, &file.src, &locks) {
                    w.shaped.insert(name);
                } else {
                    w.others.insert(name);
                }
            }
        }
    }
    for set in [&mut w.shaped, &mut w.others] {
        set.retain(|n| !recipe.is_api_function(n) && !is_primitive(recipe, n));
    }
    let shaped = w.shaped.clone();
    w.others.retain(|n| !shaped.contains(n));
    w
}

/// Local variables and parameters of the lock type in a function, and
/// how many `*` they have.
fn lock_variables(func: Node, src: &[u8], lock_type: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for decl in kernel_c::descendants_of_kind(func, "declaration")
        .into_iter()
        .chain(kernel_c::descendants_of_kind(func, "parameter_declaration"))
    {
        let ty = decl
            .child_by_field_name("type")
            .map(|t| text(t, src).into_owned())
            .unwrap_or_default();
        if !ty.contains(lock_type) {
            continue;
        }
        let mut cursor = decl.walk();
        for d in decl.children_by_field_name("declarator", &mut cursor) {
            let stars = text(d, src).chars().take_while(|c| *c == '*').count();
            if let Some(n) = kernel_c::declarator_name_of(d) {
                out.insert(text(n, src).into_owned(), stars);
            }
        }
    }
    out
}

/// Whether a call may hand back a lock: it is given `&lock` or a lock
/// out-parameter, or its result is stored in a lock variable.
fn hands_lock(call: Node, src: &[u8], locks: &BTreeMap<String, usize>) -> bool {
    let args = kernel_c::call_args(call, src);
    let given = args.iter().any(|a| {
        let a = a.trim();
        a.strip_prefix('&')
            .is_some_and(|v| locks.get(v.trim()).is_some_and(|s| *s == 1))
            || locks.get(a).is_some_and(|s| *s == 2)
    });
    let stored = ptl_target(call, src).is_some_and(|v| locks.contains_key(&v));
    given || stored
}

/// The variable a call's result is stored in.
fn ptl_target(call: Node, src: &[u8]) -> Option<String> {
    let (parent, _) = kernel_c::parent_through_parens_casts(call)?;
    match parent.kind() {
        "assignment_expression" => {
            let left = parent.child_by_field_name("left")?;
            Some(text(left, src).into_owned())
        }
        "init_declarator" => parent
            .child_by_field_name("declarator")
            .and_then(kernel_c::declarator_name_of)
            .map(|n| text(n, src).into_owned()),
        _ => None,
    }
}

/// The function an annotation at `at` belongs to: the name before the
/// parameter list it follows.
fn annotated_name(src: &[u8], at: usize) -> Option<String> {
    let before = src[..at].trim_ascii_end();
    if !before.ends_with(b")") {
        return None;
    }
    let mut depth = 0i32;
    let mut open = None;
    for i in (0..before.len()).rev() {
        match before[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            b';' | b'{' | b'}' => return None,
            _ => {}
        }
    }
    let head = before[..open?].trim_ascii_end();
    let start = head
        .iter()
        .rposition(|c| !kernel_c::is_ident_byte(*c))
        .map_or(0, |p| p + 1);
    (start < head.len()).then(|| String::from_utf8_lossy(&head[start..]).into_owned())
}

fn is_primitive(recipe: &Recipe, name: &str) -> bool {
    recipe.lock_acquire.iter().any(|op| op.function == name)
        || recipe.lock_release.iter().any(|op| op.function == name)
        || recipe.is_locked_walk(name)
}

/// A definition found for a name.
struct Def {
    pool: usize,
    start: usize,
    end: usize,
}

/// Learns which of `wanted` (and what they are built on) return with the
/// page-table lock held.  `parsed` are the files already parsed; others
/// are read from `all_files` when they mention a name and the lock.
pub fn learn(
    root: &Path,
    all_files: &[PathBuf],
    parsed: &[ParsedFile],
    recipe: &Recipe,
    wanted: Wanted,
) -> Result<Vec<LockHelper>, ScanError> {
    let mut defs: BTreeMap<String, Vec<Def>> = BTreeMap::new();
    let mut searched: BTreeSet<String> = BTreeSet::new();
    // One read of the tree: the files that may define the calls of a
    // lock-handing shape, and which other calls the tree annotates with
    // the acquires annotation (only those count).
    let shaped: Vec<String> = wanted.shaped.iter().cloned().collect();
    let (mut extra, annotated_names) = read_tree(
        root,
        all_files,
        &known(parsed, &[]),
        recipe,
        &shaped,
        &wanted.others,
    )?;
    let mut in_tree: BTreeSet<String> = wanted.shaped.clone();
    let mut frontier = wanted.shaped;
    frontier.extend(annotated_names.keys().cloned());
    for _ in 0..MAX_DEPTH {
        let names: Vec<String> = frontier
            .iter()
            .filter(|n| !searched.contains(*n))
            .cloned()
            .collect();
        if names.is_empty() {
            break;
        }
        searched.extend(names.iter().cloned());
        let mut found = find_definitions(parsed, &extra, &names, recipe);
        // What the files read so far do not define, and the tree was not
        // searched for yet (a wrapper's inner function elsewhere).
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !found.contains_key(*n) && !in_tree.contains(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            in_tree.extend(missing.iter().cloned());
            let (loaded, _) = read_tree(
                root,
                all_files,
                &known(parsed, &extra),
                recipe,
                &missing,
                &BTreeSet::new(),
            )?;
            extra.extend(loaded);
            found = find_definitions(parsed, &extra, &names, recipe);
        }
        frontier = BTreeSet::new();
        for (name, ds) in found {
            for d in &ds {
                let file = pool(parsed, &extra, d.pool);
                if let Some(def) = definition_node(file, d) {
                    frontier.extend(inner_candidates(def, &file.src, recipe));
                }
            }
            defs.insert(name, ds);
        }
        frontier.retain(|n| !is_primitive(recipe, n) && !recipe.is_api_function(n));
    }
    let mut helpers = summarise_all(parsed, &extra, &defs, recipe);
    // An annotation on a prototype is enough when the definition teaches
    // nothing more.
    for (name, (file, line, annotation)) in annotated_names {
        if helpers.iter().any(|h| h.name == name) {
            continue;
        }
        helpers.push(LockHelper {
            why: format!("is annotated {annotation} ({file}:{line})"),
            name,
            file,
            line,
            held: Held::Always,
            extent: Extent::Unknown,
            mm_arg: None,
            address_arg: None,
            page_arg: None,
        });
    }
    helpers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(helpers)
}

fn pool<'p>(parsed: &'p [ParsedFile], extra: &'p [ParsedFile], i: usize) -> &'p ParsedFile {
    if i < parsed.len() {
        &parsed[i]
    } else {
        &extra[i - parsed.len()]
    }
}

fn definition_node<'t>(file: &'t ParsedFile, d: &Def) -> Option<Node<'t>> {
    let tree = file.tree.as_ref()?;
    let mut n = tree.node_for_byte_range(d.start, d.start)?;
    while n.kind() != "function_definition" || n.start_byte() != d.start || n.end_byte() != d.end {
        n = n.parent()?;
    }
    Some(n)
}

/// Definitions of `names` that could hold a lock (they mention the lock
/// type or the acquires annotation), in every file of the pool.
fn find_definitions(
    parsed: &[ParsedFile],
    extra: &[ParsedFile],
    names: &[String],
    recipe: &Recipe,
) -> BTreeMap<String, Vec<Def>> {
    let learning = &recipe.lock_learning;
    let mut out: BTreeMap<String, Vec<Def>> = BTreeMap::new();
    for i in 0..parsed.len() + extra.len() {
        let file = pool(parsed, extra, i);
        let lock_file = memchr::memmem::find(&file.src, learning.lock_type.as_bytes()).is_some()
            || memchr::memmem::find(&file.src, learning.acquires.as_bytes()).is_some();
        if !lock_file {
            continue;
        }
        for name in names {
            if memchr::memmem::find(&file.src, name.as_bytes()).is_none() {
                continue;
            }
            let found = identifier_nodes(file, name, |id| {
                defined_by(id, "function_definition").map(|d| (d.start_byte(), d.end_byte()))
            });
            for (start, end) in found {
                out.entry(name.clone()).or_default().push(Def {
                    pool: i,
                    start,
                    end,
                });
            }
        }
    }
    out
}

/// Where an annotation was seen: file, line, the annotation.
type Annotated = BTreeMap<String, (String, usize, String)>;

/// The files already read, by relative path.
type Known<'p> = std::collections::HashMap<&'p str, &'p [u8]>;

fn known<'p>(parsed: &'p [ParsedFile], extra: &'p [ParsedFile]) -> Known<'p> {
    parsed
        .iter()
        .chain(extra)
        .map(|p| (p.rel.as_str(), p.src.as_slice()))
        .collect()
}

/// Reads the tree once: parses the files not parsed yet that mention one
/// of `define` and the lock type or the acquires annotation, and finds
/// which of `annotated_of` are annotated with the acquires annotation on
/// a ptl.
fn read_tree(
    root: &Path,
    all_files: &[PathBuf],
    known: &Known,
    recipe: &Recipe,
    define: &[String],
    annotated_of: &BTreeSet<String>,
) -> Result<(Vec<ParsedFile>, Annotated), ScanError> {
    let learning = &recipe.lock_learning;
    let lock_type = memchr::memmem::Finder::new(learning.lock_type.as_bytes());
    let acquires = memchr::memmem::Finder::new(learning.acquires.as_bytes());
    let names = (!define.is_empty())
        .then(|| aho_corasick::AhoCorasick::new(define))
        .transpose()
        .map_err(|e| ScanError::Walk(e.to_string()))?;
    type One = (Option<ParsedFile>, Vec<(String, (String, usize, String))>);
    let found: Result<Vec<One>, ScanError> = all_files
        .par_iter()
        .map(|path| {
            let rel = super::walk::relative(root, path);
            let src = match known.get(rel.as_str()) {
                Some(src) => std::borrow::Cow::Borrowed(*src),
                None => std::borrow::Cow::Owned(std::fs::read(path).map_err(|e| {
                    ScanError::Unreadable {
                        path: path.clone(),
                        source: e,
                    }
                })?),
            };
            let has_acquires = acquires.find(&src).is_some();
            let mut annotated = Vec::new();
            if has_acquires && !annotated_of.is_empty() {
                for at in acquires.find_iter(&src) {
                    let Some(close) = src[at..].iter().position(|&b| b == b')') else {
                        continue;
                    };
                    let annotation = String::from_utf8_lossy(&src[at..at + close + 1]).into_owned();
                    if let Some(name) = annotated_name(&src, at)
                        .filter(|n| names_the_lock(recipe, &annotation) && annotated_of.contains(n))
                    {
                        let line = memchr::memchr_iter(b'\n', &src[..at]).count() + 1;
                        annotated.push((name, (rel.clone(), line, annotation)));
                    }
                }
            }
            let defines = !known.contains_key(rel.as_str())
                && src.len() <= super::walk::MAX_PARSE_BYTES
                && (has_acquires || lock_type.find(&src).is_some())
                && names.as_ref().is_some_and(|n| n.is_match(src.as_ref()));
            let file = defines.then(|| {
                let src = src.into_owned();
                let tree = Some(kernel_c::parse(&src));
                ParsedFile::new(rel, src, Vec::new(), tree)
            });
            Ok((file, annotated))
        })
        .collect();
    let mut files = Vec::new();
    let mut annotated = Annotated::new();
    for (f, a) in found? {
        files.extend(f);
        annotated.extend(a);
    }
    Ok((files, annotated))
}

/// Calls in a definition that may hand it the lock: those given a lock
/// parameter, inside the conditional-lock annotation, or returned.
fn inner_candidates(def: Node, src: &[u8], recipe: &Recipe) -> BTreeSet<String> {
    let lock_params: Vec<String> = parameters(def, src)
        .into_iter()
        .filter(|p| p.type_text.contains(recipe.lock_learning.lock_type))
        .map(|p| p.name)
        .collect();
    let mut out = BTreeSet::new();
    let Some(body) = def.child_by_field_name("body") else {
        return out;
    };
    for call in calls_in(body) {
        let Some(name) = callee_name(call, src) else {
            continue;
        };
        let args = kernel_c::call_args(call, src);
        let gets_lock = args.iter().any(|a| {
            lock_params
                .iter()
                .any(|p| a.trim_start_matches(['*', '&']) == p.as_str())
        });
        let returned = call
            .parent()
            .is_some_and(|p| p.kind() == "return_statement");
        let in_cond_lock = ancestor_call(call, src, recipe.lock_learning.cond_lock);
        let stores_lock = kernel_c::parent_through_parens_casts(call).is_some_and(|(p, _)| {
            p.kind() == "assignment_expression" || p.kind() == "init_declarator"
        });
        if gets_lock || returned || in_cond_lock || (stores_lock && !lock_params.is_empty()) {
            out.insert(name);
        }
    }
    out
}

fn ancestor_call(node: Node, src: &[u8], name: &str) -> bool {
    let mut n = node.parent();
    while let Some(p) = n {
        if p.kind() == "call_expression" && callee_name(p, src).as_deref() == Some(name) {
            return true;
        }
        n = p.parent();
    }
    false
}

/// Summaries to a fixed point: a wrapper is learned once what it wraps is.
fn summarise_all(
    parsed: &[ParsedFile],
    extra: &[ParsedFile],
    defs: &BTreeMap<String, Vec<Def>>,
    recipe: &Recipe,
) -> Vec<LockHelper> {
    let mut helpers: Vec<LockHelper> = Vec::new();
    for _ in 0..=MAX_DEPTH {
        let locks = Locks::new(recipe, &helpers);
        let mut next = Vec::new();
        for (name, ds) in defs {
            let learned: Vec<LockHelper> = ds
                .iter()
                .filter_map(|d| {
                    let file = pool(parsed, extra, d.pool);
                    summarise(definition_node(file, d)?, file, &locks, recipe)
                })
                .collect();
            // Definitions that disagree (configuration variants): none.
            if let Some(first) = learned.first()
                && learned
                    .iter()
                    .all(|h| h.held == first.held && h.extent == first.extent)
            {
                next.push(LockHelper {
                    name: name.clone(),
                    ..first.clone()
                });
            }
        }
        if next == helpers {
            break;
        }
        helpers = next;
    }
    helpers
}

/// A parameter: its name, index and the text of its type.
struct Param {
    name: String,
    type_text: String,
    pointers: usize,
}

fn parameters(def: Node, src: &[u8]) -> Vec<Param> {
    let Some(declarator) = function_declarator(def) else {
        return Vec::new();
    };
    let Some(list) = declarator.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut cursor = list.walk();
    list.named_children(&mut cursor)
        .filter(|p| p.kind() == "parameter_declaration")
        .map(|p| {
            let type_text = p
                .child_by_field_name("type")
                .map(|t| text(t, src).into_owned())
                .unwrap_or_default();
            let mut pointers = 0;
            let mut d = p.child_by_field_name("declarator");
            while let Some(x) = d {
                if x.kind() == "pointer_declarator" {
                    pointers += 1;
                }
                d = x.child_by_field_name("declarator");
            }
            let name = p
                .child_by_field_name("declarator")
                .and_then(kernel_c::declarator_name_of)
                .map(|n| text(n, src).into_owned())
                .unwrap_or_default();
            Param {
                name,
                type_text,
                pointers,
            }
        })
        .collect()
}

fn function_declarator(def: Node) -> Option<Node> {
    let mut d = def.child_by_field_name("declarator")?;
    while d.kind() != "function_declarator" {
        d = d.child_by_field_name("declarator")?;
    }
    Some(d)
}

/// Whether the function returns a pointer to the lock type.
fn returns_lock(def: Node, src: &[u8], lock_type: &str) -> bool {
    let ty = def
        .child_by_field_name("type")
        .map(|t| text(t, src).into_owned())
        .unwrap_or_default();
    ty.contains(lock_type)
        && def
            .child_by_field_name("declarator")
            .is_some_and(|d| d.kind() == "pointer_declarator")
}

/// The `__acquires(x)` annotation of the definition, if `x` is a ptl.
fn acquires_annotation(def: Node, src: &[u8], recipe: &Recipe) -> Option<String> {
    let body = def.child_by_field_name("body")?;
    let head = &src[def.start_byte()..body.start_byte()];
    let at = memchr::memmem::find(head, recipe.lock_learning.acquires.as_bytes())?;
    let rest = &head[at..];
    let close = memchr::memchr(b')', rest)?;
    let annotation = String::from_utf8_lossy(&rest[..=close]).into_owned();
    names_the_lock(recipe, &annotation).then_some(annotation)
}

/// Whether an annotation's text names the page-table lock, as the
/// recipe's bare lock primitive recognises it (`spin_lock` of a ptl).
fn names_the_lock(recipe: &Recipe, annotation: &str) -> bool {
    recipe
        .lock_acquire
        .iter()
        .filter_map(|op| op.arg_contains)
        .any(|marker| annotation.contains(marker))
}

/// What one definition teaches, if it returns with the lock held.
fn summarise(def: Node, file: &ParsedFile, locks: &Locks, recipe: &Recipe) -> Option<LockHelper> {
    let src = &file.src;
    let learning = &recipe.lock_learning;
    let name = function_name(def, src)?;
    let params = parameters(def, src);
    let out_param = params
        .iter()
        .find(|p| p.type_text.contains(learning.lock_type) && p.pointers == 2)
        .map(|p| p.name.clone());
    let gives_lock = returns_lock(def, src, learning.lock_type);
    let annotation = acquires_annotation(def, src, recipe);
    if out_param.is_none() && !gives_lock && annotation.is_none() {
        return None;
    }
    let exits = ptl::exits(def, src, locks);
    let verdict = held_when(&exits, src)?;
    let takers: Takers = exits
        .iter()
        .flat_map(|e| match &e.state {
            ExitState::Held(t) | ExitState::HeldIfResult { takers: t, .. } => t.clone(),
            _ => Takers::new(),
        })
        .collect();
    if takers.is_empty() && annotation.is_none() {
        return None;
    }
    let mut extent: Option<Extent> = None;
    let (mut mm, mut address, mut page) = (Arg::Unset, Arg::Unset, Arg::Unset);
    for (taker, args) in &takers {
        let Some(t) = locks.taker(taker, &args.join(", ")) else {
            continue;
        };
        extent = Some(extent.map_or(t.extent, |e| e.union(t.extent)));
        mm.add(t.mm_arg, args, &params);
        address.add(t.address_arg, args, &params);
        page.add(t.page_arg, args, &params);
    }
    let by_type = |ty: &str, exact: bool| {
        let matching: Vec<usize> = params
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                if exact {
                    p.type_text == ty && p.pointers == 0
                } else {
                    p.type_text.contains(ty) && p.pointers == 1
                }
            })
            .map(|(i, _)| i)
            .collect();
        (matching.len() == 1).then(|| matching[0])
    };
    let mm_arg = mm.get().or_else(|| by_type(learning.mm_type, false));
    let address_arg = address
        .get()
        .or_else(|| by_type(learning.address_type, true));
    let page_arg = page.get().or_else(|| by_type(learning.page_type, false));
    let loc = loc_of_offset(file, def.start_byte());
    let why = explain(
        verdict,
        out_param.as_deref(),
        gives_lock,
        annotation.as_deref(),
        &takers,
        def,
        src,
        recipe,
        &format!("{}:{}", loc.file, loc.line),
    );
    Some(LockHelper {
        name,
        file: loc.file,
        line: loc.line,
        held: verdict,
        extent: extent.unwrap_or(Extent::Unknown),
        mm_arg,
        address_arg,
        page_arg,
        why,
    })
}

/// An argument index learned from the takers: set once, or in conflict.
enum Arg {
    Unset,
    Param(usize),
    Conflict,
}

impl Arg {
    fn add(&mut self, at: Option<usize>, args: &[String], params: &[Param]) {
        let Some(text) = at.and_then(|i| args.get(i)) else {
            return;
        };
        let found = params.iter().position(|p| p.name == *text);
        *self = match (&*self, found) {
            (Arg::Unset, Some(p)) => Arg::Param(p),
            (Arg::Param(q), Some(p)) if *q == p => Arg::Param(p),
            _ => Arg::Conflict,
        };
    }

    fn get(&self) -> Option<usize> {
        match self {
            Arg::Param(p) => Some(*p),
            _ => None,
        }
    }
}

/// When the function returns with the lock held, from the lock state at
/// each of its exits and what each returns: `None` when that is not one
/// simple rule.
fn held_when(exits: &[ptl::Exit], src: &[u8]) -> Option<Held> {
    #[derive(Default)]
    struct Count {
        held_zero: usize,
        held_other: usize,
        held_void: usize,
        cond_zero: usize,
        cond_other: usize,
        free_zero: usize,
        free_other: usize,
    }
    let mut c = Count::default();
    for e in exits {
        let zero = e.value.is_some_and(|v| {
            matches!(
                text(kernel_c::strip_parens_casts(v), src).as_ref(),
                "0" | "NULL" | "false"
            )
        });
        match &e.state {
            ExitState::Unknown => return None,
            ExitState::HeldIfResult {
                when_zero: true, ..
            } => c.cond_zero += 1,
            ExitState::HeldIfResult { .. } => c.cond_other += 1,
            ExitState::Held(_) if e.value.is_none() => c.held_void += 1,
            ExitState::Held(_) if zero => c.held_zero += 1,
            ExitState::Held(_) => c.held_other += 1,
            ExitState::Free if zero => c.free_zero += 1,
            ExitState::Free => c.free_other += 1,
        }
    }
    let held = c.held_zero + c.held_other + c.held_void;
    let cond = c.cond_zero + c.cond_other;
    let free = c.free_zero + c.free_other;
    if held > 0 && cond == 0 && free == 0 {
        return Some(Held::Always);
    }
    let unconditional_elsewhere = c.held_void > 0;
    if c.held_zero + c.cond_zero > 0
        && c.held_other + c.cond_other + c.free_zero == 0
        && !unconditional_elsewhere
    {
        return Some(Held::OnZero);
    }
    if c.held_other + c.cond_other > 0
        && c.held_zero + c.cond_zero + c.free_other == 0
        && !unconditional_elsewhere
    {
        return Some(Held::OnNonZero);
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn explain(
    held: Held,
    out_param: Option<&str>,
    gives_lock: bool,
    annotation: Option<&str>,
    takers: &Takers,
    def: Node,
    src: &[u8],
    recipe: &Recipe,
    at: &str,
) -> String {
    let when = match held {
        Held::Always => "returns",
        Held::OnZero => "returns 0",
        Held::OnNonZero => "returns non-zero",
    };
    let what = match (out_param, gives_lock) {
        (Some(p), _) => format!("with *{p} locked"),
        (None, true) => "the page-table lock it holds".to_string(),
        (None, false) => "with the page-table lock held".to_string(),
    };
    let names: BTreeSet<&str> = takers.iter().map(|(n, _)| n.as_str()).collect();
    let by = names
        .iter()
        .map(|n| format!("{n}()"))
        .collect::<Vec<_>>()
        .join(" or ");
    let wrapper = calls_in(def)
        .into_iter()
        .any(|c| callee_name(c, src).as_deref() == Some(recipe.lock_learning.cond_lock));
    let how = if let Some(a) = annotation.filter(|_| names.is_empty()) {
        format!("annotated {a}")
    } else if wrapper {
        format!("a {}() wrapper of {by}", recipe.lock_learning.cond_lock)
    } else {
        format!("the lock is taken by {by}")
    };
    format!("{when} {what}: {how} ({at})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::invalidate_page;

    fn file(src: &str) -> ParsedFile {
        ParsedFile::new(
            "mm/x.c".into(),
            src.as_bytes().to_vec(),
            Vec::new(),
            Some(kernel_c::parse(src.as_bytes())),
        )
    }

    fn learn_in(src: &str, names: &[&str]) -> Vec<LockHelper> {
        let recipe = invalidate_page::recipe();
        let f = vec![file(src)];
        let mut defs = BTreeMap::new();
        for n in names {
            defs.insert(
                n.to_string(),
                identifier_nodes(&f[0], n, |id| {
                    defined_by(id, "function_definition").map(|d| (d.start_byte(), d.end_byte()))
                })
                .into_iter()
                .map(|(start, end)| Def {
                    pool: 0,
                    start,
                    end,
                })
                .collect(),
            );
        }
        summarise_all(&f, &[], &defs, &recipe)
    }

    const LOOKUP: &str = "
static pte_t *__find_pte(struct page *page, struct mm_struct *mm,
			 unsigned long address, spinlock_t **ptlp)
{
	pmd_t *pmd;
	pte_t *pte;
	spinlock_t *ptl;

	pmd = find_pmd(mm, address);
	if (!pmd)
		return NULL;
	pte = pte_offset_map(pmd, address);
	ptl = pte_lockptr(mm, pmd);
	spin_lock(ptl);
	if (pte_present(*pte)) {
		*ptlp = ptl;
		return pte;
	}
	pte_unmap_unlock(pte, ptl);
	return NULL;
}

static inline pte_t *find_pte(struct page *page, struct mm_struct *mm,
			      unsigned long address, spinlock_t **ptlp)
{
	pte_t *ptep;

	__cond_lock(*ptlp, ptep = __find_pte(page, mm, address, ptlp));
	return ptep;
}
";

    #[test]
    fn an_out_parameter_locked_on_success_and_its_cond_lock_wrapper_are_learned() {
        let h = learn_in(LOOKUP, &["__find_pte", "find_pte"]);
        assert_eq!(h.len(), 2, "{h:#?}");
        let wrapper = h.iter().find(|h| h.name == "find_pte").unwrap();
        assert_eq!(wrapper.held, Held::OnNonZero);
        assert_eq!(
            (wrapper.mm_arg, wrapper.address_arg, wrapper.page_arg),
            (Some(1), Some(2), Some(0))
        );
        assert_eq!(wrapper.extent, Extent::Unknown);
        assert!(
            wrapper
                .why
                .contains("__cond_lock() wrapper of __find_pte()"),
            "{}",
            wrapper.why
        );
        let inner = h.iter().find(|h| h.name == "__find_pte").unwrap();
        assert!(inner.why.contains("spin_lock()"), "{}", inner.why);
    }

    #[test]
    fn a_lookup_that_returns_zero_with_the_lock_held_is_learned() {
        let src = "
int lookup(struct mm_struct *mm, unsigned long address, pte_t **ptepp,
	   spinlock_t **ptlp)
{
	pmd_t *pmd = find_pmd(mm, address);
	pte_t *ptep;

	if (pmd_huge(*pmd)) {
		*ptlp = pmd_lock(mm, pmd);
		return 0;
	}
	ptep = pte_offset_map_lock(mm, pmd, address, ptlp);
	if (!pte_present(*ptep))
		goto unlock;
	*ptepp = ptep;
	return 0;
unlock:
	pte_unmap_unlock(ptep, *ptlp);
	return -EINVAL;
}
";
        let h = learn_in(src, &["lookup"]);
        assert_eq!(h.len(), 1, "{h:#?}");
        assert_eq!(h[0].held, Held::OnZero);
        assert_eq!(h[0].extent, Extent::PteOrPmd);
        assert_eq!((h[0].mm_arg, h[0].address_arg), (Some(0), Some(1)));
    }

    #[test]
    fn a_function_that_unlocks_before_returning_is_not_a_lock_helper() {
        let src = "
int peek(struct mm_struct *mm, unsigned long address, spinlock_t **ptlp)
{
	pte_t *pte = pte_offset_map_lock(mm, find_pmd(mm, address), address, ptlp);
	int young = pte_young(*pte);

	pte_unmap_unlock(pte, *ptlp);
	return young;
}
";
        assert!(learn_in(src, &["peek"]).is_empty());
    }

    #[test]
    fn an_acquires_annotation_names_its_function_when_it_names_a_ptl() {
        let recipe = invalidate_page::recipe();
        let src = b"extern void lock_entry(struct mm_struct *mm,\n\t\tpmd_t *pmd) __acquires(ptl);\nvoid other(void) __acquires(&inode->lock);\n";
        let ats: Vec<usize> = memchr::memmem::find_iter(src, b"__acquires").collect();
        assert_eq!(annotated_name(src, ats[0]).as_deref(), Some("lock_entry"));
        assert_eq!(annotated_name(src, ats[1]).as_deref(), Some("other"));
        assert!(names_the_lock(&recipe, "__acquires(ptl)"));
        assert!(!names_the_lock(&recipe, "__acquires(&inode->lock)"));
    }

    #[test]
    fn a_function_returning_the_lock_it_took_is_learned() {
        let src = "
spinlock_t *table_lock_if_huge(pmd_t *pmd, struct vm_area_struct *vma)
{
	spinlock_t *ptl;

	ptl = pmd_lock(vma->vm_mm, pmd);
	if (pmd_huge(*pmd))
		return ptl;
	spin_unlock(ptl);
	return NULL;
}

static inline spinlock_t *lock_if_huge(pmd_t *pmd, struct vm_area_struct *vma)
{
	if (pmd_huge(*pmd))
		return table_lock_if_huge(pmd, vma);
	return NULL;
}
";
        let h = learn_in(src, &["table_lock_if_huge", "lock_if_huge"]);
        assert_eq!(h.len(), 2, "{h:#?}");
        assert!(
            h.iter()
                .all(|h| h.held == Held::OnNonZero && h.extent == Extent::Pmd)
        );
    }
}
