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

use super::INNER_START;
use super::params::{param_list, params};

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
    /// What the start wrapper passes for each member it does not take
    /// (`(member, constant)`, e.g. a `blockable` flag): empty when the
    /// wrapper takes every member.
    pub constants: Vec<(String, String)>,
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
        return Ok(Err(ReviewItem {
            file: String::new(),
            line: 0,
            reason: format!(
                "{} headers define the {}() wrapper ({}): which one the tree builds with is \
                 not known here; scan the kernel tree itself",
                headers.len(),
                recipe.range_start,
                headers.join(", ")
            ),
        }));
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
    let wrapper_def = named("function_definition", recipe.range_start);
    let (Some(members), Some(wrapper_params), Some(wrapper_def)) =
        (members, wrapper_params, wrapper_def)
    else {
        return Ok(Err(ReviewItem {
            file: header.clone(),
            line: wrapper.line,
            reason: format!(
                "cannot read the parameters of {INNER_START}() or {}()",
                recipe.range_start
            ),
        }));
    };
    let constants = match constants(&tree, &src, recipe, wrapper_def, &members, &wrapper_params) {
        Ok(c) => c,
        Err(why) => {
            return Ok(Err(ReviewItem {
                file: header.clone(),
                line: wrapper.line,
                reason: why,
            }));
        }
    };
    Ok(Ok(Api {
        header,
        implementation: definition.file.clone(),
        members,
        wrapper_params,
        constants,
    }))
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

/// The members the start wrapper does not take, with the constant it
/// passes for each to the `__` start function.  The wrapper's parameters
/// must be the first members, its one call of the `__` function must pass
/// them through as they are and a literal for each of the others, and no
/// other function of the header may call the `__` function (a second
/// wrapper with another constant is not converted yet).
fn constants(
    tree: &crate::scan::kernel_c::Parsed,
    src: &[u8],
    recipe: &Recipe,
    wrapper: tree_sitter::Node,
    members: &[(String, String)],
    wrapper_params: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    if members.len() == wrapper_params.len() {
        return Ok(Vec::new());
    }
    let names = |ps: &[(String, String)]| {
        ps.iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let why = |what: &str| {
        format!(
            "{INNER_START}() takes ({}) but {}() takes ({}): {what}",
            names(members),
            recipe.range_start,
            names(wrapper_params)
        )
    };
    if !members.starts_with(wrapper_params) {
        return Err(why(
            "the wrapper's parameters are not the first of the members",
        ));
    }
    let others: Vec<String> = tree
        .descendants_of_kind("function_definition")
        .into_iter()
        .filter(|d| d.id() != wrapper.id() && !calls_inner(*d, src).is_empty())
        .filter_map(|d| declarator_name(d).map(|n| text(n, src).into_owned()))
        .collect();
    if !others.is_empty() {
        return Err(why(&format!(
            "{}() also calls it, and a second wrapper of the start is not converted by \
             this recipe yet",
            others.join("(), ")
        )));
    }
    let [call] = calls_inner(wrapper, src)[..] else {
        return Err(why("the wrapper does not call it exactly once"));
    };
    let args = crate::scan::kernel_c::call_args(call, src);
    let through: Vec<String> = wrapper_params.iter().map(|(_, n)| n.clone()).collect();
    let passed: Vec<String> = args.iter().map(|a| a.trim().to_string()).collect();
    if passed.len() != members.len() || !passed.starts_with(&through) {
        return Err(why(&format!(
            "the wrapper calls it with ({}), not its own parameters and a constant for each \
             other member",
            passed.join(", ")
        )));
    }
    let mut out = Vec::new();
    for ((_, member), value) in members[through.len()..]
        .iter()
        .zip(&passed[through.len()..])
    {
        let literal = matches!(value.as_str(), "true" | "false")
            || value.chars().all(|c| c.is_ascii_alphanumeric())
                && value.starts_with(|c: char| c.is_ascii_digit());
        if !literal {
            return Err(why(&format!(
                "the wrapper passes `{value}` for `{member}`, not a constant"
            )));
        }
        out.push((member.clone(), value.clone()));
    }
    Ok(out)
}

impl Api {
    /// Whether the tree's `__` start function already takes the range
    /// structure: the callers' flag day is behind it.
    pub fn takes_range(&self) -> bool {
        matches!(self.members.as_slice(), [(decl, _)] if decl.contains(super::RANGE_STRUCT))
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
