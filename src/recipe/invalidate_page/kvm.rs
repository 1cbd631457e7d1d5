//! Stage 3: KVM, the generic callback and every architecture's hook.
//!
//! KVM's page callback does two things: what its range callbacks already
//! do (unmap the hva range, bump the sequence), and a call of the
//! per-architecture `kvm_arch_mmu_notifier_invalidate_page()` hook, which
//! no range callback does.  Dropping that call silently is the 2017 bug
//! (x86 lost the APIC access page reload).  Calling it from the
//! range-start callback is the next one: that runs before the page-table
//! entry changes, and a vCPU can reload the old page in between.  So: the
//! page callback goes and its entry becomes the ops' atomic member
//! (`->invalidate_range`, called under the page-table lock right after the
//! change, and again from the range end), set to a new callback that
//! calls the range hook, inside whatever the page callback held around the
//! hook (the SRCU read lock); check's W1 must find nothing on the way that
//! can sleep.  The hook gets a `__weak` no-op default for the
//! architectures that have nothing to do; empty per-architecture stubs go;
//! a non-empty hook is converted to check whether its address lies in
//! `[start, end)`.  The names come from the recipe (its members and hook
//! names) and from the ops' own callbacks.

use std::collections::HashSet;

use tree_sitter::{Node, Tree};

use super::callbacks::{Entry, coverage, entries, entry_pair, forwards_to_arch_hook};
use crate::recipe::Recipe;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::removal::{function_definitions, prototypes, remove, with_leading_comment};
use crate::rewrite::rule::{Rule, Wait};
use crate::rewrite::syntax::{descendants, param_decls, param_names, statement_of, statements};
use crate::rewrite::text::{indent_at, line_end, line_start, signature};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::rewrite::{Refusal, RewriteError};
use crate::scan::kernel_c::{call_args, callee_name, declarator_name, text};
use crate::scan::{Detail, HookRole, ScanReport};

/// Stage 3: KVM's page callback and every architecture's hook, dead once
/// no caller is left.
pub(super) struct Kvm;

impl Rule for Kvm {
    fn stage(&self) -> &'static str {
        super::KVM
    }

    fn wait(&self) -> Wait {
        Wait::For(&[super::CALLERS])
    }

    fn kept(&self) -> &'static str {
        "KVM hooks"
    }

    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        let mut units = Vec::new();
        for entry in entries(report) {
            let file = entry.site.file.clone();
            let (src, tree) = ws.parsed(&file)?;
            let cov = coverage(recipe, (&tree, &src), (&tree, &src), &entry);
            if !forwards_to_arch_hook(recipe, &cov) {
                continue;
            }
            let others: Vec<String> = cov
                .uncovered
                .iter()
                .filter(|e| {
                    !recipe
                        .arch_hooks
                        .iter()
                        .any(|h| e.key == format!("call:{h}"))
                })
                .map(|e| format!("`{}` (line {})", e.snippet, e.line))
                .collect();
            if !others.is_empty() {
                review.push(ReviewItem {
                    file: file.clone(),
                    line: entry.site.line,
                    reason: format!(
                        "{}() does work no range callback does besides the arch hook: {}",
                        entry.callback,
                        others.join(", ")
                    ),
                });
                continue;
            }
            match kvm_unit(ws, recipe, report, &entry, &src, &tree) {
                Ok(draft) => units.push(ws.commit(draft)?),
                Err(refusal) => refusal.review_or_stop(review, &file, entry.site.line)?,
            }
        }
        Ok(units)
    }
}

