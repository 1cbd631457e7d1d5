//! Stage 2, a flag day: the wrappers, the `__` functions, the stubs and
//! every caller pass a `struct mmu_notifier_range *` in one commit.  The
//! `__` functions still call the ops members with the structure's fields,
//! so the callbacks are untouched and it builds.
//!
//! Each caller declares `struct mmu_notifier_range range;`, sets it up
//! with the initialiser right before the start (or, under a brace-less
//! `if` or when an `if` tests a start that can fail, before the `if`),
//! and passes `&range` to the start and to every end with the same
//! arguments in the same function.  Every wrapper of the `__` start the
//! header defines is a start, and every wrapper of the `__` end an end
//! (`api::Wrapper`); each stores the constant it passed for a member it
//! does not take, and keeps passing one for a parameter that stays.
//! Locals that only held the bounds are folded into the structure.  Anything else is left
//! untouched and named for review, and then nothing of this stage is
//! made: a caller left with the old arguments would not build.

use std::collections::BTreeMap;

use tree_sitter::Node;

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::syntax::descendants;
use crate::rewrite::text::{
    call_statement, declaration_insert, indent_at, line_end, line_start, removal_range,
};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::scan::ScanReport;
use crate::scan::kernel_c::{
    Parsed, callee_name, declarator_name_of, enclosing_function, function_name, is_branch_hint,
    text,
};
use crate::scan::walk::subsystem_of;

use super::params::{
    InnerCall, Shape, convert_definition, is_written, normalise, param_list, params, replace_list,
};
use super::{
    INNER_END, INNER_START, RANGE_INIT, RANGE_STRUCT, RANGE_VAR, api, item, line_of, not_made,
};

pub fn convert(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Vec<ChangeUnit>, RewriteError> {
    let Some(api) = api::learn_or_review(ws, recipe, report, review)? else {
        return Ok(Vec::new());
    };
    if api.takes_range() {
        review.extend(old_calls_under_new_api(report, &api));
        return Ok(Vec::new());
    }
    let mut draft = UnitDraft::new(
        Stage::new(super::CALLERS),
        &subsystem_of(&api.implementation),
        &format!("pass struct {RANGE_STRUCT} to the range notifiers"),
    );
    let mut done = Done::default();
    api_edits(ws, &api, &mut draft, &mut done.refused)?;
    for (file, expected) in calls_by_file(report, &api, &mut done.refused) {
        convert_file(ws, &mut draft, file, expected, recipe, &api, &mut done)?;
    }
    if !done.refused.is_empty() {
        not_made(
            review,
            done.refused,
            super::CALLERS,
            ("use", "uses"),
            "the old arguments",
            "the wrappers change",
        );
        return Ok(Vec::new());
    }
    describe(&mut draft, recipe, &api, done.count, done.converted);
    Ok(vec![ws.commit(draft)?])
}

/// What the callers' conversion has done so far.
#[derive(Default)]
struct Done {
    /// The uses it cannot convert.
    refused: Vec<ReviewItem>,
    /// A rationale line per converted function.
    converted: Vec<String>,
    /// The bracket calls converted.
    count: usize,
}

/// The number of bracket calls the scan found per file; a call of an API
/// function that is no wrapper is refused.
fn calls_by_file<'r>(
    report: &'r ScanReport,
    api: &api::Api,
    refused: &mut Vec<ReviewItem>,
) -> BTreeMap<&'r str, usize> {
    let mut by_file: BTreeMap<&str, usize> = BTreeMap::new();
    for s in report.of_kind("call") {
        let callee = match &s.detail {
            crate::scan::model::Detail::Call { callee, .. } => callee.as_str(),
            _ => continue,
        };
        if is_bracket(api, callee) {
            *by_file.entry(s.file.as_str()).or_default() += 1;
        } else {
            refused.push(item(
                &s.file,
                s.line,
                format!("{callee}() called directly: only the wrappers are converted"),
            ));
        }
    }
    by_file
}

