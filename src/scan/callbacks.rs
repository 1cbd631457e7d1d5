//! Second pass: resolve the function each ops entry names, wherever it is
//! defined, and account for every identifier that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tree_sitter::Node;

use super::ScanError;
use super::classify::{Draft, FileFacts, ParsedFile, defined_by, loc_of_offset};
use super::kernel_c::{self, enclosing_function, function_name, is_static};
use super::model::{Detail, Loc};

/// A callback named by one or more ops entries.
struct Named {
    name: String,
    /// File index of the (first) entry naming it, and that entry.
    entry_file: usize,
    entry: Loc,
    sets: BTreeMap<String, String>,
}

/// Where a function is defined.
struct Definition {
    file: usize,
    start: usize,
    end: usize,
    name_offset: usize,
    is_static: bool,
}

/// Resolves callbacks, adds their sites and accounts for pending
/// identifiers.  `parsed` may grow: files that define a callback without
/// mentioning the needle are read from `all_files` and parsed.
pub fn resolve(
    root: &Path,
    all_files: &[PathBuf],
    parsed: &mut Vec<ParsedFile>,
    facts: &mut Vec<FileFacts>,
) -> Result<(), ScanError> {
    let named = named_callbacks(facts);
    let missing: Vec<String> = named
        .iter()
        .filter(|n| find_definition(parsed, n).is_none_or(|d| !d.is_static))
        .map(|n| n.name.clone())
        .collect();
    if !missing.is_empty() {
        load_files_mentioning(root, all_files, &missing, parsed, facts)?;
    }
    for n in &named {
        match find_definition(parsed, n) {
            Some(def) => add_callback(parsed, facts, n, &def),
            None => facts[n.entry_file].drafts.push(unresolved(n)),
        }
    }
    account_idents(parsed, facts, &named);
    Ok(())
}

fn named_callbacks(facts: &[FileFacts]) -> Vec<Named> {
    let mut out: Vec<Named> = Vec::new();
    for (fi, f) in facts.iter().enumerate() {
        for e in &f.entries {
            let d = &f.drafts[e.draft_index];
            let Detail::OpsEntry { sets, .. } = &d.detail else {
                continue;
            };
            // Two ops in one file naming the same function: one callback.
            if out
                .iter()
                .any(|n| n.name == e.callback && n.entry_file == fi)
            {
                continue;
            }
            out.push(Named {
                name: e.callback.clone(),
                entry_file: fi,
                entry: d.loc.clone(),
                sets: sets.clone(),
            });
        }
    }
    out
}

/// The definition of a named callback: in the entry's own file first (a
/// static function), else any non-static definition in the parsed files.
fn find_definition(parsed: &[ParsedFile], n: &Named) -> Option<Definition> {
    if let Some(d) = definitions_in(parsed, n.entry_file, &n.name)
        .into_iter()
        .next()
    {
        return Some(d);
    }
    (0..parsed.len())
        .filter(|&i| i != n.entry_file)
        .flat_map(|i| definitions_in(parsed, i, &n.name))
        .find(|d| !d.is_static)
}

fn definitions_in(parsed: &[ParsedFile], fi: usize, name: &str) -> Vec<Definition> {
    let f = &parsed[fi];
    identifier_nodes(f, name, |id| {
        let def = defined_by(id, "function_definition")?;
        Some(Definition {
            file: fi,
            start: def.start_byte(),
            end: def.end_byte(),
            name_offset: id.start_byte(),
            is_static: is_static(def, &f.src),
        })
    })
}

/// Applies `f` to every identifier node spelled exactly `name`.
pub(super) fn identifier_nodes<T>(
    file: &ParsedFile,
    name: &str,
    mut f: impl FnMut(Node) -> Option<T>,
) -> Vec<T> {
    let Some(tree) = &file.tree else {
        return Vec::new();
    };
    let src = &file.src;
    memchr::memmem::find_iter(src, name.as_bytes())
        .filter(|&off| {
            let before_ok = off == 0 || !kernel_c::is_ident_byte(src[off - 1]);
            let end = off + name.len();
            before_ok && (end == src.len() || !kernel_c::is_ident_byte(src[end]))
        })
        .filter_map(|off| {
            let node = tree.node_for_byte_range(off, off + name.len())?;
            (node.kind() == "identifier" && node.start_byte() == off).then_some(node)
        })
        .filter_map(&mut f)
        .collect()
}

/// Reads every file that mentions one of `names` but was not parsed yet,
/// and parses it, so that definitions and uses elsewhere are seen.
pub(super) fn load_files_mentioning(
    root: &Path,
    all_files: &[PathBuf],
    names: &[String],
    parsed: &mut Vec<ParsedFile>,
    facts: &mut Vec<FileFacts>,
) -> Result<(), ScanError> {
    let known: std::collections::HashSet<String> = parsed.iter().map(|p| p.rel.clone()).collect();
    let finders: Vec<memchr::memmem::Finder> = names
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    let extra: Result<Vec<Option<ParsedFile>>, ScanError> = all_files
        .par_iter()
        .map(|path| {
            let rel = super::walk::relative(root, path);
            if known.contains(&rel) {
                return Ok(None);
            }
            let src = std::fs::read(path).map_err(|e| ScanError::Unreadable {
                path: path.clone(),
                source: e,
            })?;
            if !finders.iter().any(|f| f.find(&src).is_some()) {
                return Ok(None);
            }
            let tree = (src.len() <= super::walk::MAX_PARSE_BYTES).then(|| kernel_c::parse(&src));
            Ok(Some(ParsedFile::new(rel, src, Vec::new(), tree)))
        })
        .collect();
    for p in extra?.into_iter().flatten() {
        parsed.push(p);
        facts.push(FileFacts::default());
    }
    Ok(())
}