/// The KVM unit for one ops entry whose page callback forwards to the
/// arch hook: find the parts, replace the page callback, convert the
/// hooks, prove the new callback does not sleep, explain.
fn kvm_unit(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    entry: &Entry,
    src: &[u8],
    tree: &Tree,
) -> Result<UnitDraft, Refusal> {
    let file = entry.site.file.as_str();
    let mut draft = UnitDraft::new(
        Stage::new(super::KVM),
        &entry.site.subsystem,
        "replace the page callback by a range hook",
    );
    let parts = Parts::find(recipe, entry, src, tree)?;
    let callback = new_callback_name(recipe, entry, &parts, src, tree)?;
    let body = hook_body(
        parts.page_def,
        parts.hook_call,
        src,
        recipe.arch_hook_range,
        &parts.range_args(src),
    )?;
    let hook_params = hook_params(ws, report, recipe, &parts.hook)?;
    let params = range_params(
        &hook_params,
        page_addr_param_index(&call_args(parts.hook_call, src), &parts.page_addr),
    );
    replace_page_callback(&mut draft, recipe, entry, &parts, &callback, &body, &params)?;
    let hooks = convert_hooks(ws, recipe, report, &mut draft, &parts.hook, &params)?;
    add_prototype(ws, recipe, &mut draft, &params)?;
    let renames = [
        (entry.callback.as_str(), callback.as_str()),
        (parts.hook.as_str(), recipe.arch_hook_range),
    ];
    let comments = update_comments(ws, report, &mut draft, &renames)?;
    // W1 on the result: the callback runs under the page-table lock, so
    // nothing it reaches (every architecture's hook) may sleep.
    let proof = no_sleep_proof(ws, recipe, &draft, file, &callback)?;
    explain(&mut draft, recipe, report, entry, &parts, &callback, &body);
    draft.rationale.push(proof);
    draft.rationale.extend(hooks);
    draft.rationale.extend(comments);
    draft.review_notes.push(format!(
        "{}() is new and runs from {callback}(), under the page-table lock: an architecture's hook must not sleep, \
         and must check whether its address lies in [start, end).",
        recipe.arch_hook_range
    ));
    Ok(draft)
}

/// What the KVM unit works from: the page callback and its hook call,
/// and the range-start callback whose signature the new callback takes.
struct Parts<'t> {
    /// The file's content and tree.
    src: &'t [u8],
    tree: &'t Tree,
    page_def: Node<'t>,
    hook_call: Node<'t>,
    /// The arch hook the page callback calls.
    hook: String,
    /// The ops' range-start callback and its definition.
    range_start: String,
    start_def: Node<'t>,
    /// The page callback's address parameter, and the range-start
    /// callback's bounds.
    page_addr: String,
    rstart: String,
    rend: String,
}

impl<'t> Parts<'t> {
    fn find(
        recipe: &Recipe,
        entry: &Entry,
        src: &'t [u8],
        tree: &'t Tree,
    ) -> Result<Parts<'t>, Refusal> {
        let page_def = function_definitions(tree, src, &entry.callback)
            .into_iter()
            .next()
            .ok_or("callback not found")?;
        let (hook_call, hook) =
            hook_call_in(recipe, page_def, src).ok_or("arch hook call not found")?;
        let range_start = entry
            .sets
            .get(recipe.before_member)
            .ok_or("the ops has no range-start callback to take its signature from")?;
        let start_def = function_definitions(tree, src, range_start)
            .into_iter()
            .next()
            .ok_or("range-start callback not found")?;
        let page_addr = param_names(page_def, src)
            .get(2)
            .cloned()
            .ok_or("page callback without an address")?;
        let [_, _, rstart, rend] = param_names(start_def, src)
            .try_into()
            .map_err(|_| "range-start callback does not take (mn, mm, start, end)")?;
        Ok(Parts {
            src,
            tree,
            page_def,
            hook_call,
            hook,
            range_start: range_start.clone(),
            start_def,
            page_addr,
            rstart,
            rend,
        })
    }

    /// The hook's arguments with the range instead of the address.
    fn range_args(&self, src: &[u8]) -> Vec<String> {
        call_args(self.hook_call, src)
            .into_iter()
            .flat_map(|a| {
                if a == self.page_addr {
                    vec![self.rstart.clone(), self.rend.clone()]
                } else {
                    vec![a]
                }
            })
            .collect()
    }
}

/// The name of the new atomic callback, which runs the hook under the
/// page-table lock, right after the change (and again from the range
/// end).  Refused when the ops already sets the atomic member: merging
/// the hook and what it needs into a callback that already does other
/// work is a human's call.
fn new_callback_name(
    recipe: &Recipe,
    entry: &Entry,
    parts: &Parts,
    src: &[u8],
    tree: &Tree,
) -> Result<String, Refusal> {
    let atomic = recipe.atomic_member;
    if let Some(existing) = entry.sets.get(atomic) {
        return Err(Refusal::Review(format!(
            "the ops already sets .{atomic} = {existing}(): call {}() from it, after the change, by hand",
            recipe.arch_hook_range
        )));
    }
    Ok(
        atomic_callback_name(recipe, &parts.range_start, &entry.callback)
            .filter(|n| function_definitions(tree, src, n).is_empty())
            .ok_or("no free name for the new callback")?,
    )
}