/// Converts the bracket calls of one file, function by function, when
/// the file has the `expected` number the scan found.
fn convert_file(
    ws: &mut Workspace,
    draft: &mut UnitDraft,
    file: &str,
    expected: usize,
    recipe: &Recipe,
    api: &api::Api,
    done: &mut Done,
) -> Result<(), RewriteError> {
    let (src, tree) = ws.parsed(file)?;
    let calls = bracket_calls(&tree, &src, recipe, api);
    if calls.len() != expected {
        done.refused.push(item(file, 1, format!(
            "the scan found {expected} calls of the bracket functions here, the file has {} outside the API: review by hand",
            calls.len()
        )));
        return Ok(());
    }
    let mut by_fn: BTreeMap<usize, (Node, Vec<Node>)> = BTreeMap::new();
    for c in calls {
        match enclosing_function(c) {
            Some(f) => by_fn
                .entry(f.start_byte())
                .or_insert((f, Vec::new()))
                .1
                .push(c),
            None => done.refused.push(item(
                file,
                line_of(&src, c.start_byte()),
                "a bracket call outside a function".into(),
            )),
        }
    }
    for (func, calls) in by_fn.into_values() {
        let name = function_name(func, &src).unwrap_or_default();
        match convert_function(draft, file, &src, func, &calls, api) {
            Ok(note) => {
                done.count += calls.len();
                done.converted.push(format!("{file}: {name}(): {note}"));
            }
            Err((at, why)) => {
                done.refused
                    .push(item(file, line_of(&src, at), format!("{name}(): {why}")))
            }
        }
    }
    Ok(())
}

/// The commit message and the rationale of the callers' unit.
fn describe(
    draft: &mut UnitDraft,
    recipe: &Recipe,
    api: &api::Api,
    count: usize,
    converted: Vec<String>,
) {
    draft.description.push(format!(
        "Pass a struct {RANGE_STRUCT} to {}() and {}() instead of (mm, start, end), and set \
         it up with {RANGE_INIT}() in every caller. Locals that only held the bounds become \
         the structure's members.",
        recipe.range_start, recipe.range_end
    ));
    if let Some((others, verb)) = the_others(&api.starts) {
        draft.description.push(format!(
            "{others} {verb} the same way; each start wrapper stores in the structure what it \
             passes {INNER_START}() for the members its callers do not give."
        ));
    }
    if let Some((others, verb)) = the_others(&api.ends) {
        draft.description.push(format!(
            "{others} {verb} the same way as {}().",
            recipe.range_end
        ));
    }
    for inner in api.inners.iter().filter(|i| !i.kept.is_empty()) {
        let kept: Vec<String> = inner.kept.iter().map(|k| format!("`{k}`")).collect();
        draft.description.push(format!(
            "{}() keeps {} as {} after the structure: it does not pass {} on to the \
             callbacks, and each of its wrappers passes the same constant as before.",
            inner.name,
            crate::rewrite::text::join_and(&kept),
            crate::words::noun(kept.len(), "a parameter", "parameters"),
            crate::words::noun(kept.len(), "it", "them")
        ));
    }
    draft.description.push(format!(
        "The signature change cannot be split: the wrappers, {INNER_START}() and \
         {INNER_END}() and every caller change in this one commit. The callbacks still get \
         (mm, start, end) from the structure's members."
    ));
    draft.rationale.push(format!(
        "{count} bracket calls converted; each end is paired with the start of the same function with the same arguments, none of which changes in between."
    ));
    draft.rationale.extend(converted);
}

/// The wrappers after the recipe's own (`a() and b()`) and the verb that
/// goes with them, if there are any.
fn the_others(wrappers: &[api::Wrapper]) -> Option<(String, &'static str)> {
    let others: Vec<String> = wrappers[1..]
        .iter()
        .map(|w| format!("{}()", w.name))
        .collect();
    (!others.is_empty()).then(|| {
        let verb = crate::words::noun(others.len(), "changes", "change");
        (crate::rewrite::text::join_and(&others), verb)
    })
}

/// The tree was converted before (its API takes the range): a call still
/// with the old arguments is a half-converted tree, which does not build;
/// said, never edited.
fn old_calls_under_new_api(report: &ScanReport, api: &api::Api) -> Vec<ReviewItem> {
    report
        .of_kind("call")
        .filter_map(|s| match &s.detail {
            crate::scan::model::Detail::Call { callee, args, .. }
                if is_bracket(api, callee) && args.len() != 1 =>
            {
                Some(item(
                    &s.file,
                    s.line,
                    format!(
                        "{callee}() with the old arguments, while {} already takes struct \
                         {RANGE_STRUCT}: the tree is half converted; convert this call by hand \
                         (set up a range with {RANGE_INIT}())",
                        api.header
                    ),
                ))
            }
            _ => None,
        })
        .collect()
}

/// Whether `name` is one of the start wrappers or the end wrappers.
fn is_bracket(api: &api::Api, name: &str) -> bool {
    api.start(name).is_some() || api.end(name).is_some()
}

