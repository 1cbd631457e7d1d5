//! Behaviour a plan changes on purpose, found where it changes.
//!
//! A rule that changes what code runs inside some construct (a bracket it
//! opens, say) may change behaviour that `check` can see: each unit's
//! files are linted as they are before and after the unit, and the
//! diagnostics of one code that the unit brings are handed back to the
//! rule, which knows why they happen and says so in the unit's rationale
//! and review notes.  A diagnostic counts as brought when no diagnostic of
//! the same code was there before it in the same function about the same
//! call.

use std::collections::BTreeMap;

use super::RewriteError;
use super::plan::ChangeUnit;
use super::workspace::Workspace;
use crate::check::{Diagnostic, check_source};
use crate::recipe::Recipe;

/// A diagnostic a unit brings into one of its files.
pub(crate) struct Introduced {
    pub path: String,
    pub diagnostic: Diagnostic,
}

impl Introduced {
    /// The function the diagnostic is in.
    pub(crate) fn function(&self) -> &str {
        self.diagnostic.function.as_deref().unwrap_or_default()
    }

    /// The call the diagnostic is about (its message starts with it).
    pub(crate) fn call(&self) -> String {
        callee(&self.diagnostic)
    }
}

/// For each unit in order, the diagnostics of `code` it brings.  `before`
/// is the workspace as it was before the first of `units`; each unit's
/// edits apply to its files as the units before it left them.
pub(crate) fn introduced(
    mut before: Workspace,
    units: &[ChangeUnit],
    recipe: &Recipe,
    code: &str,
) -> Result<Vec<Vec<Introduced>>, RewriteError> {
    let mut current: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut all = Vec::with_capacity(units.len());
    for unit in units {
        let mut found = Vec::new();
        for fe in &unit.files {
            let old_bytes = match current.get(&fe.path) {
                Some(b) => b.clone(),
                None => before.content(&fe.path)?.to_vec(),
            };
            let new_bytes = fe
                .apply(&old_bytes)
                .map_err(|e| RewriteError::Internal(e.to_string()))?;
            if fe.path.ends_with(".c") || fe.path.ends_with(".h") {
                let old = diagnostics(&fe.path, &old_bytes, recipe, code);
                for d in diagnostics(&fe.path, &new_bytes, recipe, code) {
                    let seen = old
                        .iter()
                        .any(|o| o.function == d.function && callee(o) == callee(&d));
                    if !seen {
                        found.push(Introduced {
                            path: fe.path.clone(),
                            diagnostic: d,
                        });
                    }
                }
            }
            current.insert(fe.path.clone(), new_bytes);
        }
        all.push(found);
    }
    Ok(all)
}

fn diagnostics(rel: &str, src: &[u8], recipe: &Recipe, code: &str) -> Vec<Diagnostic> {
    check_source(rel, src, recipe)
        .into_iter()
        .filter(|d| d.code == code)
        .collect()
}

/// The call a diagnostic is about (its message starts with it).
fn callee(d: &Diagnostic) -> String {
    d.message
        .trim_start_matches('`')
        .split('(')
        .next()
        .unwrap_or_default()
        .to_string()
}
