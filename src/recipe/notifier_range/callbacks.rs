//! Stage 3, a flag day: the ops members take `const struct
//! mmu_notifier_range *`, the `__` functions pass the structure through,
//! and every callback an ops entry names for those members reads
//! `range->member` where it read its parameters, in one commit.  A
//! callback left with the old parameters would not build, so one that
//! cannot be converted (called directly as well, a name clash) keeps the
//! whole stage back and is named for review.

use std::collections::BTreeSet;

use tree_sitter::Node;

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::removal::member_declarations;
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::scan::ScanReport;
use crate::scan::kernel_c::{Parsed, declarator_name, function_name, text};
use crate::scan::model::{Detail, Loc, Site};
use crate::scan::walk::subsystem_of;

use super::params::{Shape, convert_definition, normalise, param_list, params, replace_list};
use super::{RANGE_STRUCT, RANGE_VAR, api, item, line_of, not_made};

/// When the tree's ops members already take the range (converted
/// before): each callback still with the old parameters, for review (a
/// half-converted tree does not build).  `None` when the members take the
/// old parameters, and the stage has its work to do.
fn converted_before(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    api: &api::Api,
) -> Result<Option<Vec<ReviewItem>>, RewriteError> {
    let (src, tree) = ws.parsed(&api.header)?;
    let takes_range = |text: &str| text.contains(&format!("struct {RANGE_STRUCT} *"));
    let members: Vec<bool> = recipe
        .ops_members
        .iter()
        .filter_map(|m| {
            member_declarations(&tree, &src, recipe.ops_struct, m)
                .into_iter()
                .next()
        })
        .map(|fd| takes_range(&String::from_utf8_lossy(&src[fd.byte_range()])))
        .collect();
    if !members.iter().any(|&t| t) {
        return Ok(None);
    }
    if !members.iter().all(|&t| t) {
        return Ok(Some(vec![item(
            &api.header,
            1,
            format!(
                "some members of struct {} take struct {RANGE_STRUCT}, others the old \
                 parameters: the header is half converted; finish it by hand",
                recipe.ops_struct
            ),
        )]));
    }
    let mut out = Vec::new();
    for site in report.of_kind("callback") {
        let Detail::Callback { name, .. } = &site.detail else {
            continue;
        };
        let (src, tree) = ws.parsed(&site.file)?;
        let head = definition_named(&tree, &src, name)
            .and_then(param_list)
            .map(|l| String::from_utf8_lossy(&src[l.byte_range()]).into_owned());
        if head.as_deref().is_some_and(|h| !takes_range(h)) {
            out.push(item(
                &site.file,
                site.line,
                format!(
                    "{name}() still takes the old parameters, while struct {} passes struct \
                     {RANGE_STRUCT}: the tree is half converted; convert it by hand",
                    recipe.ops_struct
                ),
            ));
        }
    }
    Ok(Some(out))
}