/// Calls of the start and end wrappers outside the API's own definitions.
fn bracket_calls<'t>(
    tree: &'t Parsed,
    src: &[u8],
    recipe: &Recipe,
    api: &api::Api,
) -> Vec<Node<'t>> {
    tree.descendants_of_kind("call_expression")
        .into_iter()
        .filter(|c| callee_name(*c, src).is_some_and(|n| is_bracket(api, &n)))
        .filter(|c| {
            enclosing_function(*c)
                .and_then(|f| function_name(f, src))
                .is_none_or(|n| !recipe.is_api_function(&n))
        })
        .collect()
}

/// The API's side of the flag day: wrappers and stubs, the `__`
/// prototypes and definitions.  A parameter of a `__` function that is
/// no member stays after the range, and its wrappers keep passing theirs.
fn api_edits(
    ws: &mut Workspace,
    api: &api::Api,
    draft: &mut UnitDraft,
    refused: &mut Vec<ReviewItem>,
) -> Result<(), RewriteError> {
    let param = format!("struct {RANGE_STRUCT} *{RANGE_VAR}");
    let names = api.member_names();
    let kept: Vec<Vec<usize>> = api
        .inners
        .iter()
        .map(|i| {
            i.params
                .iter()
                .enumerate()
                .filter(|(_, (_, n))| i.kept.contains(n))
                .map(|(at, _)| at)
                .collect()
        })
        .collect();
    let calls: Vec<InnerCall> = api
        .inners
        .iter()
        .zip(&kept)
        .map(|(i, kept)| InnerCall { name: i.name, kept })
        .collect();
    let wrappers = Shape {
        keep: 0,
        new_param: &param,
        names: &names,
        tail: &[],
        inner: &calls,
    };
    let (src, tree) = ws.parsed(&api.header)?;
    for def in tree.descendants_of_kind("function_definition") {
        let name = function_name(def, &src).unwrap_or_default();
        if !is_bracket(api, &name) {
            continue;
        }
        if let Err(why) = convert_definition(draft, &api.header, &src, def, &wrappers) {
            let line = line_of(&src, def.start_byte());
            refused.push(item(&api.header, line, format!("{name}(): {why}")));
        } else if let Some(w) = api.start(&name).or_else(|| api.end(&name)) {
            // A wrapper (a stub calls nothing and stores nothing).
            set_constants(draft, &api.header, &src, def, w);
        }
    }
    for decl in tree.descendants_of_kind("declaration") {
        let inner =
            crate::scan::kernel_c::declarator_name(decl).and_then(|n| api.inner(&text(n, &src)));
        if let Some(inner) = inner
            && let Some(list) = param_list(decl)
        {
            let mut new = vec![param.clone()];
            new.extend(
                params(list, &src)
                    .into_iter()
                    .filter(|(_, n)| inner.kept.contains(n))
                    .map(|(d, _)| d),
            );
            replace_list(draft, &api.header, &src, list, &new);
        }
    }
    let (src, tree) = ws.parsed(&api.implementation)?;
    for def in tree.descendants_of_kind("function_definition") {
        let name = function_name(def, &src).unwrap_or_default();
        let Some(inner) = api.inner(&name) else {
            continue;
        };
        // Its own members' names: the wrappers', then those it takes.
        let mut own = names[..api.wrapper_params.len().min(names.len())].to_vec();
        own.extend(inner.members.iter().cloned());
        let shape = Shape {
            keep: 0,
            new_param: &param,
            names: &own,
            tail: &inner.kept,
            inner: &[],
        };
        if let Err(why) = convert_definition(draft, &api.implementation, &src, def, &shape) {
            let line = line_of(&src, def.start_byte());
            refused.push(item(&api.implementation, line, format!("{name}(): {why}")));
        }
    }
    Ok(())
}

