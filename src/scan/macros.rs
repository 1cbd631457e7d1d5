//! Third pass: an API call inside a macro body is really made wherever
//! the macro is used.  Every use of such a macro, in its own file and
//! elsewhere in the tree (found by a byte search, as callbacks are), is
//! reported as a site of its own, with the function it is in and whether
//! the page-table lock is held there; the macro's own site says how many
//! uses there are.  A use inside another macro is followed into that
//! macro's uses.
//!
//! The use sites account for no textual occurrence (the needle is in the
//! macro's body, which the macro's site accounts for), so the summary
//! stays exact.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tree_sitter::Node;

use super::ScanError;
use super::callbacks::identifier_nodes;
use super::classify::{Draft, FileFacts, ParsedFile, called_by, loc_of_offset};
use super::kernel_c::{self, enclosing_function, function_name};
use super::locks::Locks;
use super::model::{Detail, Loc};
use super::ptl;

/// How deep macros used in macros are followed.
const MAX_DEPTH: usize = 3;

/// A macro to find the uses of: where it is defined and what it hides.
#[derive(Clone)]
struct Wanted {
    name: String,
    defined_at: Loc,
    /// The API function it calls, through the macros on the way.
    via: String,
    /// The draft of the macro's definition, to say how many uses it has.
    draft: Option<(usize, usize)>,
}

