//! Behaviour the plan changes on purpose, named where it changes.
//!
//! Opening the bracket before a walk changes what the walk sees: once
//! `invalidate_range_start` has run, a secondary MMU that drops its
//! mappings there (KVM) has nothing left to report, so an accessed-bit
//! test inside the bracket no longer sees its accessed bit.  That is
//! `check`'s W2.  Each unit's files are linted as they are before and
//! after the unit; a W2 the unit introduces is named in its rationale and
//! in its review notes (and so in the cover letter's review list).

use std::collections::BTreeMap;
use std::path::Path;

use super::RewriteError;
use super::plan::ChangeUnit;
use crate::check::{Diagnostic, check_source};
use crate::recipe::Recipe;

/// Adds to each unit the accessed-bit tests it moves into a bracket.
pub fn name_changes(
    root: &Path,
    units: &mut [ChangeUnit],
    recipe: &Recipe,
) -> Result<(), RewriteError> {
    let mut current: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for unit in units.iter_mut() {
        let mut found: Vec<(String, Diagnostic)> = Vec::new();
        for fe in &unit.files {
            let before = match current.get(&fe.path) {
                Some(b) => b.clone(),
                None => {
                    let full = root.join(&fe.path);
                    std::fs::read(&full).map_err(|e| RewriteError::Io {
                        path: full.clone(),
                        reason: e.to_string(),
                    })?
                }
            };
            let after = fe
                .apply(&before)
                .map_err(|e| RewriteError::Internal(e.to_string()))?;
            if fe.path.ends_with(".c") || fe.path.ends_with(".h") {
                let old = young_tests(&fe.path, &before, recipe);
                for d in young_tests(&fe.path, &after, recipe) {
                    let seen = old
                        .iter()
                        .any(|o| o.function == d.function && callee(o) == callee(&d));
                    if !seen {
                        found.push((fe.path.clone(), d));
                    }
                }
            }
            current.insert(fe.path.clone(), after);
        }
        for (path, d) in found {
            let function = d.function.clone().unwrap_or_default();
            let call = callee(&d);
            unit.rationale.push(format!(
                "{path}: {function}() now calls {call}() inside the {}()/{}() bracket. A secondary MMU \
                 that drops its mappings in invalidate_range_start (KVM) has already done so when \
                 {call}() asks whether the page was recently used, so its accessed bit is no longer \
                 seen: reclaim may take a page a guest is using for an idle one. This is a change of \
                 behaviour that bracketing the walk brings, not an accident.",
                recipe.range_start, recipe.range_end
            ));
            unit.review_notes.push(format!(
                "{path}: in {function}(), {call}() now runs inside the bracket, so secondary MMUs' \
                 accessed bits are no longer seen there (reclaim behaviour changes)."
            ));
        }
    }
    Ok(())
}

fn young_tests(rel: &str, src: &[u8], recipe: &Recipe) -> Vec<Diagnostic> {
    check_source(rel, src, recipe)
        .into_iter()
        .filter(|d| d.code == "W2")
        .collect()
}

/// The accessed-bit test a W2 is about (its message starts with it).
fn callee(d: &Diagnostic) -> String {
    d.message
        .trim_start_matches('`')
        .split('(')
        .next()
        .unwrap_or_default()
        .to_string()
}