/// A wrapper stores what it passes the `__` function for the members it
/// does not take (`range->blockable = true;`) right before its call,
/// inside braces it gets when the call is the body of a brace-less `if`
/// (as Linux 4.20 writes it).
fn set_constants(draft: &mut UnitDraft, path: &str, src: &[u8], def: Node, wrapper: &api::Wrapper) {
    let [call] = api::calls_inner(def, src, wrapper.inner)[..] else {
        return;
    };
    let constants = &wrapper.constants;
    // `api::learn` read the wrapper, so the site is there.
    let Some((stmt, brace_less_if)) = api::store_site(call, src).filter(|_| !constants.is_empty())
    else {
        return;
    };
    let indent = indent_at(src, stmt.start_byte());
    let text: String = constants
        .iter()
        .map(|(member, value)| format!("{indent}{RANGE_VAR}->{member} = {value};\n"))
        .collect();
    draft.insert(path, line_start(src, stmt.start_byte()), text);
    if let Some(ifs) = brace_less_if
        && let Some(cond) = ifs.child_by_field_name("condition")
    {
        draft.insert(path, cond.end_byte(), " {");
        let close = format!("{}}}\n", indent_at(src, ifs.start_byte()));
        draft.insert(path, line_end(src, stmt.end_byte()), close);
    }
}

type Refusal = (usize, String);

/// One start and where its initialiser goes.
struct Start<'t> {
    call: Node<'t>,
    /// The statement the initialiser goes before (the start's own, or the
    /// `if` around it or that tests it).
    anchor: Node<'t>,
    place: Place,
}

/// Where a start is.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// A statement of its own in a block.
    Statement,
    /// The body of a brace-less `if`.
    UnderIf,
    /// The test of an `if` (a start that can fail): the call alone,
    /// negated or compared with a number.
    Condition,
}

/// Converts the brackets of one function; returns a note for the
/// rationale.
fn convert_function(
    draft: &mut UnitDraft,
    path: &str,
    src: &[u8],
    func: Node,
    calls: &[Node],
    api: &api::Api,
) -> Result<String, Refusal> {
    let at = calls[0].start_byte();
    if descendants(func, &["identifier"])
        .iter()
        .any(|i| text(*i, src) == RANGE_VAR)
    {
        return Err((
            at,
            format!("the function already uses the name `{RANGE_VAR}`"),
        ));
    }
    let body = func
        .child_by_field_name("body")
        .ok_or((at, "no body".to_string()))?;
    let is_start = |c: Node| callee_name(c, src).is_some_and(|n| api.start(&n).is_some());
    takes_the_wrappers_arguments(src, calls, api)?;
    brackets_are_whole(src, body, calls, &is_start)?;
    let starts: Vec<Start> = calls
        .iter()
        .copied()
        .filter(|c| is_start(*c))
        .map(|c| start_of(c, src))
        .collect::<Result<_, _>>()?;
    let folded = if starts.len() == 1 {
        fold(src, body, &starts[0], &args_of(starts[0].call), api)
    } else {
        Vec::new()
    };
    let ends = calls.len() - starts.len();
    let mut notes = vec![format!(
        "{} and {}",
        crate::words::count(starts.len(), "start", "starts"),
        crate::words::count(ends, "end", "ends")
    )];
    for s in &starts {
        notes.extend(write_start(draft, path, src, s, &folded, api)?);
    }
    for &c in calls.iter().filter(|c| !is_start(**c)) {
        pass_range(draft, path, c);
    }
    notes.extend(write_folds(draft, path, src, &folded));
    let (pos, decl) = declaration_insert(src, body, &format!("struct {RANGE_STRUCT} {RANGE_VAR};"));
    draft.insert(path, pos, decl);
    Ok(notes.join("; "))
}

