//! Stage 3: KVM, the generic callback and every architecture's hook.
//!
//! KVM's page callback does two things: what its range callbacks already
//! do (unmap the hva range, bump the sequence), and a call of the
//! per-architecture `kvm_arch_mmu_notifier_invalidate_page()` hook, which
//! no range callback does.  Dropping that call silently is the 2017 bug
//! (x86 lost the APIC access page reload).  So: the callback and its entry
//! go; the hook becomes a range hook called from the range-start callback
//! at the same point of its work, with a `__weak` no-op default for the
//! architectures that have nothing to do; empty per-architecture stubs go;
//! a non-empty hook is converted to check whether its address lies in
//! `[start, end)`.

use tree_sitter::{Node, Tree};

use super::RewriteError;
use super::callbacks::{Entry, coverage, entries, entry_pair, forwards_to_arch_hook};
use super::plan::{ChangeUnit, ReviewItem, Stage};
use super::removal::{
    function_definitions, prototypes, remove, remove_initializer_pair, with_leading_comment,
};
use super::syntax::{descendants, param_decls, param_names, statement_of, statements};
use super::text::{indent_at, line_end, line_start, signature};
use super::workspace::{UnitDraft, Workspace};
use crate::recipe::Recipe;
use crate::scan::kernel_c::{call_args, callee_name, declarator_name, text};
use crate::scan::{Detail, HookRole, ScanReport};

pub fn convert(
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
            Err(Refusal::Review(reason)) => review.push(ReviewItem {
                file: file.clone(),
                line: entry.site.line,
                reason,
            }),
            Err(Refusal::Io(e)) => return Err(e),
        }
    }
    Ok(units)
}

enum Refusal {
    Review(String),
    Io(RewriteError),
}

impl From<String> for Refusal {
    fn from(s: String) -> Refusal {
        Refusal::Review(s)
    }
}

impl From<&str> for Refusal {
    fn from(s: &str) -> Refusal {
        Refusal::Review(s.to_string())
    }
}

impl From<RewriteError> for Refusal {
    fn from(e: RewriteError) -> Refusal {
        Refusal::Io(e)
    }
}

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
        Stage::Kvm,
        &entry.site.subsystem,
        "replace the page callback by a range hook",
    );
    let page_def = function_definitions(tree, src, &entry.callback)
        .into_iter()
        .next()
        .ok_or("callback not found")?;
    let (hook_call, hook) =
        hook_call_in(recipe, page_def, src).ok_or("arch hook call not found")?;
    let range_start = entry
        .sets
        .get(recipe.replacement_members[0])
        .ok_or("the ops has no range-start callback to call the range hook from")?;
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

    // The range hook call, at the same point of the work as before.
    let args: Vec<String> = call_args(hook_call, src)
        .into_iter()
        .flat_map(|a| {
            if a == page_addr {
                vec![rstart.clone(), rend.clone()]
            } else {
                vec![a]
            }
        })
        .collect();
    let anchor_text = previous_statement_text(hook_call, src)
        .ok_or("the hook call has no statement before it")?;
    let anchor = statements(
        start_def
            .child_by_field_name("body")
            .ok_or("range-start without body")?,
    )
    .into_iter()
    .find(|s| normalized(&text(*s, src)) == anchor_text)
    .ok_or(format!(
        "{range_start}() has no `{anchor_text}` to call the range hook after"
    ))?;
    let indent = indent_at(src, anchor.start_byte());
    let at = line_end(src, anchor.end_byte() - 1);
    let blank_after = if super::text::line_is_blank(src, at) {
        ""
    } else {
        "\n"
    };
    let call = super::text::call_statement(&indent, recipe.arch_hook_range, &args);
    draft.insert(file, at, format!("\n{call}{blank_after}"));

    // The page callback becomes the hook's weak default; the entry goes.
    let hook_params = hook_params(ws, report, recipe, &hook)?;
    let params = range_params(
        &hook_params,
        page_addr_param_index(&call_args(hook_call, src), &page_addr),
    );
    let weak = format!(
        "{}{{\n}}\n",
        signature(
            &format!("__weak void {}", recipe.arch_hook_range),
            &params,
            ""
        )
    );
    let from = line_start(src, with_leading_comment(page_def, src));
    let to = line_end(src, page_def.end_byte() - 1);
    draft.replace(file, from, to, weak);
    let pair = entry_pair(tree, src, entry).ok_or("ops entry not found")?;
    remove_initializer_pair(&mut draft, file, src, pair);

    let hooks = convert_hooks(ws, recipe, report, &mut draft, &hook, &params)?;
    add_prototype(ws, recipe, &mut draft, &params)?;
    let renames = [
        (entry.callback.as_str(), range_start.as_str()),
        (hook.as_str(), recipe.arch_hook_range),
    ];
    let comments = update_comments(ws, report, &mut draft, &renames)?;

    draft.rationale.push(format!(
        "{file}: {}() did what {range_start}() and its end counterpart do for a range (the unmap has a range form, \
         the sequence is bumped at the end), plus a call of {hook}(), which no range callback made. Removing the \
         callback alone would silently drop that hook: this is how x86 lost the APIC access page reload in 2017. \
         So the hook becomes {}(), called from {range_start}() after `{anchor_text}`, as it was called after it \
         before, and a `__weak` no-op default serves the architectures with nothing to do.",
        entry.callback, recipe.arch_hook_range
    ));
    draft
        .description
        .extend(kvm_description(recipe, report, entry, &hook, range_start));
    draft.rationale.extend(hooks);
    draft.rationale.extend(comments);
    draft.review_notes.push(format!(
        "{}() is new: architectures with a real hook must check whether their address lies in [start, end).",
        recipe.arch_hook_range
    ));
    Ok(draft)
}

/// The commit message of the KVM unit: what the dead callback still did,
/// and where that work goes.
fn kvm_description(
    recipe: &Recipe,
    report: &ScanReport,
    entry: &Entry,
    hook: &str,
    range_start: &str,
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
    let and = super::text::join_and;
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
        "Call {}() with the range from {range_start}() instead, with a __weak empty default",
        recipe.arch_hook_range
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
    vec![why, what]
}

fn hook_call_in<'t>(recipe: &Recipe, def: Node<'t>, src: &[u8]) -> Option<(Node<'t>, String)> {
    descendants(def, &["call_expression"])
        .into_iter()
        .find_map(|c| {
            let name = callee_name(c, src)?;
            recipe.is_arch_hook(&name).then_some((c, name))
        })
}

fn previous_statement_text(call: Node, src: &[u8]) -> Option<String> {
    let stmt = statement_of(call);
    let mut prev = stmt.prev_named_sibling();
    while let Some(p) = prev.filter(|p| p.kind() == "comment") {
        prev = p.prev_named_sibling();
    }
    prev.map(|p| normalized(&text(p, src)))
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
        let Some(new_text) = super::text::rename_in_comment(&old_text, old, new) else {
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
