//! The tree's own bracket API, learnt from the scan's API sites and the
//! header that declares them: where the wrappers and the `__` functions
//! live, and what the `__` start function takes (the range's members).

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
    /// The `__` start function's parameters `(declaration, name)`: the
    /// members of the range structure.
    pub members: Vec<(String, String)>,
    /// The start wrapper's parameters: what the initialiser takes.
    pub wrapper_params: Vec<(String, String)>,
    /// Every wrapper of the `__` start function the header defines (the
    /// recipe's start wrapper first), as learnt from their bodies.
    pub starts: Vec<StartWrapper>,
}

/// A function of the header that calls the `__` start function with its
/// own parameters and a constant for each member it does not take.
pub struct StartWrapper {
    pub name: String,
    /// What it passes for each member it does not take (`(member,
    /// constant)`, e.g. `blockable`, `false`): empty when it takes every
    /// member.
    pub constants: Vec<(String, String)>,
    /// Whether it returns the `__` function's result (an `int` a caller
    /// tests), rather than dropping it.
    pub returns: bool,
}

/// The API files the scan found, or why it cannot go on.  Read from the
/// tree as it was scanned, whatever the stages before changed.
pub fn learn(
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
) -> Result<Result<Api, ReviewItem>, RewriteError> {
    let site = |role: ApiRole, name: &str| {
        report.of_kind("api").find(|s| {
            matches!(&s.detail, Detail::Api { role: r, name: n, .. } if *r == role && n == name)
        })
    };
    let (Some(wrapper), Some(definition)) = (
        site(ApiRole::Wrapper, recipe.range_start),
        site(ApiRole::Definition, INNER_START),
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
    // As the tree was scanned: earlier stages of this recipe change it.
    let full = ws.root().join(&header);
    let src = std::fs::read(&full).map_err(|source| RewriteError::Io { path: full, source })?;
    let tree = crate::scan::kernel_c::parse(&src);
    let named = |kind: &str, name: &str| {
        tree.descendants_of_kind(kind)
            .into_iter()
            .find(|d| declarator_name(*d).is_some_and(|n| text(n, &src) == name))
    };
    let members = named("declaration", INNER_START)
        .or_else(|| named("function_definition", INNER_START))
        .and_then(param_list)
        .map(|l| params(l, &src));
    let wrapper_params = named("function_definition", recipe.range_start)
        .and_then(param_list)
        .map(|l| params(l, &src));
    let (Some(members), Some(wrapper_params)) = (members, wrapper_params) else {
        return Ok(Err(ReviewItem {
            file: header.clone(),
            line: wrapper.line,
            reason: format!(
                "cannot read the parameters of {INNER_START}() or {}()",
                recipe.range_start
            ),
        }));
    };
    if let Some(why) = end_of_its_own(&src, &named, &members, &wrapper_params) {
        return Ok(Err(ReviewItem {
            file: header.clone(),
            line: why.0,
            reason: why.1,
        }));
    }
    let starts = match start_wrappers(&tree, &src, recipe, &members, &wrapper_params, wrapper.line)
    {
        Ok(starts) => starts,
        Err((line, reason)) => {
            return Ok(Err(ReviewItem {
                file: header.clone(),
                line,
                reason,
            }));
        }
    };
    Ok(Ok(Api {
        header,
        implementation: definition.file.clone(),
        members,
        wrapper_params,
        starts,
    }))
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

/// A `__` end function of the old form that takes more than the wrappers
/// (Linux 4.15's `only_end` flag): its line and why it is not converted.
/// Its extra parameter is no member of the range (4.20 kept it as a
/// parameter of its own), so it is never mapped onto one.
fn end_of_its_own<'t>(
    src: &[u8],
    named: &dyn Fn(&str, &str) -> Option<tree_sitter::Node<'t>>,
    members: &[(String, String)],
    wrapper_params: &[(String, String)],
) -> Option<(usize, String)> {
    let already = matches!(members, [(decl, _)] if decl.contains(super::RANGE_STRUCT));
    let end =
        named("declaration", INNER_END).or_else(|| named("function_definition", INNER_END))?;
    let end_params = params(param_list(end)?, src);
    if already || end_params.len() == wrapper_params.len() {
        return None;
    }
    Some((
        super::line_of(src, end.start_byte()),
        format!(
            "{INNER_END}() takes ({}) where the wrappers take ({}): a parameter of the end's \
             own (such as an `only_end` flag) is not converted by this recipe; convert the end \
             by hand",
            names(&end_params),
            names(wrapper_params)
        ),
    ))
}

/// The calls of the `__` start function in `def`.
pub fn calls_inner<'t>(def: tree_sitter::Node<'t>, src: &[u8]) -> Vec<tree_sitter::Node<'t>> {
    crate::rewrite::syntax::descendants(def, &["call_expression"])
        .into_iter()
        .filter(|c| {
            c.child_by_field_name("function")
                .is_some_and(|f| text(f, src) == INNER_START)
        })
        .collect()
}

