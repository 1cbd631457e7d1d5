//! The tree's own bracket API, learnt from the scan's API sites, the
//! header that declares them and the file that implements the `__`
//! functions: where they live, what the range's members are, and every
//! wrapper of the `__` start and end.
//!
//! A `__` function may take parameters beyond the wrappers' (Linux 4.19's
//! `blockable` on the start, 4.15's `only_end` on the end).  What each
//! becomes is read from the `__` function's implementation, never from
//! its name: one it passes on to an ops member (the callbacks get it) is a
//! member of the range; one it passes to no call through the ops stays a
//! parameter after the range.  Anything else is named for review.

use tree_sitter::Node;

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::plan::ReviewItem;
use crate::rewrite::workspace::Workspace;
use crate::scan::ScanReport;
use crate::scan::kernel_c::{declarator_name, text};
use crate::scan::model::{ApiRole, Detail};

use super::params::{param_list, params};
use super::{INNER_END, INNER_START};

/// Where the API is and what its start function takes.
pub struct Api {
    /// The header with the wrappers, the stubs and the ops structure.
    pub header: String,
    /// The file that defines the `__` functions.
    pub implementation: String,
    /// The members of the range structure `(declaration, name)`: the
    /// wrappers' parameters, then each parameter of a `__` function the
    /// callbacks get.
    pub members: Vec<(String, String)>,
    /// The start wrapper's parameters: what the initialiser takes.
    pub wrapper_params: Vec<(String, String)>,
    /// The `__` start and end functions, in that order.
    pub inners: Vec<Inner>,
    /// Every wrapper of the `__` start function the header defines (the
    /// recipe's start wrapper first), as learnt from their bodies.
    pub starts: Vec<Wrapper>,
    /// Every wrapper of the `__` end function (the recipe's end first).
    pub ends: Vec<Wrapper>,
}

/// A `__` function and what its parameters beyond the wrappers' become.
pub struct Inner {
    pub name: &'static str,
    /// Its parameters `(declaration, name)`, as the header declares them.
    pub params: Vec<(String, String)>,
    /// Those that become members of the range (the callbacks get them).
    pub members: Vec<String>,
    /// Those that stay parameters after the range.
    pub kept: Vec<String>,
}

/// A function of the header that calls a `__` function with its own
/// parameters and a constant for each parameter it does not take.
pub struct Wrapper {
    pub name: String,
    /// The `__` function it calls.
    pub inner: &'static str,
    /// What it passes for each member it does not take (`(member,
    /// constant)`, e.g. `blockable`, `false`), which it stores in the
    /// range: empty when it takes every member.  What it passes for a
    /// parameter that stays one is left in its call as it is.
    pub constants: Vec<(String, String)>,
    /// Whether it returns the `__` function's result (an `int` a caller
    /// tests), rather than dropping it.
    pub returns: bool,
}

/// A review item's place and reason, before the file is known.
type Why = (usize, String);