fn add_callback(parsed: &[ParsedFile], facts: &mut [FileFacts], n: &Named, def: &Definition) {
    let scope: Vec<usize> = if def.is_static {
        vec![def.file]
    } else {
        (0..parsed.len()).collect()
    };
    let mut declarations = Vec::new();
    let mut other_users = Vec::new();
    for &fi in &scope {
        let f = &parsed[fi];
        let uses = identifier_nodes(f, &n.name, |id| {
            let loc = loc_of_offset(f, id.start_byte());
            if defined_by(id, "function_definition").is_some() {
                return None;
            }
            if defined_by(id, "declaration").is_some() {
                return Some((true, loc));
            }
            if is_entry_value(id, facts, fi) {
                return None;
            }
            Some((false, loc))
        });
        for (is_decl, loc) in uses {
            if is_decl {
                declarations.push(loc)
            } else {
                other_users.push(loc)
            }
        }
    }
    let f = &parsed[def.file];
    let loc = loc_of_offset(f, def.name_offset);
    let end_line = f.src[..def.end].iter().filter(|&&b| b == b'\n').count() + 1;
    facts[def.file].drafts.push(Draft {
        anchor: (def.start, def.end),
        detail: Detail::Callback {
            name: n.name.clone(),
            entry: n.entry.clone(),
            is_static: def.is_static,
            declarations,
            other_users,
            sets: n.sets.clone(),
        },
        loc,
        end_line,
        function: None,
        occurrences: 0,
    });
}

fn is_entry_value(id: Node, facts: &[FileFacts], fi: usize) -> bool {
    facts[fi]
        .entries
        .iter()
        .any(|e| e.value_offset == id.start_byte())
}

fn unresolved(n: &Named) -> Draft {
    Draft {
        anchor: (usize::MAX, usize::MAX),
        detail: Detail::NeedsReview {
            reason: format!(
                "callback `{}` named by the ops entry is not defined in the tree",
                n.name
            ),
        },
        loc: n.entry.clone(),
        end_line: n.entry.line,
        function: None,
        occurrences: 0,
    }
}

/// Every pending identifier becomes part of an ops entry, of a callback,
/// or an unrelated occurrence.
fn account_idents(parsed: &[ParsedFile], facts: &mut [FileFacts], named: &[Named]) {
    // Looked up once per identifier: sets, not scans (a generated file
    // may hold many thousands of entries).
    let named: std::collections::HashSet<&str> = named.iter().map(|n| n.name.as_str()).collect();
    for fi in 0..facts.len() {
        let idents = std::mem::take(&mut facts[fi].idents);
        let entry_at: std::collections::HashMap<usize, usize> = facts[fi]
            .entries
            .iter()
            .map(|e| (e.value_offset, e.draft_index))
            .collect();
        for id in idents {
            if let Some(&i) = entry_at.get(&id.offset) {
                facts[fi].drafts[i].occurrences += 1;
                continue;
            }
            if let Some(i) = callback_draft_for(facts, fi, &id.name, &named) {
                let (cf, ci) = i;
                facts[cf].drafts[ci].occurrences += 1;
                continue;
            }
            let reason = format!("{}: {}", id.context, id.name);
            let function = id.function.clone().or_else(|| {
                parsed[fi]
                    .tree
                    .as_ref()
                    .and_then(|t| t.node_for_byte_range(id.offset, id.offset))
                    .and_then(enclosing_function)
                    .and_then(|f| function_name(f, &parsed[fi].src))
            });
            facts[fi].drafts.push(Draft {
                anchor: (id.offset, id.offset + id.name.len()),
                detail: Detail::Unrelated { reason },
                end_line: id.loc.line,
                loc: id.loc,
                function,
                occurrences: 1,
            });
        }
    }
}

/// The callback draft an identifier in file `fi` refers to, if any.
fn callback_draft_for(
    facts: &[FileFacts],
    fi: usize,
    name: &str,
    named: &std::collections::HashSet<&str>,
) -> Option<(usize, usize)> {
    if !named.contains(name) {
        return None;
    }
    let find = |f: usize| {
        facts[f]
            .drafts
            .iter()
            .position(|d| matches!(&d.detail, Detail::Callback { name: cb, .. } if cb == name))
    };
    if let Some(i) = find(fi) {
        return Some((fi, i));
    }
    // A non-static callback defined in another file.
    (0..facts.len()).find_map(|f| {
        facts[f].drafts.iter().position(|d| {
            matches!(&d.detail, Detail::Callback { name: cb, is_static: false, .. } if cb == name)
        }).map(|i| (f, i))
    })
}
