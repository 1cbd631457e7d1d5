//! Stage 2: each driver's `.invalidate_page` callback.
//!
//! The callback's effects are compared with those of the range callbacks
//! the same ops sets.  When they are all covered, the entry goes, and the
//! function (and its forward declarations, and static helpers nothing else
//! uses) goes too unless something else calls it.  When some work is not
//! covered, the work moves into the ops' `invalidate_range` callback (which
//! runs where `invalidate_page` ran: after the change, under the lock) as a
//! per-page loop, and the rationale says so.  Ops whose callback forwards
//! to an architecture hook belong to the KVM stage.

use std::collections::BTreeMap;

use tree_sitter::{Node, Tree};

use super::RewriteError;
use super::effects::{self, Effect};
use super::plan::{ChangeUnit, ReviewItem, Stage};
use super::removal::{function_definitions, prototypes, remove, remove_initializer_pair};
use super::syntax::{contains, descendants, param_names};
use super::text::{indent_at, line_end, line_start};
use super::workspace::{UnitDraft, Workspace};
use crate::recipe::Recipe;
use crate::scan::kernel_c::{is_static, text};
use crate::scan::{Detail, ScanReport, Site};

/// An ops entry with its callback, as the scan found them.
pub struct Entry<'r> {
    pub site: &'r Site,
    pub ops: String,
    pub callback: String,
    pub callback_site: Option<&'r Site>,
    pub sets: BTreeMap<String, String>,
}