/// The API files the scan found, or why it cannot go on.  Read from the
/// tree as it was scanned, whatever the stages before changed.
pub fn learn(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
) -> Result<Result<Api, ReviewItem>, RewriteError> {
    let (Some(wrapper), Some(definition)) = (
        api_site(report, ApiRole::Wrapper, recipe.range_start),
        api_site(report, ApiRole::Definition, INNER_START),
    ) else {
        return Ok(Err(ReviewItem {
            file: String::new(),
            line: 0,
            reason: format!(
                "the tree's {} wrapper or the definition of {INNER_START}() was not found: \
                 nothing to convert, or an API of a shape this recipe does not know",
                recipe.range_start
            ),
        }));
    };
    if let Err(item) = one_header(report, recipe) {
        return Ok(Err(item));
    }
    let header = wrapper.file.clone();
    let src = read_as_scanned(ws, &header)?;
    let tree = crate::scan::kernel_c::parse(&src);
    let at_header = |(line, reason): Why| ReviewItem {
        file: header.clone(),
        line,
        reason,
    };
    let start_params = inner_params(&tree, &src, INNER_START);
    let wrapper_params = named(&tree, &src, "function_definition", recipe.range_start)
        .and_then(param_list)
        .map(|l| params(l, &src));
    let (Some(start_params), Some(wrapper_params)) = (start_params, wrapper_params) else {
        return Ok(Err(at_header((
            wrapper.line,
            format!(
                "cannot read the parameters of {INNER_START}() or {}()",
                recipe.range_start
            ),
        ))));
    };
    let converted =
        matches!(start_params.as_slice(), [(decl, _)] if decl.contains(super::RANGE_STRUCT));
    let mut inners = Vec::new();
    for name in [INNER_START, INNER_END] {
        let Some(ps) = inner_params(&tree, &src, name) else {
            return Ok(Err(at_header((
                1,
                format!(
                    "the header declares no {name}(): an API of a shape this recipe does not know"
                ),
            ))));
        };
        let inner = Inner {
            name,
            members: Vec::new(),
            kept: Vec::new(),
            params: ps,
        };
        let read = if converted {
            // The range is the one member: what follows stays a parameter.
            Ok(Inner {
                kept: inner
                    .params
                    .iter()
                    .skip(1)
                    .map(|(_, n)| n.clone())
                    .collect(),
                ..inner
            })
        } else {
            classify(ws, report, recipe, &header, &src, &wrapper_params, inner)?
        };
        match read {
            Ok(inner) => inners.push(inner),
            Err(item) => return Ok(Err(item)),
        }
    }
    let members = if converted {
        start_params
    } else {
        structure_members(&wrapper_params, &inners)
    };
    let wrappers =
        |inner: &Inner, main: &str| wrappers_of(&tree, &src, recipe, inner, &wrapper_params, main);
    let starts = match wrappers(&inners[0], recipe.range_start) {
        Ok(w) => w,
        Err(why) => return Ok(Err(at_header(why))),
    };
    let ends = match wrappers(&inners[1], recipe.range_end) {
        Ok(w) => w,
        Err(why) => return Ok(Err(at_header(why))),
    };
    Ok(Ok(Api {
        header,
        implementation: definition.file.clone(),
        members,
        wrapper_params,
        inners,
        starts,
        ends,
    }))
}

/// The scan's API site of `name` in `role`.
fn api_site<'r>(
    report: &'r ScanReport,
    role: ApiRole,
    name: &str,
) -> Option<&'r crate::scan::model::Site> {
    report.of_kind("api").find(
        |s| matches!(&s.detail, Detail::Api { role: r, name: n, .. } if *r == role && n == name),
    )
}

/// A file as the tree was scanned: earlier stages of this recipe change
/// the workspace's copy.
fn read_as_scanned(ws: &Workspace, path: &str) -> Result<Vec<u8>, RewriteError> {
    let full = ws.root().join(path);
    std::fs::read(&full).map_err(|source| RewriteError::Io { path: full, source })
}

/// The first definition or declaration of `kind` named `name`.
fn named<'t>(
    tree: &'t crate::scan::kernel_c::Parsed,
    src: &[u8],
    kind: &str,
    name: &str,
) -> Option<Node<'t>> {
    tree.descendants_of_kind(kind)
        .into_iter()
        .find(|d| declarator_name(*d).is_some_and(|n| text(n, src) == name))
}

/// The parameters of the `__` function `name`, as the header declares
/// (or defines) it.
fn inner_params(
    tree: &crate::scan::kernel_c::Parsed,
    src: &[u8],
    name: &str,
) -> Option<Vec<(String, String)>> {
    named(tree, src, "declaration", name)
        .or_else(|| named(tree, src, "function_definition", name))
        .and_then(param_list)
        .map(|l| params(l, src))
}

/// The wrappers' parameters, then each `__` function's parameters that
/// become members (once each, the start's first).
fn structure_members(
    wrapper_params: &[(String, String)],
    inners: &[Inner],
) -> Vec<(String, String)> {
    let mut members = wrapper_params.to_vec();
    for inner in inners {
        for p in inner
            .params
            .iter()
            .filter(|(_, n)| inner.members.contains(n))
        {
            if !members.iter().any(|(_, n)| *n == p.1) {
                members.push(p.clone());
            }
        }
    }
    members
}