/// The page callback becomes the hook's weak default and the new
/// callback; its ops entry becomes the atomic member, set to the new
/// callback.
fn replace_page_callback(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    entry: &Entry,
    parts: &Parts,
    callback: &str,
    body: &HookBody,
    params: &[String],
) -> Result<(), Refusal> {
    let (file, src, tree) = (entry.site.file.as_str(), parts.src, parts.tree);
    let weak = format!(
        "{}{{\n}}\n",
        signature(
            &format!("__weak void {}", recipe.arch_hook_range),
            params,
            ""
        )
    );
    let from = line_start(src, with_leading_comment(parts.page_def, src));
    let to = line_end(src, parts.page_def.end_byte() - 1);
    let pair = entry_pair(tree, src, entry, recipe.ops_member).ok_or("ops entry not found")?;
    let cb_params: Vec<String> = param_decls(parts.page_def)
        .into_iter()
        .take(2)
        .chain(param_decls(parts.start_def).into_iter().skip(2))
        .map(|p| normalized(&text(p, src)))
        .collect();
    let declarations = if body.declarations.is_empty() {
        String::new()
    } else {
        format!("{}\n", body.declarations)
    };
    let new_fn = format!(
        "{}{{\n{declarations}{}}}\n",
        signature(&format!("static void {callback}"), &cb_params, ""),
        body.statements
    );
    draft.replace(file, from, to, format!("{weak}\n{new_fn}"));
    let member = pair
        .child_by_field_name("designator")
        .ok_or("ops entry without a designator")?;
    let value = pair
        .child_by_field_name("value")
        .ok_or("ops entry without a value")?;
    let field = descendants(member, &["field_identifier"])
        .into_iter()
        .next()
        .ok_or("ops entry without a member name")?;
    draft.replace(
        file,
        field.start_byte(),
        field.end_byte(),
        recipe.atomic_member,
    );
    draft.replace(file, value.start_byte(), value.end_byte(), callback);
    Ok(())
}

/// Why the hook moves and where to: the rationale's first paragraphs and
/// the commit message.
fn explain(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    report: &ScanReport,
    entry: &Entry,
    parts: &Parts,
    callback: &str,
    body: &HookBody,
) {
    let file = entry.site.file.as_str();
    let (hook, range_start, atomic) = (&parts.hook, &parts.range_start, recipe.atomic_member);
    draft.rationale.push(format!(
        "{file}: {}() did what {range_start}() and its end counterpart do for a range (the unmap has a range \
         form, the sequence is bumped at the end), plus a call of {hook}(), which no range callback made. \
         Removing the callback alone would silently drop that hook: this is how x86 lost the APIC access page \
         reload in 2017.",
        entry.callback
    ));
    draft.description.extend(kvm_description(
        recipe,
        report,
        entry,
        hook,
        (range_start, callback),
    ));
    draft.rationale.push(format!(
        "The hook tells an architecture that an address it tracks was invalidated (x86 then asks every vCPU to \
         reload the APIC access page), so it must run once the primary page-table entry has changed: from \
         {range_start}(), before the change, a vCPU could reload the old page's address in between and keep \
         using the old page. It becomes {}() and is called from {callback}(), the ->{atomic}() callback, which \
         the core calls under the page-table lock right after the entry changed (and again from \
         invalidate_range_end()){}. A `__weak` no-op default serves the architectures with nothing to do.",
        recipe.arch_hook_range,
        if body.kept.is_empty() {
            String::new()
        } else {
            format!(
                "; it keeps what the page callback held around the hook ({})",
                body.kept.join(", ")
            )
        }
    ));
}

