//! Stage 1: the range structure and its initialiser, in the API's header,
//! outside the `#ifdef` of the API's config symbol so that code built
//! with and without it sees them.  Nothing uses them yet: it builds.
//! The structure has the wrappers' parameters and every parameter of a
//! `__` function that the callbacks get (see `api`); the initialiser
//! takes the wrapper's (the wrappers set the rest).

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::text::{line_start, signature};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::scan::ScanReport;
use crate::scan::walk::subsystem_of;

use super::{RANGE_INIT, RANGE_STRUCT, RANGE_VAR, api};

pub fn convert(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Vec<ChangeUnit>, RewriteError> {
    let Some(api) = api::learn_or_review(ws, recipe, report, review)? else {
        return Ok(Vec::new());
    };
    let src = ws.content(&api.header)?.to_vec();
    if memchr::memmem::find(&src, format!("struct {RANGE_STRUCT} {{").as_bytes()).is_some() {
        // The tree has the structure already.
        return Ok(Vec::new());
    }
    let Some(at) = config_block(&src, recipe.api_config) else {
        review.push(ReviewItem {
            file: api.header.clone(),
            line: 1,
            reason: format!(
                "no `#ifdef {}` block in the header to put the structure before",
                recipe.api_config
            ),
        });
        return Ok(Vec::new());
    };
    let mut draft = UnitDraft::new(
        Stage::new(super::STRUCTURE),
        &subsystem_of(&api.header),
        &format!("add struct {RANGE_STRUCT}"),
    );
    draft.insert(&api.header, at, definitions(&api));
    draft.description.push(format!(
        "Add struct {RANGE_STRUCT}, which holds what {}() passes to the notifiers ({}), \
         and {RANGE_INIT}() to set one up. Nothing uses them yet; the next patches pass the \
         structure to the notifiers instead of the separate arguments.",
        super::INNER_START,
        api::names(&api.members)
    ));
    draft.rationale.push(format!(
        "{}: the structure's members are the wrappers' parameters in that header and each \
         parameter of a `__` function its implementation ({}) passes on to the callbacks; \
         both are defined outside `#ifdef {}`, for code built with and without it.",
        api.header, api.implementation, recipe.api_config
    ));
    Ok(vec![ws.commit(draft)?])
}

/// The start of the line of the first `#ifdef SYMBOL` (or `#if
/// defined(SYMBOL)`).
fn config_block(src: &[u8], symbol: &str) -> Option<usize> {
    let text = String::from_utf8_lossy(src);
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        let hit = matches!(words.as_slice(), ["#ifdef", s, ..] if *s == symbol)
            || (words.first() == Some(&"#if") && line.contains(&format!("defined({symbol})")));
        if hit {
            return Some(line_start(src, at));
        }
        at += line.len();
    }
    None
}

/// The structure, its initialiser, and a blank line after each.
fn definitions(api: &api::Api) -> String {
    let mut out = format!(
        "/*\n * struct {RANGE_STRUCT} - the range of an invalidation, passed to the\n * \
         range notifiers and their callbacks\n */\nstruct {RANGE_STRUCT} {{\n"
    );
    for (decl, _) in &api.members {
        out.push_str(&format!("\t{decl};\n"));
    }
    out.push_str("};\n\n");
    // The initialiser takes what the wrappers take; the members only
    // the `__` function takes (a `blockable` flag) are set by the
    // wrappers.
    let mut params = vec![format!("struct {RANGE_STRUCT} *{RANGE_VAR}")];
    params.extend(api.wrapper_params.iter().map(|(d, _)| d.clone()));
    out.push_str(&signature(
        &format!("static inline void {RANGE_INIT}"),
        &params,
        "",
    ));
    out.push_str("{\n");
    for (_, name) in &api.wrapper_params {
        out.push_str(&format!("\t{RANGE_VAR}->{name} = {name};\n"));
    }
    out.push_str("}\n\n");
    out
}