/// What becomes of the parameters of `inner` beyond the wrappers', read
/// from its implementation; or why that cannot be told.
fn classify(
    ws: &Workspace,
    report: &ScanReport,
    recipe: &Recipe,
    header: &str,
    header_src: &[u8],
    wrapper_params: &[(String, String)],
    mut inner: Inner,
) -> Result<Result<Inner, ReviewItem>, RewriteError> {
    let name = inner.name;
    let ps = &inner.params;
    if ps.len() == wrapper_params.len() {
        return Ok(Ok(inner));
    }
    let declared = named_line(header_src, name);
    if !ps.starts_with(wrapper_params) {
        return Ok(Err(ReviewItem {
            file: header.to_string(),
            line: declared,
            reason: format!(
                "{name}() takes ({}): the wrappers' parameters ({}) are not the first of them",
                names(ps),
                names(wrapper_params)
            ),
        }));
    }
    let extras: Vec<String> = ps[wrapper_params.len()..]
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    let unknown = |file: &str, line: usize, why: String| {
        Ok(Err(ReviewItem {
            file: file.to_string(),
            line,
            reason: format!(
                "{name}() takes ({}) where the wrappers take ({}), and whether {} a member of \
                 the range or a parameter of its own cannot be told: {why}; convert the API \
                 by hand",
                names(ps),
                names(wrapper_params),
                crate::words::noun(
                    extras.len(),
                    &format!("`{}` is", extras.join("`, `")),
                    &format!("`{}` are", extras.join("`, `"))
                ),
            ),
        }))
    };
    let Some(site) = api_site(report, ApiRole::Definition, name) else {
        return unknown(header, declared, "its definition was not found".into());
    };
    let src = read_as_scanned(ws, &site.file)?;
    let tree = crate::scan::kernel_c::parse(&src);
    let Some(def) = named(&tree, &src, "function_definition", name) else {
        return unknown(&site.file, site.line, "its definition was not found".into());
    };
    let line = super::line_of(&src, def.start_byte());
    let own: Vec<String> = param_list(def)
        .map(|l| params(l, &src))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let declared_names: Vec<String> = ps.iter().map(|(_, n)| n.clone()).collect();
    if own != declared_names {
        return unknown(
            &site.file,
            line,
            format!("its definition takes ({})", own.join(", ")),
        );
    }
    for extra in extras.clone() {
        match passed_to_ops(def, &src, recipe, &extra) {
            Ok(true) => inner.members.push(extra),
            Ok(false) => inner.kept.push(extra),
            Err(why) => return unknown(&site.file, line, why),
        }
    }
    Ok(Ok(inner))
}

/// The line of the header's first declaration or definition of `name`.
fn named_line(src: &[u8], name: &str) -> usize {
    let tree = crate::scan::kernel_c::parse(src);
    named(&tree, src, "declaration", name)
        .or_else(|| named(&tree, src, "function_definition", name))
        .map_or(1, |n| super::line_of(src, n.start_byte()))
}

/// Whether the definition `def` passes its parameter `param` on to an
/// ops member (as an argument of its own in a call through one): then
/// the callbacks get it.  It is passed to no call through a pointer
/// member at all: it stays the function's own.  Anything else (passed
/// within an expression, or to another function pointer) cannot be told.
fn passed_to_ops(def: Node, src: &[u8], recipe: &Recipe, param: &str) -> Result<bool, String> {
    let through: Vec<(Node, String)> =
        crate::rewrite::syntax::descendants(def, &["call_expression"])
            .into_iter()
            .filter_map(|c| {
                let f = c
                    .child_by_field_name("function")
                    .filter(|f| f.kind() == "field_expression")?;
                let member = f.child_by_field_name("field")?;
                Some((c, text(member, src).into_owned()))
            })
            .collect();
    if !through.iter().any(|(_, m)| recipe.is_ops_member(m)) {
        return Err("its definition calls no ops member".into());
    }
    let mut passed = false;
    for (call, member) in &through {
        for arg in crate::scan::kernel_c::call_args(*call, src) {
            let arg = arg.trim();
            let mentions = arg
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == param);
            if !mentions {
                continue;
            }
            if arg != param {
                return Err(format!("it passes `{arg}` to ->{member}()"));
            }
            if !recipe.is_ops_member(member) {
                return Err(format!(
                    "it passes `{param}` to ->{member}(), whose signature this recipe does not \
                     change"
                ));
            }
            passed = true;
        }
    }
    Ok(passed)
}

