//! Stage 2: each driver's `.invalidate_page` callback.
//!
//! The callback's calls are compared with those of the range callbacks
//! the same ops sets, asked about the callback's page ([`effects`]): each
//! call must be made by a range callback with the same values, over the
//! same page or an interval that holds it, or be its range form.  What is
//! left is sorted: a debug message goes with the callback; a counter that
//! only this callback fed goes with its declaration and its printers (the
//! tree is searched for every other use); a trace point left without a
//! caller is named for the reviewer; anything else is work.  With no work
//! left, the entry goes, and the function (and its forward declarations,
//! and static helpers nothing else uses) too unless something else calls
//! it.  With work left, the callback is converted instead: the ops' range
//! callback that runs after the change calls it for every page of its
//! range (`invalidate_range`, under the page-table lock, or
//! `invalidate_range_end` when the callback can sleep), and the rationale
//! says what could not be shown.  Ops whose callback forwards to an
//! architecture hook belong to the KVM stage.

use std::collections::BTreeMap;

use tree_sitter::{Node, Tree};

use super::effects::{self, Comparison, Effect, How, Match};
use crate::recipe::Recipe;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::removal::{function_definitions, prototypes, remove, remove_initializer_pair};
use crate::rewrite::rule::{Rule, Wait};
use crate::rewrite::syntax::{contains, descendants, param_names};
use crate::rewrite::text::{line_end, line_start};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::rewrite::{Refusal, RewriteError};
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
                ..
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

/// The page callback's calls, covered by the range callbacks or not.
/// `page` is where the callback is defined, `ops` where the ops and its
/// range callbacks are (usually the same file).
pub fn coverage(
    recipe: &Recipe,
    page: (&Tree, &[u8]),
    ops: (&Tree, &[u8]),
    entry: &Entry,
) -> Comparison {
    let range_fns: Vec<&str> = recipe
        .replacement_members
        .iter()
        .filter_map(|m| entry.sets.get(*m).map(String::as_str))
        .collect();
    effects::compare(
        page,
        &entry.callback,
        ops,
        &range_fns,
        recipe.check.base_page_size,
        recipe.range_form_suffix,
    )
}

/// Whether the callback forwards to a per-architecture hook (KVM's).
pub fn forwards_to_arch_hook(recipe: &Recipe, cov: &Comparison) -> bool {
    cov.uncovered.iter().any(|e| {
        recipe
            .arch_hooks
            .iter()
            .any(|h| e.key == format!("call:{h}"))
    })
}

/// What is left of a callback once its covered calls are set aside.
#[derive(Default)]
struct Leftovers {
    /// Debug and log messages: they go with the callback.
    messages: Vec<Effect>,
    /// Values only this callback fed, with their declaration and printers.
    feeds: Vec<Feed>,
    /// Trace points this callback called, and whether another caller is
    /// left.
    traces: Vec<(Effect, String, bool)>,
    /// Work no range callback is shown to do.
    work: Vec<Effect>,
}

/// A counter (or other value) that only the removed callback fed.
struct Feed {
    effect: Effect,
    name: String,
    declaration: Place,
    printers: Vec<Place>,
}

/// A declaration or statement to remove with a fed value.
struct Place {
    file: String,
    start: usize,
    end: usize,
    snippet: String,
}

/// Sorts the uncovered calls of the callback `entry.callback` (defined
/// in `file`).
fn leftovers(
    ws: &mut Workspace,
    recipe: &Recipe,
    file: &str,
    entry: &Entry,
    cov: &Comparison,
) -> Result<Leftovers, RewriteError> {
    let mut left = Leftovers::default();
    for e in &cov.uncovered {
        if e.message {
            left.messages.push(e.clone());
            continue;
        }
        if let Some(point) = e
            .callee
            .as_deref()
            .and_then(|c| c.strip_prefix(recipe.trace_prefix))
            .filter(|p| !p.is_empty())
        {
            let callee = e.callee.clone().unwrap_or_default();
            let others = other_callers(ws, &callee, file, &entry.callback)?;
            left.traces.push((e.clone(), point.to_string(), others));
            continue;
        }
        // A counter is named by a bare identifier that is not a function
        // (a static function passed as a callback is work, not a value).
        let (src, tree) = ws.parsed(file)?;
        let values: Vec<&String> = e
            .bare
            .iter()
            .filter(|n| {
                function_definitions(&tree, &src, n).is_empty()
                    && prototypes(&tree, &src, n).is_empty()
            })
            .collect();
        let fed = match (&e.callee, values.as_slice()) {
            (Some(callee), [name]) if e.bare.len() == 1 => {
                only_fed(ws, name, callee, file, &entry.callback)?
            }
            _ => None,
        };
        match fed {
            Some((declaration, printers)) => left.feeds.push(Feed {
                effect: e.clone(),
                name: e.bare[0].clone(),
                declaration,
                printers,
            }),
            None => left.work.push(e.clone()),
        }
    }
    Ok(left)
}