/// A bracket call's arguments, as one text to compare brackets by.
fn key(c: Node, src: &[u8]) -> String {
    args_of(c)
        .iter()
        .map(|a| normalise(&text(*a, src)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every call takes as many arguments as the wrappers.
fn takes_the_wrappers_arguments(src: &[u8], calls: &[Node], api: &api::Api) -> Result<(), Refusal> {
    match calls
        .iter()
        .find(|c| args_of(**c).len() != api.wrapper_params.len())
    {
        Some(c) => Err((
            c.start_byte(),
            format!(
                "{}({}) does not take the API's {} arguments",
                callee_name(*c, src).unwrap_or_default(),
                key(*c, src),
                api.wrapper_params.len()
            ),
        )),
        None => Ok(()),
    }
}

/// The brackets by their arguments (each start with the ends after it)
/// are whole in the function, keep their arguments and do not overlap.
fn brackets_are_whole(
    src: &[u8],
    body: Node,
    calls: &[Node],
    is_start: &dyn Fn(Node) -> bool,
) -> Result<(), Refusal> {
    let mut groups: BTreeMap<String, (Vec<Node>, Vec<Node>)> = BTreeMap::new();
    for &c in calls {
        let g = groups.entry(key(c, src)).or_default();
        if is_start(c) {
            g.0.push(c)
        } else {
            g.1.push(c)
        }
    }
    let mut spans = Vec::new();
    for (args, (starts, ends)) in &groups {
        spans.push(bracket_span(src, body, args, starts, ends)?);
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err((
                w[1].0,
                format!(
                    "the brackets ({}) and ({}) overlap: one structure cannot hold both",
                    w[0].2, w[1].2
                ),
            ));
        }
    }
    Ok(())
}

/// From the first start to the last end of the bracket on `args`: both
/// in the function, in that order, and nothing in the start's arguments
/// written in between (the structure keeps the values of the start).
fn bracket_span(
    src: &[u8],
    body: Node,
    args: &str,
    starts: &[Node],
    ends: &[Node],
) -> Result<(usize, usize, String), Refusal> {
    let (Some(first), Some(last_end)) = (starts.first(), ends.last()) else {
        let lone = starts.first().or(ends.first()).unwrap();
        let what = if starts.is_empty() {
            "an end whose start"
        } else {
            "a start whose end"
        };
        return Err((
            lone.start_byte(),
            format!(
                "{what} ({args}) is not in this function: the bracket spans functions; convert it by hand"
            ),
        ));
    };
    if ends.iter().any(|e| e.start_byte() < first.start_byte()) {
        return Err((
            ends[0].start_byte(),
            format!("an end ({args}) comes before its start"),
        ));
    }
    for a in args_of(*first) {
        for id in descendants(a, &["identifier"]) {
            let name = text(id, src);
            let written = descendants(body, &["identifier"]).into_iter().find(|i| {
                text(*i, src) == name
                    && i.start_byte() > first.end_byte()
                    && i.start_byte() < last_end.start_byte()
                    && is_written(*i, src)
            });
            if let Some(w) = written {
                return Err((
                    w.start_byte(),
                    format!(
                        "`{name}` changes between the start and the end of the bracket ({args}): \
                         the structure would keep the value it had at the start"
                    ),
                ));
            }
        }
    }
    Ok((first.start_byte(), last_end.end_byte(), args.to_string()))
}

/// The call passes `&range` instead of its arguments.
fn pass_range(draft: &mut UnitDraft, path: &str, call: Node) {
    let args = call.child_by_field_name("arguments").unwrap();
    draft.replace(
        path,
        args.start_byte(),
        args.end_byte(),
        format!("(&{RANGE_VAR})"),
    );
}

/// The initialiser of a start and the start passing `&range`, where the
/// start is; a note for the rationale when the initialiser is not right
/// before the start.
fn write_start(
    draft: &mut UnitDraft,
    path: &str,
    src: &[u8],
    s: &Start,
    folded: &[Fold],
    api: &api::Api,
) -> Result<Option<String>, Refusal> {
    let mut init_args = vec![format!("&{RANGE_VAR}")];
    for (i, a) in args_of(s.call).into_iter().enumerate() {
        let fold = folded.iter().find(|f| f.position == i);
        init_args.push(fold.map_or_else(|| normalise(&text(a, src)), |f| f.value.clone()));
    }
    let indent = indent_at(src, s.anchor.start_byte());
    let init = call_statement(&indent, RANGE_INIT, &init_args);
    match s.place {
        Place::Condition => write_tested_start(draft, path, src, s, init, api).map(Some),
        Place::UnderIf => write_start_under_if(draft, path, src, s, init, folded).map(Some),
        Place::Statement => {
            let (from, to) = (
                line_start(src, s.anchor.start_byte()),
                line_end(src, s.anchor.end_byte()),
            );
            let alone = src[from..s.anchor.start_byte()]
                .iter()
                .all(u8::is_ascii_whitespace)
                && src[s.anchor.end_byte()..to]
                    .iter()
                    .all(u8::is_ascii_whitespace);
            if !alone {
                return Err((
                    s.call.start_byte(),
                    "the start shares its line with other code".into(),
                ));
            }
            let callee = callee_name(s.call, src).unwrap_or_default();
            let start = call_statement(&indent, &callee, &[format!("&{RANGE_VAR}")]);
            draft.replace(path, from, to, format!("{init}{start}"));
            Ok(None)
        }
    }
}

/// A start an `if` tests: the initialiser goes right before the `if`
/// (nothing of the condition runs before the call).
fn write_tested_start(
    draft: &mut UnitDraft,
    path: &str,
    src: &[u8],
    s: &Start,
    init: String,
    api: &api::Api,
) -> Result<String, Refusal> {
    let callee = callee_name(s.call, src).unwrap_or_default();
    if !api.start(&callee).is_some_and(|w| w.returns) {
        return Err((
            s.call.start_byte(),
            format!("{callee}() does not return the start's result, yet an `if` tests it"),
        ));
    }
    draft.insert(path, line_start(src, s.anchor.start_byte()), init);
    pass_range(draft, path, s.call);
    Ok("the initialiser goes right before the `if` that tests the start".to_string())
}

/// A start under a brace-less `if`: the initialiser goes before the `if`
/// when neither its condition nor the start's arguments have side
/// effects.
fn write_start_under_if(
    draft: &mut UnitDraft,
    path: &str,
    src: &[u8],
    s: &Start,
    init: String,
    folded: &[Fold],
) -> Result<String, Refusal> {
    let cond = s.anchor.child_by_field_name("condition").unwrap();
    // A branch hint (`unlikely(cow)`) is its argument.
    let pure = |n: Node| {
        descendants(
            n,
            &[
                "call_expression",
                "assignment_expression",
                "update_expression",
            ],
        )
        .into_iter()
        .all(|e| {
            e.kind() == "call_expression" && callee_name(e, src).is_some_and(|c| is_branch_hint(&c))
        })
    };
    let args_pure = args_of(s.call).into_iter().all(pure) && folded.iter().all(|f| f.pure);
    if !pure(cond) || !args_pure {
        return Err((s.call.start_byte(), "a start under a brace-less `if` whose condition or arguments may have side effects: the initialiser cannot go before the `if`".into()));
    }
    draft.insert(path, line_start(src, s.anchor.start_byte()), init);
    pass_range(draft, path, s.call);
    Ok("the initialiser goes before the brace-less `if` around the start (its condition and arguments have no side effects)".to_string())
}

/// The folded locals' reads become `range.member`; their assignments and
/// declarations go.  A note per local for the rationale.
fn write_folds(draft: &mut UnitDraft, path: &str, src: &[u8], folded: &[Fold]) -> Vec<String> {
    let mut notes = Vec::new();
    for f in folded {
        for id in &f.uses {
            draft.replace(path, id.0, id.1, format!("{RANGE_VAR}.{}", f.member));
        }
        let (a, b) = removal_range(src, f.assignment.start_byte(), f.assignment.end_byte());
        draft.replace(path, a, b, String::new());
        notes.push(format!(
            "`{}` only held the {} of the range: it becomes {RANGE_VAR}.{}",
            f.name, f.member, f.member
        ));
    }
    let mut removed_decls: Vec<Node> = folded.iter().map(|f| f.declaration).collect();
    removed_decls.sort_by_key(|d| d.start_byte());
    removed_decls.dedup_by_key(|d| d.start_byte());
    for d in removed_decls {
        let (a, b) = removal_range(src, d.start_byte(), d.end_byte());
        draft.replace(path, a, b, String::new());
    }
    notes
}

fn args_of(c: Node<'_>) -> Vec<Node<'_>> {
    let Some(a) = c.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut cursor = a.walk();
    a.named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

fn start_of<'t>(call: Node<'t>, src: &[u8]) -> Result<Start<'t>, Refusal> {
    let Some(stmt) = call.parent().filter(|p| p.kind() == "expression_statement") else {
        return tested_start(call, src);
    };
    let parent = stmt
        .parent()
        .ok_or((call.start_byte(), "no parent".to_string()))?;
    match parent.kind() {
        kind if in_block(kind) => Ok(Start {
            call,
            anchor: stmt,
            place: Place::Statement,
        }),
        "if_statement"
            if parent
                .child_by_field_name("consequence")
                .is_some_and(|c| c.id() == stmt.id()) =>
        {
            Ok(Start {
                call,
                anchor: parent,
                place: Place::UnderIf,
            })
        }
        other => Err((
            call.start_byte(),
            format!(
                "the start sits directly under a `{}` without braces: {}",
                other.trim_end_matches("_statement"),
                text(parent, src).lines().next().unwrap_or_default()
            ),
        )),
    }
}

/// Whether a statement whose parent is of `kind` is in a block, where a
/// statement can go before it.
fn in_block(kind: &str) -> bool {
    matches!(
        kind,
        "compound_statement" | "preproc_ifdef" | "preproc_if" | "preproc_else" | "preproc_elif"
    )
}

/// A start that is not a statement: it must be what an `if` of a block
/// tests (the call alone, negated, compared with a number, or in a branch
/// hint), so that nothing of the condition runs before it and the
/// initialiser can go right before the `if`.
fn tested_start<'t>(call: Node<'t>, src: &[u8]) -> Result<Start<'t>, Refusal> {
    let refuse = |why: &str| Err((call.start_byte(), why.to_string()));
    let (mut child, mut up) = (call, call.parent());
    while let Some(p) = up {
        let through = match p.kind() {
            "parenthesized_expression" => true,
            "unary_expression" => p.child(0).is_some_and(|op| text(op, src) == "!"),
            "binary_expression" => compared_with_number(p, child, src),
            "argument_list" => p.named_child_count() == 1,
            "call_expression" => callee_name(p, src).is_some_and(|c| is_branch_hint(&c)),
            _ => false,
        };
        if !through {
            break;
        }
        if p.kind() == "parenthesized_expression"
            && let Some(stmt) = p.parent().filter(|s| s.kind() == "if_statement")
            && stmt
                .child_by_field_name("condition")
                .is_some_and(|c| c.id() == p.id())
        {
            let head = &src[line_start(src, stmt.start_byte())..stmt.start_byte()];
            if !stmt.parent().is_some_and(|b| in_block(b.kind()))
                || !head.iter().all(u8::is_ascii_whitespace)
            {
                return refuse(
                    "the start is tested by an `if` that is not a statement of its own in a \
                     block (an `else if`?): the initialiser has no place before it",
                );
            }
            return Ok(Start {
                call,
                anchor: stmt,
                place: Place::Condition,
            });
        }
        child = p;
        up = p.parent();
    }
    refuse(
        "the start is neither a statement of its own nor the whole test of an `if` (alone, \
         negated or compared with a number): where its initialiser goes is not proven",
    )
}