/// The stage: the ops members, the calls through them and every callback
/// an ops entry names take the range, in one unit; or, when any of them
/// cannot be converted, nothing changes and each is named for review.
pub fn convert(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Vec<ChangeUnit>, RewriteError> {
    let Some(api) = api::learn_or_review(ws, recipe, report, review)? else {
        return Ok(Vec::new());
    };
    if let Some(done) = converted_before(ws, recipe, report, &api)? {
        review.extend(done);
        return Ok(Vec::new());
    }
    let param = format!("const struct {RANGE_STRUCT} *{RANGE_VAR}");
    let mut draft = UnitDraft::new(
        Stage::new(super::CALLBACKS),
        &subsystem_of(&api.implementation),
        &format!("pass struct {RANGE_STRUCT} to the range callbacks"),
    );
    let mut refused = Vec::new();
    let members = ops_members(ws, recipe, &api, &param, &mut draft, &mut refused)?;
    ops_calls(ws, recipe, &api, &mut draft, &mut refused)?;
    let converted = callbacks(ws, report, &members, &param, &mut draft, &mut refused)?;
    if !refused.is_empty() {
        not_made(
            review,
            refused,
            super::CALLBACKS,
            ("callback", "callbacks"),
            "the old parameters",
            "the ops members change",
        );
        return Ok(Vec::new());
    }
    describe(&mut draft, recipe, converted);
    Ok(vec![ws.commit(draft)?])
}

/// An ops member whose parameters become the range.
struct MemberParams {
    member: &'static str,
    /// Its parameters after the notifier: members of the range, by name.
    names: Vec<String>,
}

/// The ops members' declarations in the header: `(mn, mm, start, end)`
/// becomes `(mn, range)`.  Returns what each member passed after the
/// notifier, which its callbacks' parameters stand for.
fn ops_members(
    ws: &mut Workspace,
    recipe: &Recipe,
    api: &api::Api,
    param: &str,
    draft: &mut UnitDraft,
    refused: &mut Vec<ReviewItem>,
) -> Result<Vec<MemberParams>, RewriteError> {
    let struct_members = api.member_names();
    let (src, tree) = ws.parsed(&api.header)?;
    let mut out = Vec::new();
    for &member in recipe.ops_members {
        let Some(fd) = member_declarations(&tree, &src, recipe.ops_struct, member)
            .into_iter()
            .next()
        else {
            refused.push(item(
                &api.header,
                1,
                format!("no member {member} in struct {}", recipe.ops_struct),
            ));
            continue;
        };
        let Some(list) = param_list(fd) else { continue };
        let ps = params(list, &src);
        let names: Vec<String> = ps.iter().skip(1).map(|(_, n)| n.clone()).collect();
        if ps.is_empty() || names.iter().any(|n| !struct_members.contains(n)) {
            refused.push(item(&api.header, line_of(&src, fd.start_byte()), format!(
                "the parameters of ->{member}() are not a notifier and members of the range ({})",
                struct_members.join(", ")
            )));
            continue;
        }
        replace_list(
            draft,
            &api.header,
            &src,
            list,
            &[ps[0].0.clone(), param.to_string()],
        );
        out.push(MemberParams { member, names });
    }
    Ok(out)
}

/// Every callback an ops entry names for `members`, once per definition:
/// its direct calls, its definition and its declarations take the range.
/// Returns the rationale's line for each callback converted; each one that
/// cannot be converted is refused.
fn callbacks(
    ws: &mut Workspace,
    report: &ScanReport,
    members: &[MemberParams],
    param: &str,
    draft: &mut UnitDraft,
    refused: &mut Vec<ReviewItem>,
) -> Result<Vec<String>, RewriteError> {
    // A direct call from one of these is not a plain use (see direct_calls).
    let all: Vec<&str> = report
        .of_kind("callback")
        .filter_map(|s| match &s.detail {
            Detail::Callback { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    // Several ops entries may name one definition.
    let mut done = BTreeSet::new();
    let mut converted = Vec::new();
    for site in report.of_kind("callback") {
        let Detail::Callback {
            name,
            other_users,
            declarations,
            sets,
            ..
        } = &site.detail
        else {
            continue;
        };
        if !done.insert((site.file.clone(), name.clone())) {
            continue;
        }
        let Some(m) = members.iter().find(|m| sets.get(m.member) == Some(name)) else {
            refused.push(item(
                &site.file,
                site.line,
                format!("{name}(): cannot tell which member of the ops names it"),
            ));
            continue;
        };
        if let Err(r) = direct_calls(ws, draft, name, other_users, m.names.len(), &all)? {
            refused.push(r);
            continue;
        }
        let copied = match definition(ws, draft, site, name, &m.names, param)? {
            Ok(copied) => copied,
            Err(r) => {
                refused.push(r);
                continue;
            }
        };
        declarations_of(ws, draft, declarations, name, param)?;
        converted.push(callback_note(
            site,
            name,
            m.member,
            other_users.len(),
            &copied,
        ));
    }
    Ok(converted)
}

/// The callback's definition reads the range's members where it read its
/// parameters.  Returns the parameters that became local copies.
fn definition(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    site: &Site,
    name: &str,
    names: &[String],
    param: &str,
) -> Result<Result<Vec<String>, ReviewItem>, RewriteError> {
    let (src, tree) = ws.parsed(&site.file)?;
    let Some(def) = definition_named(&tree, &src, name) else {
        return Ok(Err(item(
            &site.file,
            site.line,
            format!("{name}(): its definition was not found"),
        )));
    };
    let shape = Shape {
        keep: 1,
        new_param: param,
        names,
        tail: &[],
        inner: &[],
    };
    Ok(convert_definition(draft, &site.file, &src, def, &shape)
        .map_err(|why| item(&site.file, site.line, format!("{name}(): {why}"))))
}

/// The definition of function `name` in a parsed file.
fn definition_named<'t>(tree: &'t Parsed, src: &[u8], name: &str) -> Option<Node<'t>> {
    tree.descendants_of_kind("function_definition")
        .into_iter()
        .find(|d| function_name(*d, src).as_deref() == Some(name))
}

/// The callback's forward declarations keep their first parameter (the
/// notifier) and take the range.
fn declarations_of(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    declarations: &[Loc],
    name: &str,
    param: &str,
) -> Result<(), RewriteError> {
    let files: BTreeSet<&str> = declarations.iter().map(|d| d.file.as_str()).collect();
    for file in files {
        let (src, tree) = ws.parsed(file)?;
        for decl in tree.descendants_of_kind("declaration") {
            let named = declarator_name(decl).is_some_and(|n| text(n, &src) == name);
            if let (true, Some(list)) = (named, param_list(decl)) {
                let first = params(list, &src)
                    .first()
                    .map(|(d, _)| d.clone())
                    .unwrap_or_default();
                replace_list(draft, file, &src, list, &[first, param.to_string()]);
            }
        }
    }
    Ok(())
}

/// The rationale's line for one converted callback: where it is, which
/// member names it, and what else changed with it.
fn callback_note(
    site: &Site,
    name: &str,
    member: &str,
    direct_calls: usize,
    copied: &[String],
) -> String {
    let mut note = format!("{}: {name}() (->{member})", site.file);
    if direct_calls > 0 {
        note.push_str(&format!(
            "; its {} gets a range of its own",
            crate::words::count(direct_calls, "direct call", "direct calls")
        ));
    }
    if !copied.is_empty() {
        note.push_str(&format!(
            "; it writes or takes the address of {}, which {}",
            copied.join(", "),
            if copied.len() == 1 {
                "becomes a local copy"
            } else {
                "become local copies"
            }
        ));
    }
    note
}

/// The commit's description (a declared flag day, and why) and rationale
/// (a line per callback converted).
fn describe(draft: &mut UnitDraft, recipe: &Recipe, converted: Vec<String>) {
    let members: Vec<String> = recipe
        .ops_members
        .iter()
        .map(|m| format!("->{m}()"))
        .collect();
    draft.description.push(format!(
        "Pass the struct {RANGE_STRUCT} on to {}: every callback reads the range's \
         members where it read its parameters.",
        members.join(" and ")
    ));
    draft.description.push(
        "The signature change of the ops members cannot be split per driver: the members, \
         the calls through them and every driver's callback change in this one commit."
            .to_string(),
    );
    draft.rationale.push(format!(
        "{} converted; a parameter a callback writes or takes the address of becomes a local copy of the member.",
        crate::words::count(converted.len(), "callback", "callbacks")
    ));
    draft.rationale.extend(converted);
}

/// A callback also called directly: each call `cb(mn, mm, start, end);`
/// gets a range of its own, set up right before it, and passes `&range`.
/// Any other use (its address taken, a call inside an expression, a call
/// from another callback) is refused.
fn direct_calls(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    name: &str,
    users: &[Loc],
    members: usize,
    callbacks: &[&str],
) -> Result<Result<(), ReviewItem>, RewriteError> {
    let files: BTreeSet<&str> = users.iter().map(|u| u.file.as_str()).collect();
    for file in files {
        let expected = users.iter().filter(|u| u.file == file).count();
        let (src, tree) = ws.parsed(file)?;
        let calls: Vec<_> = tree
            .descendants_of_kind("call_expression")
            .into_iter()
            .filter(|c| crate::scan::kernel_c::callee_name(*c, &src).as_deref() == Some(name))
            .collect();
        let first = users.iter().find(|u| u.file == file).unwrap();
        let refuse = |why: &str| {
            Ok(Err(item(
                file,
                first.line,
                format!(
                    "{name}() is also used at {file}:{} besides the ops entry, and {why}: convert that use by hand",
                    first.line
                ),
            )))
        };
        if calls.len() != expected {
            return refuse("not every use is a call");
        }
        for call in calls {
            let args = crate::scan::kernel_c::call_args(call, &src);
            let stmt = call.parent().filter(|p| p.kind() == "expression_statement");
            let block = stmt
                .and_then(|s| s.parent())
                .filter(|b| b.kind() == "compound_statement");
            let func = crate::scan::kernel_c::enclosing_function(call);
            let caller = func
                .and_then(|f| function_name(f, &src))
                .unwrap_or_default();
            let (Some(stmt), Some(_), Some(func)) = (stmt, block, func) else {
                return refuse("the call is not a statement of its own");
            };
            if args.len() != 1 + members || callbacks.contains(&caller.as_str()) {
                return refuse("the call's arguments or its caller are not a plain use");
            }
            if crate::rewrite::syntax::descendants(func, &["identifier"])
                .iter()
                .any(|i| text(*i, &src) == RANGE_VAR)
            {
                return refuse(&format!("{caller}() already uses the name `{RANGE_VAR}`"));
            }
            let body = func.child_by_field_name("body").unwrap();
            let indent = crate::rewrite::text::indent_at(&src, stmt.start_byte());
            let mut init_args = vec![format!("&{RANGE_VAR}")];
            init_args.extend(args[1..].iter().map(|a| normalise(a)));
            let init = crate::rewrite::text::call_statement(&indent, super::RANGE_INIT, &init_args);
            let (pos, decl) = crate::rewrite::text::declaration_insert(
                &src,
                body,
                &format!("struct {RANGE_STRUCT} {RANGE_VAR};"),
            );
            draft.insert(file, pos, decl);
            draft.insert(
                file,
                crate::rewrite::text::line_start(&src, stmt.start_byte()),
                init,
            );
            let list = call.child_by_field_name("arguments").unwrap();
            draft.replace(
                file,
                list.start_byte(),
                list.end_byte(),
                format!("({}, &{RANGE_VAR})", args[0]),
            );
        }
    }
    Ok(Ok(()))
}

/// The calls through the members in the `__` functions: `(mn,
/// range->mm, range->start, range->end)` becomes `(mn, range)`.
fn ops_calls(
    ws: &mut Workspace,
    recipe: &Recipe,
    api: &api::Api,
    draft: &mut UnitDraft,
    refused: &mut Vec<ReviewItem>,
) -> Result<(), RewriteError> {
    let (src, tree) = ws.parsed(&api.implementation)?;
    let mut found = 0;
    for call in tree.descendants_of_kind("call_expression") {
        let Some(f) = call
            .child_by_field_name("function")
            .filter(|f| f.kind() == "field_expression")
        else {
            continue;
        };
        let member = f
            .child_by_field_name("field")
            .map(|m| text(m, &src).into_owned())
            .unwrap_or_default();
        if !recipe.is_ops_member(&member) {
            continue;
        }
        let args = call.child_by_field_name("arguments").unwrap();
        let texts = crate::scan::kernel_c::call_args(call, &src);
        let expected: Vec<String> = api
            .member_names()
            .iter()
            .map(|m| format!("{RANGE_VAR}->{m}"))
            .collect();
        let tail: Vec<String> = texts.iter().skip(1).map(|t| normalise(t)).collect();
        if texts.is_empty() || !expected.starts_with(&tail) || tail.is_empty() {
            refused.push(item(
                &api.implementation,
                line_of(&src, call.start_byte()),
                format!(
                    "->{member}() is called with ({}), not with the range's members",
                    texts.join(", ")
                ),
            ));
            continue;
        }
        draft.replace(
            &api.implementation,
            args.start_byte(),
            args.end_byte(),
            format!("({}, {RANGE_VAR})", texts[0]),
        );
        found += 1;
    }
    if found == 0 {
        refused.push(item(
            &api.implementation,
            1,
            "no call through the ops members found".into(),
        ));
    }
    Ok(())
}