/// Every function of the header that calls the `__` start function,
/// read as a [`StartWrapper`] (the recipe's start wrapper first), or the
/// line of the first one that cannot be read and why: a wrapper is never
/// guessed.
fn start_wrappers(
    tree: &crate::scan::kernel_c::Parsed,
    src: &[u8],
    recipe: &Recipe,
    members: &[(String, String)],
    wrapper_params: &[(String, String)],
    wrapper_line: usize,
) -> Result<Vec<StartWrapper>, (usize, String)> {
    let mut starts: Vec<StartWrapper> = Vec::new();
    for def in tree.descendants_of_kind("function_definition") {
        if calls_inner(def, src).is_empty() {
            continue;
        }
        let line = super::line_of(src, def.start_byte());
        let name = declarator_name(def)
            .map(|n| text(n, src).into_owned())
            .unwrap_or_default();
        let read = read_wrapper(src, recipe, def, &name, members, wrapper_params)
            .map_err(|why| (line, format!("{name}() calls {INNER_START}(): {why}")))?;
        if starts.iter().any(|s| s.name == read.name) {
            return Err((
                line,
                format!("{name}() is defined twice with a call of {INNER_START}()"),
            ));
        }
        starts.push(read);
    }
    let Some(main) = starts.iter().position(|s| s.name == recipe.range_start) else {
        return Err((
            wrapper_line,
            format!(
                "{}() does not call {INNER_START}(): an API of a shape this recipe does not know",
                recipe.range_start
            ),
        ));
    };
    starts.swap(0, main);
    Ok(starts)
}

/// One wrapper of the `__` start function: the recipe must list it (the
/// scan sees calls of the API's functions only), it takes what the
/// recipe's start wrapper takes, and its one call of the `__` function
/// passes those through as they are and a literal for each other member.
/// When there are such members, the call is a statement of its own (void)
/// or the value it returns (int), in its body or under a brace-less `if`
/// without `else`, where the constants are stored.
fn read_wrapper(
    src: &[u8],
    recipe: &Recipe,
    def: tree_sitter::Node,
    name: &str,
    members: &[(String, String)],
    wrapper_params: &[(String, String)],
) -> Result<StartWrapper, String> {
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
    if members.len() != wrapper_params.len() && !members.starts_with(wrapper_params) {
        return Err(format!(
            "{INNER_START}() takes ({}): the wrapper's parameters ({}) are not the first of \
             them",
            names(members),
            names(wrapper_params)
        ));
    }
    let [call] = calls_inner(def, src)[..] else {
        return Err("it calls it more than once".into());
    };
    let statement = inner_statement(call);
    let returns = statement.is_some_and(|s| s.kind() == "return_statement");
    // Where it stores its constants, when there are any.
    let stores = members.len() != wrapper_params.len();
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
    if passed.len() != members.len() || !passed.starts_with(&through) {
        return Err(format!(
            "it passes ({}), not its own parameters ({}) and a constant for each other member \
             of ({})",
            passed.join(", "),
            names(wrapper_params),
            names(members)
        ));
    }
    let mut constants = Vec::new();
    for ((_, member), value) in members[through.len()..]
        .iter()
        .zip(&passed[through.len()..])
    {
        let literal = matches!(value.as_str(), "true" | "false")
            || value.chars().all(|c| c.is_ascii_alphanumeric())
                && value.starts_with(|c: char| c.is_ascii_digit());
        if !literal {
            return Err(format!(
                "it passes `{value}` for `{member}`, not a constant"
            ));
        }
        constants.push((member.clone(), value.clone()));
    }
    Ok(StartWrapper {
        name: name.to_string(),
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
    pub fn start(&self, name: &str) -> Option<&StartWrapper> {
        self.starts.iter().find(|s| s.name == name)
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