/// Files of the tree that mention the identifier `name` as a word.
fn files_mentioning(ws: &Workspace, name: &str) -> Vec<String> {
    let walked = crate::scan::walk::walk_sources(ws.root(), |src| {
        (!word_mentions(src, name).is_empty()).then(Vec::new)
    });
    match walked {
        Ok(w) => w.candidates.into_iter().map(|c| c.rel).collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether a function other than `callback` (in `file`) calls `callee`.
fn other_callers(
    ws: &mut Workspace,
    callee: &str,
    file: &str,
    callback: &str,
) -> Result<bool, RewriteError> {
    for f in files_mentioning(ws, callee) {
        let (src, tree) = ws.parsed(&f)?;
        let inside = |n: Node| {
            f == file
                && function_definitions(&tree, &src, callback)
                    .iter()
                    .any(|d| contains(*d, n))
        };
        if descendants(tree.root_node(), &["call_expression"])
            .into_iter()
            .any(|c| {
                crate::scan::kernel_c::callee_name(c, &src).as_deref() == Some(callee) && !inside(c)
            })
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// When `name`, an argument of `feeder(...)` in the callback, is fed
/// nowhere else in the tree: its one declaration (a structure member) and
/// the statements that only print it.  Any other use keeps it.
fn only_fed(
    ws: &mut Workspace,
    name: &str,
    feeder: &str,
    file: &str,
    callback: &str,
) -> Result<Option<(Place, Vec<Place>)>, RewriteError> {
    let mut declarations = Vec::new();
    let mut printers = Vec::new();
    for f in files_mentioning(ws, name) {
        let (src, tree) = ws.parsed(&f)?;
        let callback_defs = if f == file {
            function_definitions(&tree, &src, callback)
        } else {
            Vec::new()
        };
        let uses: Vec<Node> = descendants(tree.root_node(), &["identifier", "field_identifier"])
            .into_iter()
            .filter(|n| text(*n, &src) == name)
            .filter(|n| !callback_defs.iter().any(|d| contains(*d, *n)))
            .collect();
        // Every mention outside comments and strings must be one of them
        // (a macro body is not parsed: a mention there keeps the value).
        let mentions = word_mentions(&src, name)
            .into_iter()
            .filter(|at| {
                let node = tree.root_node().descendant_for_byte_range(*at, *at);
                !node.is_some_and(|n| {
                    matches!(n.kind(), "comment" | "string_literal" | "string_content")
                        || callback_defs.iter().any(|d| contains(*d, n))
                })
            })
            .count();
        if mentions != uses.len() {
            return Ok(None);
        }
        for u in uses {
            let place = |n: Node| Place {
                file: f.clone(),
                start: n.start_byte(),
                end: n.end_byte(),
                snippet: text(n, &src)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            if let Some(decl) = u.parent().filter(|p| p.kind() == "field_declaration")
                && decl
                    .child_by_field_name("declarator")
                    .is_some_and(|d| d.id() == u.id())
            {
                declarations.push(place(decl));
                continue;
            }
            let call = u
                .parent()
                .filter(|p| p.kind() == "argument_list")
                .and_then(|l| l.parent())
                .filter(|c| c.kind() == "call_expression");
            let Some(call) = call else {
                return Ok(None);
            };
            if crate::scan::kernel_c::callee_name(call, &src).as_deref() == Some(feeder) {
                return Ok(None); // fed elsewhere too
            }
            match call.parent().filter(|p| p.kind() == "expression_statement") {
                Some(stmt) => printers.push(place(stmt)),
                None => return Ok(None),
            }
        }
    }
    match declarations.len() {
        1 => Ok(Some((declarations.remove(0), printers))),
        _ => Ok(None),
    }
}

fn word_mentions(src: &[u8], name: &str) -> Vec<usize> {
    memchr::memmem::find_iter(src, name.as_bytes())
        .filter(|&i| {
            let before = i.checked_sub(1).map(|b| src[b]);
            let after = src.get(i + name.len()).copied();
            !before.is_some_and(crate::scan::kernel_c::is_ident_byte)
                && !after.is_some_and(crate::scan::kernel_c::is_ident_byte)
        })
        .collect()
}

/// Stage 2: each driver's page callback, dead once no caller is left.
pub(super) struct Callbacks;

impl Rule for Callbacks {
    fn stage(&self) -> &'static str {
        super::CALLBACKS
    }

    fn wait(&self) -> Wait {
        Wait::For(&[super::CALLERS])
    }

    fn kept(&self) -> &'static str {
        "callbacks"
    }

    /// One unit per ops entry whose page callback is dead: removed when
    /// its range callbacks do its work, else moved into a range callback.
    /// KVM's, which forwards to an arch hook, is the next stage's.
    fn convert(
        &self,
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
                match cross_file(ws, recipe, &entry, cb_site, (&tree, &src)) {
                    Ok(draft) => units.push(ws.commit(draft)?),
                    Err(refusal) => refusal.review_or_stop(review, file, entry.site.line)?,
                }
                continue;
            }
            let cov = coverage(recipe, (&tree, &src), (&tree, &src), &entry);
            if forwards_to_arch_hook(recipe, &cov) {
                continue; // the KVM stage
            }
            let left = leftovers(ws, recipe, file, &entry, &cov)?;
            let summary = format!("drop the {} callback", recipe.ops_member);
            let mut draft = UnitDraft::new(
                Stage::new(super::CALLBACKS),
                &entry.site.subsystem,
                &summary,
            );
            let dead = Dead {
                file,
                src: &src,
                tree: &tree,
                entry: &entry,
                cb_site,
                cov: &cov,
                left: &left,
            };
            if left.work.is_empty() {
                remove_covered(ws, &mut draft, recipe, &dead)?;
            } else if let Err(refusal) = move_uncovered(&mut draft, recipe, &dead) {
                refusal.review_or_stop(review, file, entry.site.line)?;
                continue;
            }
            note_traces(&mut draft, file, &left);
            units.push(ws.commit(draft)?);
        }
        Ok(units)
    }
}

/// A dead page callback in the file of its ops entry, and what the
/// comparison with its range callbacks found.
struct Dead<'a, 'r> {
    file: &'a str,
    src: &'a [u8],
    tree: &'a Tree,
    entry: &'a Entry<'r>,
    cb_site: &'r Site,
    cov: &'a Comparison,
    left: &'a Leftovers,
}

impl Dead<'_, '_> {
    /// `file: ops.member = callback().`, how the rationale opens.
    fn what(&self, recipe: &Recipe) -> String {
        format!(
            "{}: {}.{} = {}().",
            self.file, self.entry.ops, recipe.ops_member, self.entry.callback
        )
    }
}

/// Every piece of work is done by a range callback: the entry and the
/// callback go, with what only they fed.
fn remove_covered(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    recipe: &Recipe,
    dead: &Dead,
) -> Result<(), RewriteError> {
    let (file, entry, cov) = (dead.file, dead.entry, dead.cov);
    let evidence = describe_coverage(recipe, entry, &cov.covered, true);
    let removed = remove_entry_and_callback(
        draft,
        file,
        dead.src,
        dead.tree,
        entry,
        dead.cb_site,
        recipe.ops_member,
    )?;
    let fed = remove_feeds(ws, draft, entry, dead.left)?;
    draft
        .description
        .push(covered_description(recipe, entry, cov, dead.cb_site));
    draft
        .description
        .extend(feeds_description(entry, dead.left));
    draft
        .rationale
        .push(format!("{} {evidence} {removed}{fed}", dead.what(recipe)));
    Ok(())
}

/// Work no range callback is shown to do moves into a per-page loop in
/// the ops' atomic member, or the sleepable one after the change when
/// the callback can sleep.
fn move_uncovered(draft: &mut UnitDraft, recipe: &Recipe, dead: &Dead) -> Result<(), Refusal> {
    let (file, entry, left) = (dead.file, dead.entry, dead.left);
    let sleeps = crate::check::sleep_chain(
        &[(file.to_string(), dead.src.to_vec())],
        recipe,
        &entry.callback,
    );
    let member = if sleeps.is_some() {
        recipe.sleepable_after_member
    } else {
        recipe.atomic_member
    };
    let evidence = describe_coverage(recipe, entry, &dead.cov.covered, false);
    let how = convert_uncovered(draft, recipe, member, file, dead.src, dead.tree, entry)?;
    draft.summary = format!("move {} work to a range callback", recipe.ops_member);
    let why_member = match &sleeps {
        Some(chain) => format!(
            " It can sleep ({chain}), so it goes to {member}, which runs after the change \
             and may sleep, rather than under the page-table lock."
        ),
        None => String::new(),
    };
    draft.description.push(format!(
        "{} {}() does work that no range callback of {} could be shown to do for the page: {}.",
        nothing_calls(recipe, entry),
        entry.callback,
        entry.ops,
        snippets(&left.work)
    ));
    let sleeps_note = if sleeps.is_some() {
        format!(
            " It can sleep, so it goes to ->{member}(), which runs after the change \
             and may sleep, rather than under the page-table lock."
        )
    } else {
        String::new()
    };
    draft.description.push(format!("{how}{sleeps_note}"));
    draft.rationale.push(format!(
        "{} Not shown to be done by a range callback for the page: {}. {how}{why_member} {evidence}",
        dead.what(recipe),
        uncovered_work(dead)
    ));
    draft.review_notes.push(format!(
        "{}() in {file} is converted, not removed: its range callbacks could not be shown to do {} for the page. \
         It now runs once for every page of every range (a large munmap too); if the range callbacks do that work, \
         the per-page calls can go.",
        entry.callback,
        left.work
            .iter()
            .map(|e| format!("`{}`", e.snippet))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// The work left, each with its line and the nearest range-callback
/// effect with other values.
fn uncovered_work(dead: &Dead) -> String {
    let cov = dead.cov;
    dead.left
        .work
        .iter()
        .map(|e| {
            let near = cov
                .uncovered
                .iter()
                .position(|u| u.line == e.line && u.snippet == e.snippet)
                .and_then(|i| cov.near[i].as_ref())
                .map(|(r, owner)| format!("; {owner}() makes `{}`, with other values", r.snippet))
                .unwrap_or_default();
            format!("`{}` (line {}{near})", e.snippet, e.line)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A trace point the callback was the only caller of stays defined,
/// unused: say so.
fn note_traces(draft: &mut UnitDraft, file: &str, left: &Leftovers) {
    for (e, point, others) in &left.traces {
        if !others {
            draft.review_notes.push(format!(
                "{file}: `{}` was the only caller of the trace point {point}; its definition stays, unused.",
                e.snippet
            ));
        }
    }
}

/// Removes the declarations and printers of the values only the removed
/// callback fed; says what went.
fn remove_feeds(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    entry: &Entry,
    left: &Leftovers,
) -> Result<String, RewriteError> {
    let mut out = String::new();
    if !left.messages.is_empty() {
        out.push_str(&format!(
            " Its debug message{} {} go{} with it.",
            if left.messages.len() > 1 { "s" } else { "" },
            left.messages
                .iter()
                .map(|e| format!("`{}`", e.snippet))
                .collect::<Vec<_>>()
                .join(", "),
            if left.messages.len() > 1 { "" } else { "es" },
        ));
    }
    for f in &left.feeds {
        for p in std::iter::once(&f.declaration).chain(&f.printers) {
            let (src, tree) = ws.parsed(&p.file)?;
            let node = tree
                .root_node()
                .descendant_for_byte_range(p.start, p.end)
                .map(|mut n| {
                    while n.start_byte() != p.start || n.end_byte() != p.end {
                        match n.parent() {
                            Some(x) => n = x,
                            None => break,
                        }
                    }
                    n
                })
                .ok_or_else(|| {
                    RewriteError::Internal(format!("{}: {} moved", p.file, p.snippet))
                })?;
            remove(draft, &p.file, &src, node);
        }
        let printers = if f.printers.is_empty() {
            String::new()
        } else {
            format!(
                ", and so {} its printer{} {}",
                if f.printers.len() > 1 { "do" } else { "does" },
                if f.printers.len() > 1 { "s" } else { "" },
                f.printers
                    .iter()
                    .map(|p| format!("`{}` ({})", p.snippet.trim_end_matches(';'), p.file))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push_str(&format!(
            " `{}` fed `{}`, which nothing else in the tree feeds: it would stay at its last value \
             forever, so its declaration `{}` ({}) goes{printers}.",
            f.effect.snippet, f.name, f.declaration.snippet, f.declaration.file
        ));
        for p in &f.printers {
            draft.review_notes.push(format!(
                "{}: `{}` goes with the counter {} that only {}() fed: the output loses that line.",
                p.file,
                p.snippet.trim_end_matches(';'),
                f.name,
                entry.callback
            ));
        }
    }
    Ok(out)
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
) -> Result<UnitDraft, Refusal> {
    let file = entry.site.file.as_str();
    let (cb_src, cb_tree) = ws.parsed(&cb_site.file)?;
    let cov = coverage(recipe, (&cb_tree, &cb_src), ops, entry);
    let left = leftovers(ws, recipe, &cb_site.file, entry, &cov)?;
    if forwards_to_arch_hook(recipe, &cov) || !left.work.is_empty() {
        return Err(Refusal::Review(format!(
            "the callback {}() is defined in {}, away from its ops, and does work no range callback is shown to do: {}",
            entry.callback,
            cb_site.file,
            left.work
                .iter()
                .map(|e| format!("`{}`", e.snippet))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut draft = UnitDraft::new(
        Stage::new(super::CALLBACKS),
        &entry.site.subsystem,
        &format!("drop the {} callback", recipe.ops_member),
    );
    let pair = entry_pair(ops.0, ops.1, entry, recipe.ops_member)
        .ok_or_else(|| RewriteError::Internal(format!("{file}: ops entry not found")))?;
    remove_initializer_pair(&mut draft, file, ops.1, pair);
    let Detail::Callback {
        other_users,
        declarations,
        ..
    } = &cb_site.detail
    else {
        return Err("not a callback site".into());
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
        let fed = remove_feeds(ws, &mut draft, entry, &left)?;
        format!(
            "The entry and {}() (in {}) go: nothing else uses it.{fed}",
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
        "{file}: {}.{} = {}(), defined in {}. {} {fate}",
        entry.ops,
        recipe.ops_member,
        entry.callback,
        cb_site.file,
        describe_coverage(recipe, entry, &cov.covered, true),
    ));
    Ok(draft)
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
fn covered_description(recipe: &Recipe, entry: &Entry, cov: &Comparison, cb_site: &Site) -> String {
    let mut owners: Vec<String> = Vec::new();
    for m in &cov.covered {
        let owner = format!("{}()", m.owner);
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
            crate::rewrite::text::join_and(&owners),
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
    crate::rewrite::text::join_and(&shown)
}

/// The commit message's sentence for each value only the removed callback
/// fed, which goes with it.
fn feeds_description(entry: &Entry, left: &Leftovers) -> Vec<String> {
    left.feeds
        .iter()
        .map(|f| {
            format!(
                "Only {}() fed `{}`: remove it too, with its declaration{}, rather than leave it at its last value.",
                entry.callback,
                f.name,
                if f.printers.is_empty() {
                    ""
                } else {
                    " and the code that prints it"
                }
            )
        })
        .collect()
}

/// The evidence: each covered call that depends on the page's address (or
/// stores through a pointer), with what covers it and how; the others
/// (locks, lookups) are counted.
pub fn describe_coverage(recipe: &Recipe, entry: &Entry, covered: &[Match], all: bool) -> String {
    if covered.is_empty() {
        return if all {
            format!(
                "{}() makes no call a range callback would have to make.",
                entry.callback
            )
        } else {
            String::new()
        };
    }
    let page_size = recipe.check.base_page_size;
    let mut pairs = Vec::new();
    let mut plain = 0;
    for m in covered {
        if !m.page.uses_address && m.page.callee.is_some() && m.how == How::Same {
            plain += 1;
            continue;
        }
        let when: Vec<&String> = m
            .range
            .conds
            .iter()
            .filter(|c| !m.page.conds.contains(c))
            .collect();
        let when = if when.is_empty() || m.how == How::CallsRange {
            String::new()
        } else {
            format!(
                ", when {}",
                when.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        };
        pairs.push(match m.how {
            How::CallsRange => format!(
                "`{}` calls the range callback {}() itself on the page",
                m.page.snippet, m.owner
            ),
            How::Same => format!(
                "`{}` is `{}` in {}(){when}, the same call for start = address, end = address + {page_size}",
                m.page.snippet, m.range.snippet, m.owner
            ),
            How::RangeForm => format!(
                "`{}` is `{}` in {}(){when}: its range form, over the page",
                m.page.snippet, m.range.snippet, m.owner
            ),
            How::Wider => format!(
                "`{}` is `{}` in {}(){when}: the same call over a range that holds the page",
                m.page.snippet, m.range.snippet, m.owner
            ),
        });
    }
    let calls = |n: usize| format!("{n} call{}", if n > 1 { "s" } else { "" });
    if !all && pairs.is_empty() {
        return if plain > 1 {
            format!("Its {plain} other calls (locks, lookups) are the same in the range callbacks.")
        } else {
            "Its other call (a lock or lookup) is the same in the range callbacks.".to_string()
        };
    }
    let mut out = if all {
        format!(
            "For the page's range, the range callbacks of {} do what {}() did: ",
            entry.ops, entry.callback
        )
    } else {
        "For the page's range, the range callbacks do the rest: ".to_string()
    };
    if pairs.is_empty() {
        out.push_str(&format!("the same {} with the same values", calls(plain)));
    } else {
        out.push_str(&pairs.join("; "));
    }
    if plain > 0 && !pairs.is_empty() {
        out.push_str(&if plain > 1 {
            format!("; {plain} other calls (locks, lookups) are the same on both sides")
        } else {
            "; one other call (a lock or lookup) is the same on both sides".to_string()
        });
    }
    out.push('.');
    out
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
    member: &str,
) -> Result<String, RewriteError> {
    let pair = entry_pair(tree, src, entry, member)
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

/// The `.member = callback` pair of the entry (`member` is the recipe's
/// removed ops member, the fallback when the scan's line has moved).
pub fn entry_pair<'t>(tree: &'t Tree, src: &[u8], entry: &Entry, member: &str) -> Option<Node<'t>> {
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
                            .is_some_and(|d| text(d, src).contains(member))
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

/// Moves the callback's work into the ops' `member` callback (one that
/// runs after the change) as a per-page loop, creating that callback if
/// the ops has none.  The loop runs first, before any early return of
/// the range callback can skip it.
fn convert_uncovered(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    member: &str,
    file: &str,
    src: &[u8],
    tree: &Tree,
    entry: &Entry,
) -> Result<String, Refusal> {
    let page_def = function_definitions(tree, src, &entry.callback)
        .into_iter()
        .next()
        .ok_or("callback not found")?;
    let pair = entry_pair(tree, src, entry, recipe.ops_member).ok_or("ops entry not found")?;
    let page_params = param_names(page_def, src);
    let [_, _, _] = page_params.as_slice() else {
        return Err(Refusal::Review(format!(
            "{}() does not take (mn, mm, address)",
            entry.callback
        )));
    };
    let page = PageCallback {
        file,
        src,
        tree,
        entry,
        def: page_def,
        pair,
        page_size: recipe.check.base_page_size,
    };
    match entry.sets.get(member) {
        Some(range_fn) => call_from_range_callback(draft, &page, range_fn),
        None => new_range_callback(draft, recipe, &page, member),
    }
}

/// The page callback whose work moves, with its ops entry.
struct PageCallback<'a, 't> {
    file: &'a str,
    src: &'a [u8],
    tree: &'t Tree,
    entry: &'a Entry<'a>,
    def: Node<'t>,
    pair: Node<'t>,
    /// The step of the per-page loop.
    page_size: &'a str,
}

/// The ops' range callback calls the page callback for every page of its
/// range, first thing (declared before it if it is defined later), and
/// the page entry goes.
fn call_from_range_callback(
    draft: &mut UnitDraft,
    page: &PageCallback,
    range_fn: &str,
) -> Result<String, Refusal> {
    let (file, src, tree, entry) = (page.file, page.src, page.tree, page.entry);
    let range_def = function_definitions(tree, src, range_fn)
        .into_iter()
        .next()
        .ok_or("range callback not found")?;
    let rp = param_names(range_def, src);
    let [rmn, rmm, start, end] = rp.as_slice() else {
        return Err(format!("{range_fn}() does not take (mn, mm, start, end)").into());
    };
    let body = range_def
        .child_by_field_name("body")
        .ok_or("range callback without body")?;
    let var = fresh_name(range_def, src, "addr");
    let call = format!("{}({rmn}, {rmm}, {var});", entry.callback);
    let lp = format!(
        "\tfor ({var} = {start}; {var} < {end}; {var} += {})\n\t\t{call}\n",
        page.page_size
    );
    insert_loop_first(draft, file, src, body, &var, &lp);
    if page.def.start_byte() > range_def.start_byte()
        && !has_prototype_before(tree, src, &entry.callback, range_def)
    {
        let proto = prototype_text(page.def, src);
        let at = line_start(
            src,
            crate::rewrite::removal::with_leading_comment(range_def, src),
        );
        draft.insert(file, at, format!("{proto}\n\n"));
    }
    remove_initializer_pair(draft, file, src, page.pair);
    Ok(format!(
        "The entry goes and {range_fn}(), which runs where the page callback ran (after the change), \
         now calls {}() for every page of its range, first thing.",
        entry.callback
    ))
}

/// Declares `var` with the body's declarations and puts the loop `lp`
/// right after them, a blank line apart.
fn insert_loop_first(
    draft: &mut UnitDraft,
    file: &str,
    src: &[u8],
    body: Node,
    var: &str,
    lp: &str,
) {
    let decls = crate::rewrite::syntax::leading_declarations(body);
    match decls.last() {
        Some(last) => {
            let (at, decl) = crate::rewrite::text::declaration_insert(
                src,
                body,
                &format!("unsigned long {var};"),
            );
            draft.insert(file, at, decl);
            let after = line_end(src, last.end_byte() - 1);
            let blank = if crate::rewrite::text::line_is_blank(src, after) {
                ""
            } else {
                "\n"
            };
            let at = if blank.is_empty() {
                line_end(src, after)
            } else {
                after
            };
            draft.insert(file, at, format!("{blank}{lp}\n"));
        }
        None => {
            let open = line_end(src, body.start_byte());
            draft.insert(file, open, format!("\tunsigned long {var};\n\n{lp}\n"));
        }
    }
}

/// The ops has no `member` callback: a new one after the page callback
/// calls it for every page of the range, and the entry becomes it.
fn new_range_callback(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    page: &PageCallback,
    member: &str,
) -> Result<String, Refusal> {
    let (file, src, entry, pair) = (page.file, page.src, page.entry, page.pair);
    let new_fn = if member == recipe.atomic_member {
        format!("{}_range", entry.callback)
    } else {
        format!("{}_range_end", entry.callback)
    };
    let after = line_end(src, page.def.end_byte() - 1);
    draft.insert(
        file,
        after,
        format!(
            "\nstatic void {new_fn}(struct mmu_notifier *mn, struct mm_struct *mm,\n{}unsigned long start, unsigned long end)\n{{\n\tunsigned long addr;\n\n\tfor (addr = start; addr < end; addr += {})\n\t\t{}(mn, mm, addr);\n}}\n",
            crate::rewrite::text::align_to(13 + new_fn.len()),
            page.page_size,
            entry.callback
        ),
    );
    // The entry keeps its place and its spacing: member and
    // function change.
    let field = pair
        .child_by_field_name("designator")
        .and_then(|d| descendants(d, &["field_identifier"]).into_iter().next())
        .ok_or("ops entry without a member name")?;
    let value = pair
        .child_by_field_name("value")
        .ok_or("ops entry without a value")?;
    draft.replace(file, field.start_byte(), field.end_byte(), member);
    draft.replace(file, value.start_byte(), value.end_byte(), new_fn.clone());
    Ok(format!(
        "The entry becomes `.{member} = {new_fn}`, a new callback that runs after the change \
         and calls {}() for every page of the range.",
        entry.callback
    ))
}

fn fresh_name(def: Node, src: &[u8], base: &str) -> String {
    let used = crate::rewrite::syntax::identifiers(def, src);
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
