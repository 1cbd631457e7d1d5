//! Behaviour the callers' brackets change on purpose, named where it
//! changes.
//!
//! Opening the bracket before a walk changes what the walk sees: once
//! `invalidate_range_start` has run, a secondary MMU that drops its
//! mappings there (KVM) has nothing left to report, so an accessed-bit
//! test inside the bracket no longer sees its accessed bit.  That is
//! `check`'s W2.  A W2 a callers unit brings is named in its rationale and
//! in its review notes (and so in the cover letter's review list).

use crate::recipe::Recipe;
use crate::rewrite::RewriteError;
use crate::rewrite::behaviour::introduced;
use crate::rewrite::plan::ChangeUnit;
use crate::rewrite::workspace::Workspace;

/// `check`'s code for an accessed-bit test inside a bracket.
const YOUNG_IN_BRACKET: &str = "W2";

/// Adds to each unit the accessed-bit tests it moves into a bracket;
/// `before` is the workspace as it was before the first unit.
pub(super) fn name_young_tests(
    before: Workspace,
    units: &mut [ChangeUnit],
    recipe: &Recipe,
) -> Result<(), RewriteError> {
    let found = introduced(before, units, recipe, YOUNG_IN_BRACKET)?;
    for (unit, found) in units.iter_mut().zip(found) {
        for d in found {
            let (path, function, call) = (&d.path, d.function(), d.call());
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