/// The commit message of the KVM unit: what the dead callback still did,
/// and where that work goes.
fn kvm_description(
    recipe: &Recipe,
    report: &ScanReport,
    entry: &Entry,
    hook: &str,
    (range_start, callback): (&str, &str),
) -> Vec<String> {
    let (mut empty, mut real) = (Vec::new(), Vec::new());
    for site in &report.sites {
        if let Detail::ArchHook {
            role: HookRole::Definition,
            empty: e,
            arch,
            ..
        } = &site.detail
        {
            let arch = arch.clone().unwrap_or_else(|| site.subsystem.clone());
            let list = if *e == Some(true) {
                &mut empty
            } else {
                &mut real
            };
            if !list.contains(&arch) {
                list.push(arch);
            }
        }
    }
    let and = crate::rewrite::text::join_and;
    let api = recipe
        .api_functions
        .first()
        .copied()
        .unwrap_or(recipe.ops_member);
    let mut why = format!(
        "Now that nothing calls {api}(), {}() is never called. The range callbacks do its work, \
         except its call of {hook}()",
        entry.callback
    );
    match (empty.is_empty(), real.is_empty()) {
        (false, false) => why.push_str(&format!(
            ", which is empty on {} but does real work on {}.",
            and(&empty),
            and(&real)
        )),
        (true, false) => why.push_str(&format!(", which does real work on {}.", and(&real))),
        _ => why.push('.'),
    }
    let mut what = format!(
        "Call {}() instead from a new ->{}() callback, {callback}(), with a __weak empty default",
        recipe.arch_hook_range, recipe.atomic_member
    );
    if !empty.is_empty() {
        what.push_str(" in place of the empty stubs");
    }
    if !real.is_empty() {
        what.push_str(&format!(
            ", and make the {} hook act when its address lies in the range",
            and(&real)
        ));
    }
    what.push('.');
    let when = format!(
        "The hook must run once the primary page-table entry has changed. The core calls \
         ->{}() under the page-table lock right after the change (and again from the end of \
         the range); {range_start}() runs before it, and a vCPU could reload the old page's \
         address in between and keep using the old page.",
        recipe.atomic_member
    );
    vec![why, what, when]
}

/// The name of the new atomic callback: the range-start callback's name
/// with its member replaced (`kvm_mmu_notifier_invalidate_range_start` ->
/// `kvm_mmu_notifier_invalidate_range`), else the page callback's.
fn atomic_callback_name(recipe: &Recipe, range_start: &str, page_cb: &str) -> Option<String> {
    if let Some(prefix) = range_start.strip_suffix(recipe.before_member) {
        return Some(format!("{prefix}{}", recipe.atomic_member));
    }
    page_cb
        .strip_suffix(recipe.ops_member)
        .map(|prefix| format!("{prefix}{}", recipe.atomic_member))
}

/// What the new callback does: the hook call, with the statements of the
/// page callback that enclose it (a lock taken before and released after
/// it) and the declarations they need.
struct HookBody {
    declarations: String,
    statements: String,
    /// The enclosing statements kept, as written.
    kept: Vec<String>,
}

/// The new callback's body, from the page callback `page_def`: its call
/// of the hook (`hook_call`) becomes `range_hook(args)`, inside the
/// statements of the page callback that enclose it, after the
/// declarations those use.
fn hook_body(
    page_def: Node,
    hook_call: Node,
    src: &[u8],
    range_hook: &str,
    args: &[String],
) -> Result<HookBody, Refusal> {
    let body = page_def
        .child_by_field_name("body")
        .ok_or("page callback without body")?;
    let stmts = statements(body);
    let hook_stmt = statement_of(hook_call);
    let at = stmts
        .iter()
        .position(|s| s.id() == hook_stmt.id())
        .ok_or("the hook is not called at the top level of the page callback")?;
    let (before, after) = enclosing(&stmts, at, src);
    let kept: Vec<Node> = before.iter().chain(after.iter()).copied().collect();
    let indent = indent_at(src, hook_stmt.start_byte());
    let statements = hook_statements(&before, &after, src, &indent, range_hook, args);
    let used: HashSet<String> = kept
        .iter()
        .chain(std::iter::once(&hook_stmt))
        .flat_map(|s| crate::rewrite::syntax::identifiers(*s, src))
        .collect();
    Ok(HookBody {
        declarations: declarations_needed(&stmts, used, src, &indent),
        statements,
        kept: kept
            .iter()
            .map(|k| format!("`{}`", normalized(&text(*k, src))))
            .collect(),
    })
}

/// The statements around the hook's, `stmts[at]`, that enclose it: one
/// before it (not a declaration) whose first call's first argument is that
/// of one after it, a lock taken before and released after.  The pairs'
/// halves, the ones after in source order.
fn enclosing<'t>(stmts: &[Node<'t>], at: usize, src: &[u8]) -> (Vec<Node<'t>>, Vec<Node<'t>>) {
    let first_arg = |s: &Node| {
        descendants(*s, &["call_expression"])
            .into_iter()
            .next()
            .and_then(|c| call_args(c, src).into_iter().next())
            .map(|a| normalized(&a))
    };
    let mut before = Vec::new();
    let mut after = Vec::new();
    for b in stmts[..at].iter().filter(|s| s.kind() != "declaration") {
        let Some(arg) = first_arg(b) else { continue };
        if let Some(a) = stmts[at + 1..]
            .iter()
            .find(|a| first_arg(a).as_deref() == Some(arg.as_str()))
        {
            before.push(*b);
            after.push(*a);
        }
    }
    after.sort_by_key(|a| a.start_byte());
    (before, after)
}