/// Finds the uses of every macro whose body uses the API and adds them as
/// sites.  `parsed` may grow with files that use a macro.
pub fn resolve(
    root: &Path,
    all_files: &[PathBuf],
    parsed: &mut Vec<ParsedFile>,
    facts: &mut Vec<FileFacts>,
    locks: &Locks,
) -> Result<(), ScanError> {
    let mut wanted: Vec<Wanted> = Vec::new();
    for (fi, f) in facts.iter().enumerate() {
        for m in &f.macros {
            let d = &f.drafts[m.draft_index];
            wanted.push(Wanted {
                name: m.name.clone(),
                defined_at: d.loc.clone(),
                via: api_name(&d.detail),
                draft: Some((fi, m.draft_index)),
            });
        }
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_DEPTH {
        wanted.retain(|w| !done.contains(&w.name));
        if wanted.is_empty() {
            break;
        }
        done.extend(wanted.iter().map(|w| w.name.clone()));
        let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
        super::callbacks::load_files_mentioning(root, all_files, &names, parsed, facts)?;
        let mut next = Vec::new();
        for w in &wanted {
            let uses = uses_of(parsed, w, locks);
            if let Some((fi, di)) = w.draft {
                add_use_count(&mut facts[fi].drafts[di], uses.len());
            }
            for u in uses {
                match u {
                    Use::Site(fi, draft) => facts[fi].drafts.push(draft),
                    Use::InMacro(fi, draft, inner) => {
                        facts[fi].drafts.push(draft);
                        next.push(inner);
                    }
                }
            }
        }
        wanted = next;
    }
    Ok(())
}

fn api_name(detail: &Detail) -> String {
    match detail {
        Detail::NeedsReview { reason } => reason.split('`').nth(1).unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

fn add_use_count(draft: &mut Draft, uses: usize) {
    if let Detail::NeedsReview { reason } = &mut draft.detail {
        if uses == 0 {
            reason.push_str("; the macro is not used anywhere in the tree");
        } else {
            reason.push_str(&format!(
                "; it is used at {uses} place(s), each reported as a site of its own"
            ));
        }
    }
}

enum Use {
    Site(usize, Draft),
    /// A use in another macro's body: a site, and that macro to follow.
    InMacro(usize, Draft, Wanted),
}

/// Every use of macro `w` in the parsed files.
fn uses_of(parsed: &[ParsedFile], w: &Wanted, locks: &Locks) -> Vec<Use> {
    let mut out = Vec::new();
    for (fi, file) in parsed.iter().enumerate() {
        if memchr::memmem::find(&file.src, w.name.as_bytes()).is_none() {
            continue;
        }
        let src = &file.src;
        for (off, kind) in mentions(file, &w.name) {
            let loc = loc_of_offset(file, off);
            if loc.file == w.defined_at.file && loc.line == w.defined_at.line {
                continue; // the definition itself
            }
            let node = file
                .tree
                .as_ref()
                .and_then(|t| t.node_for_byte_range(off, off + w.name.len()));
            let function = node
                .and_then(enclosing_function)
                .and_then(|f| function_name(f, src));
            let through = format!(
                "calls `{}` through the macro `{}` ({}:{})",
                w.via, w.name, w.defined_at.file, w.defined_at.line
            );
            let reason = match kind {
                Mention::Call(cs, ce) => {
                    let call = file
                        .tree
                        .as_ref()
                        .and_then(|t| t.node_for_byte_range(cs, ce))
                        .and_then(|n| enclosing_call(n, cs, ce));
                    let lock = match call.and_then(|c| Some((c, enclosing_function(c)?))) {
                        Some((call, f)) => match ptl::lock_at(call, f, src, locks) {
                            (Some(true), e) => format!("the page-table lock is held there ({e})"),
                            (Some(false), e) => {
                                format!("the page-table lock is not held there ({e})")
                            }
                            (None, e) => format!(
                                "whether the page-table lock is held there is not known ({e})"
                            ),
                        },
                        None => "outside a function".to_string(),
                    };
                    format!("{through}: convert it by hand; {lock}")
                }
                Mention::Other => format!("{through}: convert it by hand"),
                Mention::InMacro(ref inner) => {
                    format!(
                        "{through}, in the body of the macro `{inner}`, whose uses are reported too"
                    )
                }
            };
            let draft = Draft {
                anchor: (off, off + w.name.len()),
                detail: Detail::NeedsReview { reason },
                end_line: loc.line,
                loc: loc.clone(),
                function,
                occurrences: 0,
            };
            out.push(match kind {
                Mention::InMacro(inner) => Use::InMacro(
                    fi,
                    draft,
                    Wanted {
                        name: inner,
                        defined_at: loc,
                        via: w.via.clone(),
                        draft: None,
                    },
                ),
                _ => Use::Site(fi, draft),
            });
        }
    }
    out
}

enum Mention {
    /// `NAME(...)` called: the call's byte range.
    Call(usize, usize),
    /// In the body of the macro of this name.
    InMacro(String),
    /// Any other use of the name.
    Other,
}

/// The places a file names macro `name`: calls, uses in other macros,
/// other uses.  Strings and comments do not count.
fn mentions(file: &ParsedFile, name: &str) -> Vec<(usize, Mention)> {
    let mut out = Vec::new();
    let Some(tree) = &file.tree else {
        return out;
    };
    // Code: identifier nodes.
    for (off, call) in identifier_nodes(file, name, |id| {
        if defined_as_macro(id) {
            return None;
        }
        Some((
            id.start_byte(),
            called_by(id).map(|c| (c.start_byte(), c.end_byte())),
        ))
    }) {
        out.push((
            off,
            call.map_or(Mention::Other, |(s, e)| Mention::Call(s, e)),
        ));
    }
    // Macro bodies are opaque text to the parser: search them by bytes.
    for def in tree
        .descendants_of_kind("preproc_function_def")
        .into_iter()
        .chain(tree.descendants_of_kind("preproc_def"))
    {
        let (Some(body), Some(def_name)) = (
            def.child_by_field_name("value"),
            def.child_by_field_name("name"),
        ) else {
            continue;
        };
        let text = &file.src[body.start_byte()..body.end_byte()];
        for at in memchr::memmem::find_iter(text, name.as_bytes()) {
            let start = body.start_byte() + at;
            let end = start + name.len();
            let whole = (start == 0 || !kernel_c::is_ident_byte(file.src[start - 1]))
                && (end >= file.src.len() || !kernel_c::is_ident_byte(file.src[end]));
            if whole {
                let inner = kernel_c::text(def_name, &file.src).into_owned();
                out.push((start, Mention::InMacro(inner)));
            }
        }
    }
    out.sort_by_key(|(o, _)| *o);
    out
}

fn enclosing_call(n: Node, start: usize, end: usize) -> Option<Node> {
    let mut n = Some(n);
    while let Some(c) = n {
        if c.kind() == "call_expression" && c.start_byte() == start && c.end_byte() == end {
            return Some(c);
        }
        n = c.parent();
    }
    None
}

fn defined_as_macro(id: Node) -> bool {
    id.parent().is_some_and(|p| {
        matches!(p.kind(), "preproc_def" | "preproc_function_def")
            && p.child_by_field_name("name")
                .is_some_and(|n| n.id() == id.id())
    })
}
