//! Stage 4: remove the API itself, last, when nothing uses it any more.

use std::collections::BTreeMap;

use tree_sitter::{Node, Tree};

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::removal::{
    exports, function_definitions, member_declarations, prototypes, remove,
};
use crate::rewrite::rule::{Rule, Wait};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::scan::{ApiRole, Detail, ScanReport};

/// Stage 4: the API itself, when nothing at all is left for review.
pub(super) struct Api;

impl Rule for Api {
    fn stage(&self) -> &'static str {
        super::API
    }

    fn wait(&self) -> Wait {
        Wait::ForAll
    }

    fn kept(&self) -> &'static str {
        "the API"
    }

    /// Removes every part of the API the scan found, each with the
    /// comment that documents it, in one unit.
    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        _review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        let files = api_sites(report);
        if files.is_empty() {
            return Ok(Vec::new());
        }
        // The subsystem of the API's header (else of its first file).
        let subsystem = files
            .keys()
            .find(|f| f.ends_with(".h"))
            .or(files.keys().next())
            .map(|f| crate::scan::walk::subsystem_of(f))
            .unwrap_or_default();
        let mut draft = UnitDraft::new(
            Stage::new(super::API),
            &subsystem,
            &format!("remove the {} API", recipe.ops_member),
        );
        let mut removed = Vec::new();
        let mut parts: Vec<String> = Vec::new();
        for (file, items) in &files {
            let (src, tree) = ws.parsed(file)?;
            // Several sites may find the same node: it goes once.
            let mut done = Vec::new();
            for &(role, name, line) in items {
                for n in api_nodes(&tree, &src, recipe, role, name, line) {
                    if done.contains(&n.id()) {
                        continue;
                    }
                    done.push(n.id());
                    let (a, b) = remove(&mut draft, file, &src, n);
                    removed.push(format!("{file}:{a}-{b} ({} {name})", role_name(role)));
                    let part = part_name(recipe, role, name);
                    if !parts.contains(&part) {
                        parts.push(part);
                    }
                }
            }
        }
        describe(&mut draft, recipe, &parts, &removed);
        Ok(vec![ws.commit(draft)?])
    }
}

/// The API's sites by file: role, name and line of each.
fn api_sites(report: &ScanReport) -> BTreeMap<&str, Vec<(ApiRole, &str, usize)>> {
    let mut files: BTreeMap<&str, Vec<(ApiRole, &str, usize)>> = BTreeMap::new();
    for s in &report.sites {
        if let Detail::Api { role, name, .. } = &s.detail {
            files
                .entry(&s.file)
                .or_default()
                .push((*role, name, s.line));
        }
    }
    files
}

/// The nodes of the parsed file that are the API's part `name` of `role`,
/// scanned at `line`.
fn api_nodes<'t>(
    tree: &'t Tree,
    src: &[u8],
    recipe: &Recipe,
    role: ApiRole,
    name: &str,
    line: usize,
) -> Vec<Node<'t>> {
    match role {
        ApiRole::Member => member_declarations(tree, src, recipe.ops_struct, name),
        ApiRole::Declaration => prototypes(tree, src, name),
        ApiRole::Export => exports(tree, src, name),
        ApiRole::Wrapper | ApiRole::Stub | ApiRole::Definition | ApiRole::InternalUse => {
            // Wrapper and stub share a name: take the one at the
            // scanned line when the file is as scanned.
            let defs = function_definitions(tree, src, name);
            let at_line: Vec<_> = defs
                .iter()
                .copied()
                .filter(|d| {
                    crate::scan::kernel_c::declarator_name(*d)
                        .is_some_and(|n| n.start_position().row + 1 == line)
                })
                .collect();
            if at_line.is_empty() { defs } else { at_line }
        }
    }
}

/// How the commit message names a removed part.
fn part_name(recipe: &Recipe, role: ApiRole, name: &str) -> String {
    match role {
        ApiRole::Member => format!("the ->{name} member of struct {}", recipe.ops_struct),
        ApiRole::Stub => format!("the !{} stub", recipe.api_config),
        _ => format!("{name}()"),
    }
}

/// The commit's description (the `parts` removed) and rationale (where
/// each was, `removed`).
fn describe(draft: &mut UnitDraft, recipe: &Recipe, parts: &[String], removed: &[String]) {
    let parts = crate::rewrite::text::join_and(parts);
    draft.description.push(format!(
        "Now that nothing calls {} and no {} sets ->{}, remove the API: {parts}, with the comments \
         that document them.",
        recipe.api_functions.join("() or ") + "()",
        recipe.ops_struct,
        recipe.ops_member,
    ));
    draft.rationale.push(format!(
        "No caller of {} and no {}.{} callback is left after the previous patches, so the API goes: {}. \
         Each comment that documented a removed part goes with it.",
        recipe.api_functions.join("() or ") + "()",
        recipe.ops_struct,
        recipe.ops_member,
        removed.join("; ")
    ));
}

fn role_name(role: ApiRole) -> &'static str {
    match role {
        ApiRole::Member => "ops member",
        ApiRole::Declaration => "declaration",
        ApiRole::Definition => "definition",
        ApiRole::Wrapper => "wrapper",
        ApiRole::Stub => "stub",
        ApiRole::InternalUse => "use",
        ApiRole::Export => "export",
    }
}