/// Every ops entry of the scan, with its callback site.
pub fn entries<'r>(report: &'r ScanReport) -> Vec<Entry<'r>> {
    report
        .sites
        .iter()
        .filter_map(|s| match &s.detail {
            Detail::OpsEntry {
                ops,
                callback,
                sets,
            } => Some(Entry {
                site: s,
                ops: ops.clone(),
                callback: callback.clone(),
                callback_site: report.sites.iter().find(|c| {
                    matches!(&c.detail, Detail::Callback { name, entry, .. }
                        if name == callback && entry.file == s.file && entry.line == s.line)
                }),
                sets: sets.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Effects of the page callback and which range callbacks cover them.
pub struct Coverage {
    pub covered: Vec<(Effect, Effect, String)>,
    pub uncovered: Vec<Effect>,
}

/// `page` is where the callback is defined, `ops` where the ops and its
/// range callbacks are (usually the same file).
pub fn coverage(
    recipe: &Recipe,
    page: (&Tree, &[u8]),
    ops: (&Tree, &[u8]),
    entry: &Entry,
) -> Coverage {
    let (tree, src) = ops;
    let range_fns: Vec<&str> = recipe
        .replacement_members
        .iter()
        .filter_map(|m| entry.sets.get(*m).map(String::as_str))
        .collect();
    let page = effects::of_function(page.0, page.1, &entry.callback, &range_fns);
    let mut range = Vec::new();
    for f in &range_fns {
        // Calling a range callback does everything it does.
        range.push((
            effects::Effect {
                key: format!("call:{f}"),
                snippet: format!("{f}()"),
                line: 0,
            },
            f.to_string(),
        ));
        range.extend(
            effects::of_function(tree, src, f, &[])
                .into_iter()
                .map(|e| (e, f.to_string())),
        );
    }
    let range_effects: Vec<Effect> = range.iter().map(|(e, _)| e.clone()).collect();
    let mut cov = Coverage {
        covered: Vec::new(),
        uncovered: Vec::new(),
    };
    for e in page {
        match effects::covered_by(&e, &range_effects) {
            Some(o) => {
                let owner = range
                    .iter()
                    .find(|(r, _)| r.key == o.key && r.line == o.line)
                    .map(|(_, f)| f.clone());
                cov.covered.push((e, o.clone(), owner.unwrap_or_default()));
            }
            None => cov.uncovered.push(e),
        }
    }
    cov
}

/// Whether the callback forwards to a per-architecture hook (KVM's).
pub fn forwards_to_arch_hook(recipe: &Recipe, cov: &Coverage) -> bool {
    cov.uncovered.iter().any(|e| {
        recipe
            .arch_hooks
            .iter()
            .any(|h| e.key == format!("call:{h}"))
    })
}

pub fn convert(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Vec<ChangeUnit>, RewriteError> {
    let mut units = Vec::new();
    for entry in entries(report) {
        let file = entry.site.file.as_str();
        let Some(cb_site) = entry.callback_site else {
            review.push(ReviewItem {
                file: file.into(),
                line: entry.site.line,
                reason: format!("the callback {}() was not found", entry.callback),
            });
            continue;
        };
        let (src, tree) = ws.parsed(file)?;
        if cb_site.file != file {
            match cross_file(ws, recipe, &entry, cb_site, (&tree, &src))? {
                Ok(draft) => units.push(ws.commit(draft)?),
                Err(reason) => review.push(ReviewItem {
                    file: file.into(),
                    line: entry.site.line,
                    reason,
                }),
            }
            continue;
        }
        let cov = coverage(recipe, (&tree, &src), (&tree, &src), &entry);
        if forwards_to_arch_hook(recipe, &cov) {
            continue; // the KVM stage
        }
        let summary = format!("drop the {} callback", recipe.ops_member);
        let mut draft = UnitDraft::new(Stage::Callbacks, &entry.site.subsystem, &summary);
        let evidence = describe_coverage(&cov);
        if cov.uncovered.is_empty() {
            let removed =
                remove_entry_and_callback(&mut draft, file, &src, &tree, &entry, cb_site)?;
            draft
                .description
                .push(covered_description(recipe, &entry, &cov, cb_site));
            draft.rationale.push(format!(
                "{file}: {}.{} = {}(). Every effect of {}() is also done by the range callbacks of {}: {evidence}. {removed}",
                entry.ops, recipe.ops_member, entry.callback, entry.callback, entry.ops
            ));
        } else {
            match convert_uncovered(&mut draft, recipe, file, &src, &tree, &entry, &cov) {
                Ok(how) => {
                    draft.summary = format!("move {} work to a range callback", recipe.ops_member);
                    draft.description.push(format!(
                        "{} {}() does work that no range callback of {} does: {}.",
                        nothing_calls(recipe, &entry),
                        entry.callback,
                        entry.ops,
                        snippets(&cov.uncovered)
                    ));
                    draft.description.push(how.clone());
                    draft.rationale.push(format!(
                        "{file}: {}.{} = {}(). Not all of its work is done by a range callback: {}. {how} \
                         Covered: {evidence}.",
                        entry.ops,
                        recipe.ops_member,
                        entry.callback,
                        cov.uncovered.iter().map(|e| format!("`{}` (line {})", e.snippet, e.line)).collect::<Vec<_>>().join(", ")
                    ));
                    draft.review_notes.push(format!(
                        "{}() in {file} is converted, not removed: check that calling it for every page of the range is what the driver wants.",
                        entry.callback
                    ));
                }
                Err(reason) => {
                    review.push(ReviewItem {
                        file: file.into(),
                        line: entry.site.line,
                        reason,
                    });
                    continue;
                }
            }
        }
        units.push(ws.commit(draft)?);
    }
    Ok(units)
}

/// A callback defined in another file than its ops: the entry goes when
/// the range callbacks cover it; the function goes too if nothing else
/// uses it.  Converting work across files is left to a human.
fn cross_file(
    ws: &mut Workspace,
    recipe: &Recipe,
    entry: &Entry,
    cb_site: &Site,
    ops: (&Tree, &[u8]),
) -> Result<Result<UnitDraft, String>, RewriteError> {
    let file = entry.site.file.as_str();
    let (cb_src, cb_tree) = ws.parsed(&cb_site.file)?;
    let cov = coverage(recipe, (&cb_tree, &cb_src), ops, entry);
    if forwards_to_arch_hook(recipe, &cov) || !cov.uncovered.is_empty() {
        return Ok(Err(format!(
            "the callback {}() is defined in {}, away from its ops, and does work no range callback does: {}",
            entry.callback,
            cb_site.file,
            cov.uncovered
                .iter()
                .map(|e| format!("`{}`", e.snippet))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut draft = UnitDraft::new(
        Stage::Callbacks,
        &entry.site.subsystem,
        &format!("drop the {} callback", recipe.ops_member),
    );
    let pair = entry_pair(ops.0, ops.1, entry)
        .ok_or_else(|| RewriteError::Internal(format!("{file}: ops entry not found")))?;
    remove_initializer_pair(&mut draft, file, ops.1, pair);
    let Detail::Callback {
        other_users,
        declarations,
        ..
    } = &cb_site.detail
    else {
        return Ok(Err("not a callback site".into()));
    };
    let fate = if other_users.is_empty() {
        for def in function_definitions(&cb_tree, &cb_src, &entry.callback) {
            remove(&mut draft, &cb_site.file, &cb_src, def);
        }
        let mut files: Vec<&str> = declarations.iter().map(|d| d.file.as_str()).collect();
        files.dedup();
        for f in files {
            let (src, tree) = ws.parsed(f)?;
            for p in prototypes(&tree, &src, &entry.callback) {
                remove(&mut draft, f, &src, p);
            }
        }
        format!(
            "The entry and {}() (in {}) go: nothing else uses it.",
            entry.callback, cb_site.file
        )
    } else {
        let users: Vec<String> = other_users
            .iter()
            .map(|u| format!("{}:{}", u.file, u.line))
            .collect();
        format!(
            "The entry goes; {}() stays, other code calls it ({}).",
            entry.callback,
            users.join(", ")
        )
    };
    draft
        .description
        .push(covered_description(recipe, entry, &cov, cb_site));
    draft.rationale.push(format!(
        "{file}: {}.{} = {}(), defined in {}. Every effect of it is also done by the range callbacks of {}: {}. {fate}",
        entry.ops,
        recipe.ops_member,
        entry.callback,
        cb_site.file,
        entry.ops,
        describe_coverage(&cov)
    ));
    Ok(Ok(draft))
}

/// "Now that nothing calls mmu_notifier_invalidate_page(),
/// intel_mmuops.invalidate_page is never called." (the commit message).
fn nothing_calls(recipe: &Recipe, entry: &Entry) -> String {
    format!(
        "Now that nothing calls {}(), {}.{} is never called.",
        recipe
            .api_functions
            .first()
            .copied()
            .unwrap_or(recipe.ops_member),
        entry.ops,
        recipe.ops_member
    )
}

/// The commit message of a callback whose work the range callbacks do.
fn covered_description(recipe: &Recipe, entry: &Entry, cov: &Coverage, cb_site: &Site) -> String {
    let mut owners: Vec<String> = Vec::new();
    for (_, _, owner) in &cov.covered {
        let owner = format!("{owner}()");
        if owner != "()" && !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    let kept =
        matches!(&cb_site.detail, Detail::Callback { other_users, .. } if !other_users.is_empty());
    let what = if kept {
        format!(
            "remove the entry ({}() stays: other code calls it)",
            entry.callback
        )
    } else {
        "remove it".to_string()
    };
    let why = match owners.len() {
        0 => format!("{}() has no effect of its own to keep", entry.callback),
        n => format!(
            "{} {} everything {}() did, for any range",
            super::text::join_and(&owners),
            if n == 1 { "does" } else { "do" },
            entry.callback
        ),
    };
    format!("{} {why}, so {what}.", nothing_calls(recipe, entry))
}

/// Code snippets for a sentence: at most three, then how many more.
fn snippets(effects: &[Effect]) -> String {
    let mut shown: Vec<String> = effects
        .iter()
        .take(3)
        .map(|e| format!("`{}`", e.snippet))
        .collect();
    if effects.len() > 3 {
        shown.push(format!("{} more", effects.len() - 3));
    }
    super::text::join_and(&shown)
}

fn describe_coverage(cov: &Coverage) -> String {
    if cov.covered.is_empty() {
        return "nothing to compare".into();
    }
    cov.covered
        .iter()
        .map(|(e, o, owner)| format!("`{}` ~ `{}` in {owner}()", e.snippet, o.snippet))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Removes the ops entry, and the callback with its forward declarations
/// and dead static helpers when nothing else uses it.  Says what went.
pub fn remove_entry_and_callback(
    draft: &mut UnitDraft,
    file: &str,
    src: &[u8],
    tree: &Tree,
    entry: &Entry,
    cb_site: &Site,
) -> Result<String, RewriteError> {
    let pair = entry_pair(tree, src, entry)
        .ok_or_else(|| RewriteError::Internal(format!("{file}: ops entry not found")))?;
    remove_initializer_pair(draft, file, src, pair);
    let Detail::Callback { other_users, .. } = &cb_site.detail else {
        return Ok(String::new());
    };
    if !other_users.is_empty() {
        let users: Vec<String> = other_users
            .iter()
            .map(|u| format!("{}:{}", u.file, u.line))
            .collect();
        return Ok(format!(
            "The entry goes; {}() stays, other code calls it ({}).",
            entry.callback,
            users.join(", ")
        ));
    }
    let mut gone = vec![entry.callback.clone()];
    let mut dead = dead_helpers(tree, src, &entry.callback);
    gone.append(&mut dead);
    for name in &gone {
        for def in function_definitions(tree, src, name) {
            remove(draft, file, src, def);
        }
        for proto in prototypes(tree, src, name) {
            remove(draft, file, src, proto);
        }
    }
    let helpers = &gone[1..];
    Ok(if helpers.is_empty() {
        format!(
            "The entry and {}() go: nothing else uses it.",
            entry.callback
        )
    } else {
        format!(
            "The entry and {}() go: nothing else uses it; so do its helpers {} that nothing else uses.",
            entry.callback,
            helpers
                .iter()
                .map(|h| format!("{h}()"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The `.member = callback` pair of the entry.
pub fn entry_pair<'t>(tree: &'t Tree, src: &[u8], entry: &Entry) -> Option<Node<'t>> {
    let line = entry.site.line - 1;
    descendants(tree.root_node(), &["initializer_pair"])
        .into_iter()
        .find(|p| {
            p.start_position().row == line
                && p.child_by_field_name("value")
                    .is_some_and(|v| text(v, src) == entry.callback)
        })
        .or_else(|| {
            descendants(tree.root_node(), &["initializer_pair"])
                .into_iter()
                .find(|p| {
                    p.child_by_field_name("value")
                        .is_some_and(|v| text(v, src) == entry.callback)
                        && p.child_by_field_name("designator")
                            .is_some_and(|d| text(d, src).contains("invalidate_page"))
                })
        })
}

/// Static functions of the file that only `root` (directly or through
/// other such helpers) uses.
fn dead_helpers(tree: &Tree, src: &[u8], root: &str) -> Vec<String> {
    let mut dying = vec![root.to_string()];
    loop {
        let mut grew = false;
        let candidates: Vec<String> = dying
            .iter()
            .flat_map(|d| function_definitions(tree, src, d))
            .flat_map(|def| descendants(def, &["identifier"]))
            .map(|id| text(id, src).into_owned())
            .collect();
        for name in candidates {
            if dying.contains(&name) {
                continue;
            }
            let defs = function_definitions(tree, src, &name);
            if defs.is_empty() || !defs.iter().all(|d| is_static(*d, src)) {
                continue;
            }
            let dying_defs: Vec<Node> = dying
                .iter()
                .flat_map(|d| function_definitions(tree, src, d))
                .collect();
            let uses_outside = descendants(tree.root_node(), &["identifier"])
                .into_iter()
                .any(|id| {
                    text(id, src) == name
                        && !defs.iter().any(|d| contains(*d, id))
                        && !dying_defs.iter().any(|d| contains(*d, id))
                        && !prototypes(tree, src, &name)
                            .iter()
                            .any(|p| contains(*p, id))
                });
            if !uses_outside {
                dying.push(name);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    dying.remove(0);
    dying
}

/// Moves the callback's work into the ops' `invalidate_range` callback as
/// a per-page loop (creating that callback if the ops has none).
fn convert_uncovered(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    file: &str,
    src: &[u8],
    tree: &Tree,
    entry: &Entry,
    cov: &Coverage,
) -> Result<String, String> {
    let _ = cov;
    let page_def = function_definitions(tree, src, &entry.callback)
        .into_iter()
        .next()
        .ok_or("callback not found")?;
    let pair = entry_pair(tree, src, entry).ok_or("ops entry not found")?;
    let page_params = param_names(page_def, src);
    let [_, _, _] = page_params.as_slice() else {
        return Err(format!(
            "{}() does not take (mn, mm, address)",
            entry.callback
        ));
    };
    let range_member = recipe
        .replacement_members
        .iter()
        .find(|m| m.ends_with("range") && !m.ends_with("start"))
        .copied();
    let range_member = range_member.unwrap_or("invalidate_range");
    match entry.sets.get(range_member) {
        Some(range_fn) => {
            let range_def = function_definitions(tree, src, range_fn)
                .into_iter()
                .next()
                .ok_or("range callback not found")?;
            let rp = param_names(range_def, src);
            let [rmn, rmm, start, end] = rp.as_slice() else {
                return Err(format!("{range_fn}() does not take (mn, mm, start, end)"));
            };
            let body = range_def
                .child_by_field_name("body")
                .ok_or("range callback without body")?;
            let indent = "\t";
            let var = fresh_name(range_def, src, "addr");
            let (at, decl) =
                super::text::declaration_insert(src, body, &format!("unsigned long {var};"));
            draft.insert(file, at, decl);
            let close = line_start(src, body.end_byte() - 1);
            draft.insert(
                file,
                close,
                format!(
                    "\n{indent}for ({var} = {start}; {var} < {end}; {var} += PAGE_SIZE)\n{indent}\t{}({rmn}, {rmm}, {var});\n",
                    entry.callback
                ),
            );
            if page_def.start_byte() > range_def.start_byte()
                && !has_prototype_before(tree, src, &entry.callback, range_def)
            {
                let proto = prototype_text(page_def, src);
                let at = line_start(src, super::removal::with_leading_comment(range_def, src));
                draft.insert(file, at, format!("{proto}\n\n"));
            }
            remove_initializer_pair(draft, file, src, pair);
            Ok(format!(
                "The entry goes and {range_fn}(), which runs where the page callback ran (after the change, \
                 under the page-table lock), now calls {}() for every page of its range.",
                entry.callback
            ))
        }
        None => {
            let new_fn = format!("{}_range", entry.callback);
            let after = line_end(src, page_def.end_byte() - 1);
            draft.insert(
                file,
                after,
                format!(
                    "\nstatic void {new_fn}(struct mmu_notifier *mn, struct mm_struct *mm,\n{}unsigned long start, unsigned long end)\n{{\n\tunsigned long addr;\n\n\tfor (addr = start; addr < end; addr += PAGE_SIZE)\n\t\t{}(mn, mm, addr);\n}}\n",
                    super::text::align_to(13 + new_fn.len()),
                    entry.callback
                ),
            );
            let indent = indent_at(src, pair.start_byte());
            let (s, e) = (
                line_start(src, pair.start_byte()),
                line_end(src, pair.end_byte()),
            );
            draft.replace(file, s, e, format!("{indent}.{range_member} = {new_fn},\n"));
            Ok(format!(
                "The entry becomes `.{range_member} = {new_fn}`, a new callback that runs where the page callback ran \
                 and calls {}() for every page of the range.",
                entry.callback
            ))
        }
    }
}

fn fresh_name(def: Node, src: &[u8], base: &str) -> String {
    let used = super::syntax::identifiers(def, src);
    (0..)
        .map(|i| {
            if i == 0 {
                base.to_string()
            } else {
                format!("{base}{i}")
            }
        })
        .find(|n| !used.contains(n))
        .unwrap()
}

fn has_prototype_before(tree: &Tree, src: &[u8], name: &str, before: Node) -> bool {
    prototypes(tree, src, name)
        .iter()
        .any(|p| p.start_byte() < before.start_byte())
}

/// `static void f(args);` from a definition.
fn prototype_text(def: Node, src: &[u8]) -> String {
    let body = def
        .child_by_field_name("body")
        .map_or(def.end_byte(), |b| b.start_byte());
    let head = String::from_utf8_lossy(&src[def.start_byte()..body]);
    format!("{};", head.trim_end())
}
