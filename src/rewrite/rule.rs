//! A recipe's rewrite rules and the engine loop that runs them.
//!
//! A recipe owns its strategy as a list of [`Rule`]s, one per stage of its
//! series, in bisectable order.  The engine runs them on one
//! [`Workspace`], and keeps back every rule that waits for stages whose
//! uses are left for review: removing what a use still needs would break
//! the build or silently change behaviour.

use super::RewriteError;
use super::plan::{ChangeUnit, ReviewItem};
use super::workspace::Workspace;
use crate::recipe::{ApiFate, Recipe};
use crate::scan::ScanReport;

/// When a rule may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Always (a rule that converts uses one by one).
    Never,
    /// Only when the scan left nothing undecided and the rules of these
    /// stages left nothing for review.
    For(&'static [&'static str]),
    /// Only when nothing at all is left for review before it.
    ForAll,
}

/// One stage of a recipe's rewrite.
pub trait Rule {
    /// The stage of the units it makes (one of `Recipe::stages`).
    fn stage(&self) -> &'static str;

    /// When it may run.
    fn wait(&self) -> Wait {
        Wait::Never
    }

    /// What stays in the tree when the rule is kept back, for the review
    /// list ("the API").
    fn kept(&self) -> &'static str;

    /// The rule's change units, computed on the workspace as the units
    /// before left it.  A shape it cannot prove safe goes to `review` with
    /// its reason, untouched.
    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError>;
}

/// Runs the recipe's rules in order; returns the units, and adds one review
/// item naming what was kept back, if anything was.
pub(super) fn run(
    rules: &[Box<dyn Rule>],
    ws: &mut Workspace,
    recipe: &Recipe,
    report: &ScanReport,
    review: &mut Vec<ReviewItem>,
) -> Result<Vec<ChangeUnit>, RewriteError> {
    let undecided = report.of_kind("needs-review").count();
    let mut units = Vec::new();
    // Review items per stage, to tell which rules a stage's leftovers hold.
    let mut left_by: Vec<(&'static str, usize)> = Vec::new();
    let mut kept: Vec<&'static str> = Vec::new();
    let mut left_when_kept = 0;
    for rule in rules {
        let blocked = match rule.wait() {
            Wait::Never => 0,
            Wait::For(stages) => {
                undecided
                    + left_by
                        .iter()
                        .filter(|(s, _)| stages.contains(s))
                        .map(|(_, n)| n)
                        .sum::<usize>()
            }
            Wait::ForAll => undecided + review.len(),
        };
        if blocked > 0 {
            if kept.is_empty() {
                left_when_kept = review.len() + undecided;
            }
            kept.push(rule.kept());
            continue;
        }
        let before = review.len();
        units.extend(rule.convert(ws, recipe, report, review)?);
        left_by.push((rule.stage(), review.len() - before));
    }
    if !kept.is_empty() {
        review.push(gate(&kept, left_when_kept, recipe.api_fate));
    }
    Ok(units)
}

/// A note that later stages waited because of what is left for review.
fn gate(kept: &[&str], left: usize, fate: ApiFate) -> ReviewItem {
    let what = match kept {
        [one] => format!("{one} is"),
        [init @ .., last] => format!("{} and {last} are", init.join(", ")),
        [] => unreachable!("a gate names what it kept"),
    };
    if fate == ApiFate::Reshaped {
        return ReviewItem {
            file: String::new(),
            line: 0,
            reason: format!(
                "{what} kept: {} of the API above {} left for review, and changing the API \
                 under {} would not build; convert {} first, then re-run",
                crate::words::count(left, "use", "uses"),
                crate::words::noun(left, "is", "are"),
                crate::words::noun(left, "it", "them"),
                crate::words::noun(left, "it", "those")
            ),
        };
    }
    ReviewItem {
        file: String::new(),
        line: 0,
        reason: format!(
            "{what} kept: {} of the API above {} left for review, and removing what {} still \
             need{} would break or silently change {}; convert {} first, then re-run",
            crate::words::count(left, "use", "uses"),
            crate::words::noun(left, "is", "are"),
            crate::words::noun(left, "it", "they"),
            crate::words::noun(left, "s", ""),
            crate::words::noun(left, "it", "them"),
            crate::words::noun(left, "it", "those")
        ),
    }
}