/// Whether `op` compares `operand` with a number literal (`start(...) <
/// 0`): nothing else is evaluated.
fn compared_with_number(op: Node, operand: Node, src: &[u8]) -> bool {
    let comparison = op
        .child_by_field_name("operator")
        .is_some_and(|o| matches!(text(o, src).as_ref(), "==" | "!=" | "<" | "<=" | ">" | ">="));
    let other = [
        op.child_by_field_name("left"),
        op.child_by_field_name("right"),
    ]
    .into_iter()
    .flatten()
    .find(|n| n.id() != operand.id());
    comparison && other.is_some_and(|n| n.kind() == "number_literal")
}

/// A local that only held a bound, folded into the structure.
struct Fold<'t> {
    name: String,
    /// The argument position it fills and the member it becomes.
    position: usize,
    member: String,
    /// The value it was assigned, which moves into the initialiser.
    value: String,
    pure: bool,
    declaration: Node<'t>,
    assignment: Node<'t>,
    /// Its other reads, which become `range.member`.
    uses: Vec<(usize, usize)>,
}

/// The bound locals of the start's arguments that can be folded: declared
/// without a value, assigned once right before the start (in the
/// statements just before it), read only after it, never written again.
/// Any other shape keeps the local, which is always correct.
fn fold<'t>(
    src: &[u8],
    body: Node<'t>,
    start: &Start<'t>,
    args: &[Node<'t>],
    api: &api::Api,
) -> Vec<Fold<'t>> {
    let run = assignments_before(start.anchor, src);
    let reader = BoundReader {
        src,
        body,
        start,
        args,
        ids: descendants(body, &["identifier"]),
        api,
    };
    let out: Vec<Fold> = args
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(position, arg)| reader.fold_one(position, *arg, &run))
        .collect();
    kept_apart(src, args, out)
}