/// The new callback's statements, a line each at `indent`: `before`, the
/// call of `range_hook(args)`, `after`.
fn hook_statements(
    before: &[Node],
    after: &[Node],
    src: &[u8],
    indent: &str,
    range_hook: &str,
    args: &[String],
) -> String {
    let line = |s: &Node| format!("{indent}{}\n", normalized(&text(*s, src)));
    let mut out: String = before.iter().map(line).collect();
    out.push_str(&crate::rewrite::text::call_statement(
        indent, range_hook, args,
    ));
    out.extend(after.iter().map(line));
    out
}

/// The declarations among `stmts` of the names in `needed`, and of the
/// names their initialisers use in turn (until nothing is added), a
/// declarator a line at `indent`, in source order.
fn declarations_needed(
    stmts: &[Node],
    mut needed: HashSet<String>,
    src: &[u8],
    indent: &str,
) -> String {
    let decls: Vec<Node> = stmts
        .iter()
        .copied()
        .filter(|s| s.kind() == "declaration")
        .collect();
    let mut lines: Vec<(usize, String)> = Vec::new();
    loop {
        let mut grew = false;
        for d in &decls {
            let Some(ty) = d.child_by_field_name("type") else {
                continue;
            };
            let mut c = d.walk();
            for declarator in d.children_by_field_name("declarator", &mut c) {
                let Some(name) = crate::scan::kernel_c::declarator_name_of(declarator)
                    .or_else(|| declarator_name(declarator))
                    .map(|n| text(n, src).into_owned())
                else {
                    continue;
                };
                let line = format!(
                    "{indent}{} {};",
                    normalized(&text(ty, src)),
                    normalized(&text(declarator, src))
                );
                if needed.contains(&name) && !lines.iter().any(|(_, l)| *l == line) {
                    lines.push((declarator.start_byte(), line));
                    needed.extend(crate::rewrite::syntax::identifiers(declarator, src));
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    lines.sort();
    lines.into_iter().map(|(_, l)| l + "\n").collect()
}

/// Runs check's W1 on the files this unit leaves: the new callback must
/// not reach a sleeping call.
fn no_sleep_proof(
    ws: &mut Workspace,
    recipe: &Recipe,
    draft: &UnitDraft,
    file: &str,
    callback: &str,
) -> Result<String, Refusal> {
    let mut files = Vec::new();
    for (path, edits) in &draft.edits {
        let original = ws.content(path)?.to_vec();
        let mut edits = edits.clone();
        edits.sort_by_key(|e| (e.start, e.end));
        let fe = crate::rewrite::plan::FileEdit {
            path: path.clone(),
            base_blob: crate::rewrite::plan::git_blob_id(&original),
            edits,
        };
        let new = fe
            .apply(&original)
            .map_err(|e| RewriteError::Internal(e.to_string()))?;
        files.push((path.clone(), new));
    }
    let found = crate::check::check_sources(&files, recipe);
    if let Some(w1) = found
        .iter()
        .find(|d| d.code == "W1" && d.file == file && d.message.contains(&format!("= {callback}`")))
    {
        return Err(Refusal::Review(format!(
            "the hook cannot move to {callback}(), which runs under the page-table lock: {}",
            w1.message
        )));
    }
    let hook_files: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| p.ends_with(".c"))
        .collect();
    Ok(format!(
        "{callback}() must not sleep. kseries check's W1, which treats ->{}() callbacks as atomic and \
         follows their calls through static helpers and into {}, finds no call that can sleep on the way \
         to any architecture's hook.",
        recipe.atomic_member,
        hook_files.join(" and ")
    ))
}

fn hook_call_in<'t>(recipe: &Recipe, def: Node<'t>, src: &[u8]) -> Option<(Node<'t>, String)> {
    descendants(def, &["call_expression"])
        .into_iter()
        .find_map(|c| {
            let name = callee_name(c, src)?;
            recipe.is_arch_hook(&name).then_some((c, name))
        })
}

fn normalized(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The hook's parameters as written in one of its definitions or
/// declarations (`struct kvm *kvm`, `unsigned long address`).
fn hook_params(
    ws: &mut Workspace,
    report: &ScanReport,
    recipe: &Recipe,
    hook: &str,
) -> Result<Vec<String>, Refusal> {
    let site = report
        .sites
        .iter()
        .find(|s| matches!(&s.detail, Detail::ArchHook { role, .. } if *role != HookRole::Call))
        .ok_or("no definition or declaration of the hook")?;
    let (src, tree) = ws.parsed(&site.file)?;
    let node = function_definitions(&tree, &src, hook)
        .into_iter()
        .chain(prototypes(&tree, &src, hook))
        .next()
        .ok_or("hook definition not found")?;
    let _ = recipe;
    Ok(param_decls(node)
        .into_iter()
        .map(|p| normalized(&text(p, &src)))
        .collect())
}

fn page_addr_param_index(args: &[String], page_addr: &str) -> usize {
    args.iter()
        .position(|a| a == page_addr)
        .unwrap_or(args.len().saturating_sub(1))
}

/// The hook's parameters with the address replaced by a start and an end.
fn range_params(params: &[String], addr_index: usize) -> Vec<String> {
    params
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            if i == addr_index {
                let ty = p.rsplit_once(' ').map_or("unsigned long", |(t, _)| t);
                vec![format!("{ty} start"), format!("{ty} end")]
            } else {
                vec![p.clone()]
            }
        })
        .collect()
}

/// Every architecture's hook: empty ones and declarations go, a real one
/// is converted to the range form.
fn convert_hooks(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    draft: &mut UnitDraft,
    hook: &str,
    params: &[String],
) -> Result<Vec<String>, Refusal> {
    let mut notes = Vec::new();
    for site in &report.sites {
        let Detail::ArchHook {
            role, empty, arch, ..
        } = &site.detail
        else {
            continue;
        };
        let arch = arch.clone().unwrap_or_else(|| site.subsystem.clone());
        let (src, tree) = ws.parsed(&site.file)?;
        match role {
            HookRole::Call => {}
            HookRole::Declaration => {
                for p in prototypes(&tree, &src, hook) {
                    remove(draft, &site.file, &src, p);
                }
                notes.push(format!(
                    "{}: the {arch} declaration goes; the range hook is declared in {}.",
                    site.file, recipe.arch_hook_header
                ));
            }
            HookRole::Definition if *empty == Some(true) => {
                for d in function_definitions(&tree, &src, hook) {
                    remove(draft, &site.file, &src, d);
                }
                notes.push(format!(
                    "{}: the empty {arch} stub goes; the weak default does nothing too.",
                    site.file
                ));
            }
            HookRole::Definition => {
                let def = function_definitions(&tree, &src, hook)
                    .into_iter()
                    .next()
                    .ok_or("hook definition not found")?;
                notes.push(convert_real_hook(
                    recipe, draft, &site.file, &src, def, params, &arch,
                )?);
            }
        }
    }
    Ok(notes)
}

/// `if (address == E) S` becomes `address = E; if (start <= address &&
/// address < end) S` in a hook taking the range.
fn convert_real_hook(
    recipe: &Recipe,
    draft: &mut UnitDraft,
    file: &str,
    src: &[u8],
    def: Node,
    params: &[String],
    arch: &str,
) -> Result<String, Refusal> {
    let names = param_names(def, src);
    let addr = names.last().ok_or("hook without parameters")?.clone();
    let body = def.child_by_field_name("body").ok_or("hook without body")?;
    let stmts = statements(body);
    let [if_stmt] = stmts.as_slice() else {
        return Err(format!(
            "the {arch} hook is not a single `if (address == ...)`: convert it by hand"
        )
        .into());
    };
    let cond = if_stmt
        .child_by_field_name("condition")
        .and_then(|c| c.named_child(0))
        .ok_or("if without condition")?;
    let (l, r) = (
        cond.child_by_field_name("left"),
        cond.child_by_field_name("right"),
    );
    let op = cond
        .child_by_field_name("operator")
        .map(|o| text(o, src).into_owned());
    let (Some(l), Some(r), Some("==")) = (l, r, op.as_deref()) else {
        return Err(format!(
            "the {arch} hook's condition is not `address == ...`: convert it by hand"
        )
        .into());
    };
    let other = if text(l, src) == addr {
        r
    } else if text(r, src) == addr {
        l
    } else {
        return Err(
            format!("the {arch} hook does not compare its address: convert it by hand").into(),
        );
    };
    if descendants(other, &["identifier"])
        .iter()
        .any(|i| text(*i, src) == addr)
    {
        return Err("the compared value depends on the address itself".into());
    }
    let (start, end) = ("start", "end");
    let head_end = body.start_byte();
    let name_node = declarator_name(def).ok_or("hook without a name")?;
    let head = format!(
        "{}{}",
        String::from_utf8_lossy(&src[def.start_byte()..name_node.start_byte()]),
        recipe.arch_hook_range
    );
    draft.replace(
        file,
        def.start_byte(),
        head_end,
        signature(&head, params, ""),
    );
    let open = line_end(src, body.start_byte());
    draft.insert(file, open, format!("\tunsigned long {addr};\n\n"));
    let indent = indent_at(src, if_stmt.start_byte());
    let if_line = line_start(src, if_stmt.start_byte());
    draft.insert(
        file,
        if_line,
        format!("{indent}{addr} = {};\n", text(other, src)),
    );
    draft.replace(
        file,
        cond.start_byte(),
        cond.end_byte(),
        format!("{start} <= {addr} && {addr} < {end}"),
    );
    Ok(format!(
        "{file}: the {arch} hook did real work when the invalidated address was `{}`; it becomes {}() and does it \
         when that address lies in [start, end).",
        text(other, src),
        recipe.arch_hook_range
    ))
}

/// The range hook's prototype, before the include guard's `#endif` of the
/// generic header.
fn add_prototype(
    ws: &mut Workspace,
    recipe: &Recipe,
    draft: &mut UnitDraft,
    params: &[String],
) -> Result<(), Refusal> {
    let header = recipe.arch_hook_header;
    let src = match ws.content(header) {
        Ok(s) => s.to_vec(),
        Err(_) => {
            return Err(format!(
                "{header}, where the range hook is to be declared, cannot be read"
            )
            .into());
        }
    };
    let last_endif = memchr::memmem::rfind(&src, b"\n#endif")
        .ok_or(format!("{header} has no include guard"))?
        + 1;
    let proto = signature(&format!("void {}", recipe.arch_hook_range), params, ";");
    draft.insert(header, last_endif, format!("{proto}\n"));
    Ok(())
}

/// Comments elsewhere that name a removed function now name its
/// replacement ("A and B" becomes "B" when A is replaced by B), re-wrapped
/// at 80 columns.
pub(super) fn update_comments(
    ws: &mut Workspace,
    report: &ScanReport,
    draft: &mut UnitDraft,
    renames: &[(&str, &str)],
) -> Result<Vec<String>, RewriteError> {
    let mut notes = Vec::new();
    for site in &report.sites {
        let Detail::Unrelated { reason } = &site.detail else {
            continue;
        };
        let Some((old, new)) = renames
            .iter()
            .find(|(old, _)| reason == &format!("comment (mentions {old})"))
        else {
            continue;
        };
        let (src, tree) = ws.parsed(&site.file)?;
        let at = nth_line_start(&src, site.line) + site.column - 1;
        let Some(comment) = tree
            .root_node()
            .descendant_for_byte_range(at, at)
            .filter(|n| n.kind() == "comment")
        else {
            continue;
        };
        let inside_edit = draft.edits.get(&site.file).is_some_and(|e| {
            e.iter()
                .any(|e| e.start <= comment.start_byte() && comment.end_byte() <= e.end)
        });
        if inside_edit {
            continue; // it goes with what this unit removes
        }
        let old_text = text(comment, &src).into_owned();
        let Some(new_text) = crate::rewrite::text::rename_in_comment(&old_text, old, new) else {
            notes.push(format!(
                "{}:{}: a comment names {old}() together with {new}(); it is left as it is.",
                site.file, site.line
            ));
            continue;
        };
        if new_text != old_text {
            draft.replace(
                &site.file,
                comment.start_byte(),
                comment.end_byte(),
                new_text,
            );
            notes.push(format!(
                "{}:{}: a comment named {old}(); it now names {new}().",
                site.file, site.line
            ));
        }
    }
    Ok(notes)
}

fn nth_line_start(src: &[u8], line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    memchr::memchr_iter(b'\n', src)
        .nth(line - 2)
        .map_or(src.len(), |p| p + 1)
}
