//! The front half of the pipeline, shared by every entry point: scan the
//! tree, plan the migration, gather what is left for a human, and stop
//! there unless a partial series is accepted (the review gate).
//!
//! `kseries series` (without `--plan`) and the bot's runner both call
//! [`migrate`]; `kseries rewrite` and `kseries scan` use its parts
//! ([`scan_and_plan`], [`scan_tree`]) because they print before they
//! judge.
//!
//! Invariant: the plan a [`Migration`] carries lists in `needs_review`
//! everything left for a human, the sites the scan could not decide first,
//! then what the rewrite rules refused, so every cover letter cut from it
//! (the command line's and the bot's) names the same items, and the count
//! its verification paragraph gives is the length of that list.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::recipe::Recipe;
use crate::rewrite::{Plan, ReviewItem, RewriteError};
use crate::scan::{Detail, ScanError, ScanReport};
use crate::series::{Verification, VerificationItem};
use crate::words::count;

/// Why the pipeline stopped before a series could be cut.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// A walk that found no C source was given the wrong directory.
    #[error(
        "no kernel source in {}: it holds no C files (*.c, *.h); give the top of a kernel tree",
        .0.display()
    )]
    NoSource(PathBuf),
    /// The review gate: uses were left for review and a partial series
    /// was not accepted.  Each line is a [`review_line`].
    #[error(
        "{} left for review, so the series would be partial:\n{}\n(--allow-partial cuts it anyway)",
        count(.0.len(), "site is", "sites are"),
        .0.join("\n")
    )]
    Partial(Vec<String>),
}

/// Whether a series may leave uses of the API for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Refuse with [`PipelineError::Partial`] (the command line's default).
    RefusePartial,
    /// Cut what can be cut, and list the rest in the cover letter.
    AllowPartial,
}

/// The tree scanned and planned, before any judgement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    pub scan: ScanReport,
    /// The plan as `rewrite::plan` made it (its `needs_review` holds only
    /// what the rules refused).
    pub plan: Plan,
}

impl Planned {
    /// Everything left for a human: what the scan could not decide, then
    /// what the rewrite rules refused (with their notes about the plan as
    /// a whole, which have no file).
    pub fn left_for_review(&self) -> Vec<ReviewItem> {
        let from_scan = self.scan.sites.iter().filter_map(|s| match &s.detail {
            Detail::NeedsReview { reason } => Some(ReviewItem {
                file: s.file.clone(),
                line: s.line,
                reason: reason.clone(),
            }),
            _ => None,
        });
        from_scan
            .chain(self.plan.needs_review.iter().cloned())
            .collect()
    }
}

/// What the series stage needs from the earlier ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// The plan; `needs_review` lists everything left for a human (see the
    /// module's invariant).
    pub plan: Plan,
    /// What the scan and the rewrite verified, for the cover letter.
    pub verification: Verification,
}

/// Scans `tree`, refusing a directory without C source.
pub fn scan_tree(tree: &Path, recipe: &Recipe) -> Result<ScanReport, PipelineError> {
    let report = crate::scan::scan(tree, recipe)?;
    if report.summary.files_walked == 0 {
        return Err(PipelineError::NoSource(tree.to_path_buf()));
    }
    Ok(report)
}

/// Scans `tree` and plans the whole migration on it.
pub fn scan_and_plan(tree: &Path, recipe: &Recipe) -> Result<Planned, PipelineError> {
    let scan = scan_tree(tree, recipe)?;
    let plan = crate::rewrite::plan(tree, &scan, recipe)?;
    Ok(Planned { scan, plan })
}

/// scan → plan → review gate: the plan to cut into a series and what was
/// verified on the way.
pub fn migrate(tree: &Path, recipe: &Recipe, gate: Gate) -> Result<Migration, PipelineError> {
    let planned = scan_and_plan(tree, recipe)?;
    let review = planned.left_for_review();
    if !review.is_empty() && gate == Gate::RefusePartial {
        return Err(PipelineError::Partial(
            review.iter().map(review_line).collect(),
        ));
    }
    let verification = verification(&planned.scan, recipe, review.len());
    let mut plan = planned.plan;
    plan.needs_review = review;
    Ok(Migration { plan, verification })
}

/// `file:line: needs-review: reason`, or `kseries: needs-review: reason`
/// for a note about the plan as a whole.
pub fn review_line(item: &ReviewItem) -> String {
    if item.file.is_empty() {
        format!("kseries: needs-review: {}", item.reason)
    } else {
        format!("{}:{}: needs-review: {}", item.file, item.line, item.reason)
    }
}

/// The cover letter's account of the scan and the rewrite.
fn verification(scan: &ScanReport, recipe: &Recipe, left: usize) -> Verification {
    let s = &scan.summary;
    let occurrences = count(s.occurrences, "occurrence", "occurrences");
    let scanned = if s.accounted {
        format!(
            "each of the {occurrences} of {} is accounted for",
            recipe.needle
        )
    } else {
        format!(
            "{occurrences} of {} in the tree; NOT all accounted for",
            recipe.needle
        )
    };
    let rewritten = if left == 0 {
        "every use of the API is converted, none left for review".to_string()
    } else {
        format!(
            "{} left for review (listed below)",
            count(left, "use is", "uses are")
        )
    };
    Verification {
        items: vec![
            VerificationItem {
                tool: "kseries scan".into(),
                outcome: scanned,
            },
            VerificationItem {
                tool: "kseries rewrite".into(),
                outcome: rewritten,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_line_names_its_place_or_says_it_is_about_the_plan() {
        let at = ReviewItem {
            file: "mm/a.c".into(),
            line: 7,
            reason: "macro".into(),
        };
        assert_eq!(review_line(&at), "mm/a.c:7: needs-review: macro");
        let whole = ReviewItem {
            file: String::new(),
            line: 0,
            reason: "the API is kept".into(),
        };
        assert_eq!(
            review_line(&whole),
            "kseries: needs-review: the API is kept"
        );
    }
}