/// The `x = value;` statements just before `anchor`, nearest first.
fn assignments_before<'t>(anchor: Node<'t>, src: &[u8]) -> Vec<(Node<'t>, Node<'t>)> {
    let mut run = Vec::new();
    let mut prev = anchor.prev_named_sibling();
    while let Some(p) = prev {
        let Some(asg) = p
            .named_child(0)
            .filter(|a| p.kind() == "expression_statement" && a.kind() == "assignment_expression")
        else {
            break;
        };
        if asg.child(1).is_none_or(|op| text(op, src) != "=")
            || asg
                .child_by_field_name("left")
                .is_none_or(|l| l.kind() != "identifier")
        {
            break;
        }
        run.push((p, asg));
        prev = p.prev_named_sibling();
    }
    run
}

/// What [`fold`] reads a start's bound locals with.
struct BoundReader<'a, 't> {
    src: &'a [u8],
    body: Node<'t>,
    start: &'a Start<'t>,
    args: &'a [Node<'t>],
    /// Every identifier of the body.
    ids: Vec<Node<'t>>,
    api: &'a api::Api,
}

impl<'t> BoundReader<'_, 't> {
    /// The local passed at `position`, if it can be folded: assigned in
    /// `run`, declared in the body, read only after the start and never
    /// written again, with a value without side effects.
    fn fold_one(
        &self,
        position: usize,
        arg: Node<'t>,
        run: &[(Node<'t>, Node<'t>)],
    ) -> Option<Fold<'t>> {
        let src = self.src;
        if arg.kind() != "identifier" {
            return None;
        }
        let name = text(arg, src).into_owned();
        let member = self.api.members.get(position).map(|(_, n)| n.clone())?;
        let (stmt, asg) = run
            .iter()
            .find(|(_, a)| text(a.child_by_field_name("left").unwrap(), src) == name)?;
        let declaration = descendants(self.body, &["declaration"])
            .into_iter()
            .find(|d| {
                let mut c = d.walk();
                d.children_by_field_name("declarator", &mut c)
                    .any(|x| x.kind() == "identifier" && text(x, src) == name)
            })?;
        let value_node = asg.child_by_field_name("right").unwrap();
        let uses = self.other_reads(&name, declaration, *asg)?;
        let impure =
            !descendants(value_node, &["assignment_expression", "update_expression"]).is_empty();
        if impure {
            return None;
        }
        Some(Fold {
            name,
            position,
            member,
            value: normalise(&text(value_node, src)),
            pure: descendants(value_node, &["call_expression"]).is_empty(),
            declaration,
            assignment: *stmt,
            uses,
        })
    }

    /// The reads of `name` besides its declaration, its assignment `asg`
    /// and the bracket calls' arguments, which become `range.member`; none
    /// when one comes before the start or writes it.
    fn other_reads(&self, name: &str, declaration: Node, asg: Node) -> Option<Vec<(usize, usize)>> {
        let src = self.src;
        let mut uses = Vec::new();
        for i in self.ids.iter().filter(|i| text(**i, src) == name) {
            let in_decl = i.start_byte() >= declaration.start_byte()
                && i.end_byte() <= declaration.end_byte();
            let is_asg = i.id() == asg.child_by_field_name("left").unwrap().id();
            let in_call = self.args.iter().any(|a| a.id() == i.id());
            if in_decl || is_asg || in_call {
                continue;
            }
            if i.start_byte() < self.start.anchor.start_byte() || is_written(*i, src) {
                return None;
            }
            // Reads in other bracket calls' arguments are replaced with them.
            if !inside_bracket_args(*i, src, self.api) {
                uses.push((i.start_byte(), i.end_byte()));
            }
        }
        Some(uses)
    }
}