/// One header defines the start wrapper, or which ones do: the tree's
/// build decides, which is not known here.
fn one_header(report: &ScanReport, recipe: &Recipe) -> Result<(), ReviewItem> {
    let mut headers: Vec<&str> = report
        .of_kind("api")
        .filter(|s| {
            matches!(&s.detail, Detail::Api { role: ApiRole::Wrapper, name, .. } if name == recipe.range_start)
        })
        .map(|s| s.file.as_str())
        .collect();
    headers.sort_unstable();
    headers.dedup();
    if headers.len() > 1 {
        return Err(ReviewItem {
            file: String::new(),
            line: 0,
            reason: format!(
                "{} headers define the {}() wrapper ({}): which one the tree builds with is \
                 not known here; scan the kernel tree itself",
                headers.len(),
                recipe.range_start,
                headers.join(", ")
            ),
        });
    }
    Ok(())
}

/// The calls of the `__` function `inner` in `def`.
pub fn calls_inner<'t>(def: Node<'t>, src: &[u8], inner: &str) -> Vec<Node<'t>> {
    crate::rewrite::syntax::descendants(def, &["call_expression"])
        .into_iter()
        .filter(|c| {
            c.child_by_field_name("function")
                .is_some_and(|f| text(f, src) == inner)
        })
        .collect()
}

/// Every function of the header that calls the `__` function of `inner`,
/// read as a [`Wrapper`] (`main`, the recipe's wrapper, first), or the
/// line of the first one that cannot be read and why: a wrapper is never
/// guessed.
fn wrappers_of(
    tree: &crate::scan::kernel_c::Parsed,
    src: &[u8],
    recipe: &Recipe,
    inner: &Inner,
    wrapper_params: &[(String, String)],
    main: &str,
) -> Result<Vec<Wrapper>, Why> {
    let mut found: Vec<Wrapper> = Vec::new();
    let mut main_line = 1;
    for def in tree.descendants_of_kind("function_definition") {
        let name = declarator_name(def)
            .map(|n| text(n, src).into_owned())
            .unwrap_or_default();
        let line = super::line_of(src, def.start_byte());
        if name == main {
            main_line = line;
        }
        if calls_inner(def, src, inner.name).is_empty() {
            continue;
        }
        let read = read_wrapper(src, recipe, def, &name, inner, wrapper_params)
            .map_err(|why| (line, format!("{name}() calls {}(): {why}", inner.name)))?;
        if found.iter().any(|s| s.name == read.name) {
            return Err((
                line,
                format!("{name}() is defined twice with a call of {}()", inner.name),
            ));
        }
        found.push(read);
    }
    let Some(at) = found.iter().position(|s| s.name == main) else {
        return Err((
            main_line,
            format!(
                "{main}() does not call {}(): an API of a shape this recipe does not know",
                inner.name
            ),
        ));
    };
    found.swap(0, at);
    Ok(found)
}

/// One wrapper of a `__` function: the recipe must list it (the scan sees
/// calls of the API's functions only), it takes what the recipe's start
/// wrapper takes, and its one call of the `__` function passes those
/// through as they are and a literal for each other parameter.  When
/// some of those are members, the call is a statement of its own (void)
/// or the value it returns (int), in its body or under a brace-less `if`
/// without `else`, where their constants are stored.
fn read_wrapper(
    src: &[u8],
    recipe: &Recipe,
    def: Node,
    name: &str,
    inner: &Inner,
    wrapper_params: &[(String, String)],
) -> Result<Wrapper, String> {
    if !recipe.is_api_function(name) {
        return Err(format!(
            "the recipe does not list {name}() among the API's functions, so the scan did not \
             see its callers"
        ));
    }
    let own = param_list(def).map(|l| params(l, src)).unwrap_or_default();
    if own != wrapper_params {
        return Err(format!(
            "it takes ({}) where {}() takes ({})",
            names(&own),
            recipe.range_start,
            names(wrapper_params)
        ));
    }
    let [call] = calls_inner(def, src, inner.name)[..] else {
        return Err("it calls it more than once".into());
    };
    let statement = inner_statement(call);
    let returns = statement.is_some_and(|s| s.kind() == "return_statement");
    // Where it stores its constants, when there are any.
    let stores = !inner.members.is_empty();
    if stores && statement.is_none() {
        return Err("the call is neither a statement of its own nor the value returned".into());
    }
    if stores && store_site(call, src).is_none() {
        return Err(
            "the call is not on lines of its own, in the body or under a brace-less `if` \
             without `else`"
                .into(),
        );
    }
    let args = crate::scan::kernel_c::call_args(call, src);
    let through: Vec<String> = wrapper_params.iter().map(|(_, n)| n.clone()).collect();
    let passed: Vec<String> = args.iter().map(|a| a.trim().to_string()).collect();
    if passed.len() != inner.params.len() || !passed.starts_with(&through) {
        return Err(format!(
            "it passes ({}), not its own parameters ({}) and a constant for each other \
             parameter of ({})",
            passed.join(", "),
            names(wrapper_params),
            names(&inner.params)
        ));
    }
    let mut constants = Vec::new();
    for ((_, param), value) in inner.params[through.len()..]
        .iter()
        .zip(&passed[through.len()..])
    {
        let literal = matches!(value.as_str(), "true" | "false")
            || value.chars().all(|c| c.is_ascii_alphanumeric())
                && value.starts_with(|c: char| c.is_ascii_digit());
        if !literal {
            return Err(format!("it passes `{value}` for `{param}`, not a constant"));
        }
        if inner.members.contains(param) {
            constants.push((param.clone(), value.clone()));
        }
    }
    Ok(Wrapper {
        name: name.to_string(),
        inner: inner.name,
        constants,
        returns,
    })
}

