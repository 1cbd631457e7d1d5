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
    Ok(Ok(Api {
        header,
        implementation: definition.file.clone(),
        members,
        wrapper_params,
    }))
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
