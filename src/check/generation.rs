//! E6: a tree that is half converted between the two generations of the
//! bracket API: `(mm, start, end)` arguments and the range structure
//! (Linux 4.20).
//!
//! The tree's bracket header says which generation it has (see [`api`]):
//! how many arguments each start and end takes, whether it defines the
//! init that fills a range, and what the ops' range callbacks take.  A call
//! with another number of arguments, an init the header does not define,
//! or a callback set in an ops initializer whose parameters are of the
//! other generation is code the conversion missed (or a header it has not
//! reached yet).  Without the header nothing is reported: a single file
//! says nothing about its tree.
//!
//! [`api`]: super::api

use tree_sitter::Node;

use super::api::{BracketApi, parameter_list};
use super::index::{FileIndex, definition_at};
use super::sleep::ops_entries;
use super::{Ctx, Diagnostic, Severity, Source, diag};
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{call_args, text};

pub fn check(file: &Source, idx: &FileIndex, ctx: &Ctx) -> Vec<Diagnostic> {
    let (rules, api) = (&ctx.recipe.check, &ctx.api);
    let Some(header) = api.learned_from.as_deref() else {
        return Vec::new();
    };
    if file.rel == header {
        return Vec::new();
    }
    let mut out = Vec::new();
    calls(file, idx, rules, api, header, &mut out);
    callbacks(file, idx, ctx, header, &mut out);
    out
}

/// Starts and ends called with the other generation's arguments, and
/// inits in a tree whose header has none.
fn calls(
    file: &Source,
    idx: &FileIndex,
    rules: &CheckRules,
    api: &BracketApi,
    header: &str,
    out: &mut Vec<Diagnostic>,
) {
    let init = &api.init.name;
    for (name, expected) in &api.arity {
        for (call, _) in idx.callers(name) {
            let args = call_args(call, &file.src);
            if args.len() == *expected {
                continue;
            }
            let message = if *expected == 1 {
                format!(
                    "half-converted tree: `{name}({})` passes the bounds, but {header} \
                     declares `{name}()` with a `struct {}` argument: fill a range with \
                     `{init}()` and pass it (`&range`) to the start and its end",
                    args.join(", "),
                    rules.range.tag,
                )
            } else {
                format!(
                    "half-converted tree: `{name}({})` passes a range structure, but {header} \
                     declares `{name}()` with {expected} arguments (mm, start, end): convert \
                     the header (and the ops callbacks) first, or pass the bounds",
                    args.join(", "),
                )
            };
            out.push(diag(file, call, "E6", Severity::Error, message));
        }
    }
    if api.header_has_init == Some(false) {
        for (call, _) in idx.callers(init) {
            out.push(diag(
                file,
                call,
                "E6",
                Severity::Error,
                format!(
                    "half-converted tree: `{init}()` is called, but {header} does not define \
                     it (its starts and ends take mm, start and end): convert the header first"
                ),
            ));
        }
    }
}

/// Range callbacks of an ops initializer whose parameters are of the
/// other generation than the header's ops members.
fn callbacks(file: &Source, idx: &FileIndex, ctx: &Ctx, header: &str, out: &mut Vec<Diagnostic>) {
    let rules = &ctx.recipe.check;
    let Some(wanted) = ctx.api.callbacks_take_range else {
        return;
    };
    let tag = format!("struct {}", rules.range.tag);
    for (member, entry, callback) in
        ops_entries(file, rules.range.ops_struct, rules.range.callbacks)
    {
        // Reported at the definition when it is in this file, else at the
        // entry, naming where the definition is.
        let (params, at, elsewhere) = match idx.functions.get(&callback) {
            Some(func) => (parameters_of(file, *func), *func, String::new()),
            None => {
                let Some((source, func)) = definition_elsewhere(ctx, &callback) else {
                    continue;
                };
                let line = func.start_position().row + 1;
                (
                    parameters_of(source, func),
                    entry,
                    format!(" (defined at {}:{line})", source.rel),
                )
            }
        };
        let Some(params) = params else {
            continue;
        };
        let takes_range = params
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&tag);
        if takes_range == wanted {
            continue;
        }
        let (has, declared) = if wanted {
            ("`(mm, start, end)`", format!("a `const {tag} *`"))
        } else {
            (
                "a range structure",
                "`(mm, start, end)` (no range structure)".to_string(),
            )
        };
        out.push(diag(
            file,
            at,
            "E6",
            Severity::Error,
            format!(
                "half-converted tree: `{callback}()`{elsewhere}, the `.{member}` of `struct {}`, \
                 takes {has} but {header} declares `->{member}` with {declared}: convert the \
                 callback with the header",
                rules.range.ops_struct
            ),
        ));
    }
}

/// The parameter list's text of a function definition in `source`.
fn parameters_of(source: &Source, func: Node) -> Option<String> {
    parameter_list(func).map(|p| text(p, &source.src).into_owned())
}

/// The (first) definition of the non-static function `name` in the other
/// checked files.
fn definition_elsewhere<'c>(ctx: &'c Ctx, name: &str) -> Option<(&'c Source, Node<'c>)> {
    ctx.functions.get(name)?.iter().find_map(|(i, start, end)| {
        let source = &ctx.sources[*i];
        Some((source, definition_at(source, *start, *end)?))
    })
}