/// The statement that makes the call of the `__` start function: the
/// call as a statement, or `return call;`.
pub fn inner_statement(call: tree_sitter::Node) -> Option<tree_sitter::Node> {
    let stmt = call.parent()?;
    matches!(stmt.kind(), "expression_statement" | "return_statement").then_some(stmt)
}

/// Where a wrapper stores its constants, right before its call of the `__`
/// function: the call's statement (on lines of its own), and the
/// brace-less `if` it is the body of (which gets braces), if any.
pub fn store_site<'t>(
    call: tree_sitter::Node<'t>,
    src: &[u8],
) -> Option<(tree_sitter::Node<'t>, Option<tree_sitter::Node<'t>>)> {
    let stmt = inner_statement(call)?;
    let blank = |b: &[u8]| b.iter().all(u8::is_ascii_whitespace);
    let before = &src[crate::rewrite::text::line_start(src, stmt.start_byte())..stmt.start_byte()];
    let after = &src[stmt.end_byte()..crate::rewrite::text::line_end(src, stmt.end_byte())];
    if !blank(before) || !blank(after) {
        return None;
    }
    let parent = stmt.parent()?;
    match parent.kind() {
        "compound_statement" => Some((stmt, None)),
        "if_statement"
            if parent.child_by_field_name("alternative").is_none()
                && parent
                    .child_by_field_name("consequence")
                    .is_some_and(|c| c.id() == stmt.id()) =>
        {
            Some((stmt, Some(parent)))
        }
        _ => None,
    }
}

/// The parameters' names, `a, b, c`.
pub fn names(ps: &[(String, String)]) -> String {
    ps.iter()
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Api {
    /// Whether the tree's `__` start function already takes the range
    /// structure: the callers' flag day is behind it.
    pub fn takes_range(&self) -> bool {
        matches!(self.members.as_slice(), [(decl, _)] if decl.contains(super::RANGE_STRUCT))
    }

    /// The wrapper of the `__` start function called `name`.
    pub fn start(&self, name: &str) -> Option<&Wrapper> {
        self.starts.iter().find(|s| s.name == name)
    }

    /// The wrapper of the `__` end function called `name`.
    pub fn end(&self, name: &str) -> Option<&Wrapper> {
        self.ends.iter().find(|s| s.name == name)
    }

    /// The `__` function called `name`.
    pub fn inner(&self, name: &str) -> Option<&Inner> {
        self.inners.iter().find(|i| i.name == name)
    }

    /// The members' names, in order: what the callbacks' parameters after
    /// the notifier stand for.
    pub fn member_names(&self) -> Vec<String> {
        self.members.iter().map(|(_, n)| n.clone()).collect()
    }
}

/// [`learn`], with what keeps it from learning the API put on the review
/// list.
pub fn learn_or_review(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Option<Api>, RewriteError> {
    Ok(match learn(ws, recipe, report)? {
        Ok(api) => Some(api),
        Err(item) => {
            review.push(item);
            None
        }
    })
}