/// The folds that can be made together: none when a value reads another
/// bound local, or more than one value calls a function (the order of
/// the calls would change); a declaration that also declares something
/// kept keeps its locals.
fn kept_apart<'t>(src: &[u8], args: &[Node<'t>], mut out: Vec<Fold<'t>>) -> Vec<Fold<'t>> {
    let bounds: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| text(*a, src).into_owned())
        .collect();
    let reads_bound = |f: &Fold| {
        f.value
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| bounds.iter().any(|b| b == w))
    };
    if out.iter().any(reads_bound) {
        return Vec::new();
    }
    loop {
        let names: Vec<String> = out.iter().map(|f| f.name.clone()).collect();
        let before = out.len();
        out.retain(|f| {
            let mut c = f.declaration.walk();
            f.declaration
                .children_by_field_name("declarator", &mut c)
                .all(|x| {
                    declarator_name_of(x)
                        .is_some_and(|n| names.contains(&text(n, src).into_owned()))
                        && x.kind() == "identifier"
                })
        });
        if out.len() == before {
            break;
        }
    }
    if out.iter().filter(|f| !f.pure).count() > 1 {
        out.clear();
    }
    out
}

/// Whether `id` is inside the arguments of a bracket call (replaced with
/// the call's arguments as a whole).
fn inside_bracket_args(id: Node, src: &[u8], api: &api::Api) -> bool {
    let mut n = id.parent();
    while let Some(p) = n {
        if p.kind() == "call_expression" {
            let callee = callee_name(p, src).unwrap_or_default();
            return is_bracket(api, &callee);
        }
        n = p.parent();
    }
    false
}
