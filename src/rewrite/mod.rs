//! `kseries rewrite`: the migration as a plan of change units.
//!
//! The plan is computed stage by stage on a [`workspace::Workspace`] that
//! holds each file as it is after the units before: callers, callbacks,
//! KVM, API.  Every stage re-parses what it edits; positions from the scan
//! are only used to find sites in files no earlier unit touched.

mod api;
pub mod apply;
mod behaviour;
mod callbacks;
mod callers;
mod effects;
mod kvm;
pub mod plan;
mod removal;
pub mod scope;
mod syntax;
pub mod text;
mod workspace;

use std::path::{Path, PathBuf};

pub use apply::{ApplyReport, apply};
pub use plan::{ChangeUnit, Edit, FileEdit, Plan, ReviewItem, Stage};
pub use scope::Scope;

use crate::recipe::Recipe;
use crate::scan::ScanReport;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    NotClean(String),
}

/// Computes the whole migration for the scanned tree.
pub fn plan(root: &Path, report: &ScanReport, recipe: &Recipe) -> Result<Plan, RewriteError> {
    let mut ws = workspace::Workspace::new(root);
    let mut review = Vec::new();
    let mut units = Vec::new();
    units.extend(callers::convert(&mut ws, recipe, report, &mut review)?);
    // Callbacks are dead only once no caller is left: while a use of the
    // API waits for review, removing what it calls would lose work.
    let undecided = report.of_kind("needs-review").count();
    if review.is_empty() && undecided == 0 {
        units.extend(callbacks::convert(&mut ws, recipe, report, &mut review)?);
        units.extend(kvm::convert(&mut ws, recipe, report, &mut review)?);
        if review.is_empty() {
            units.extend(api::remove_api(&mut ws, recipe, report)?);
        } else {
            review.push(gate("the API is kept", review.len()));
        }
    } else {
        review.push(gate(
            "callbacks, KVM hooks and the API are kept",
            review.len() + undecided,
        ));
    }
    behaviour::name_changes(root, &mut units, recipe)?;
    Ok(Plan {
        recipe: recipe.id.to_string(),
        tree: root.display().to_string(),
        units,
        needs_review: review,
    })
}

/// A note that later stages waited because of what is left for review.
fn gate(what: &str, left: usize) -> ReviewItem {
    ReviewItem {
        file: String::new(),
        line: 0,
        reason: format!(
            "{what}: {} of the API above {} left for review, and removing what {} still \
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

/// Each touched file's original and final content, in path order.
pub type Outcome = std::collections::BTreeMap<String, (Vec<u8>, Vec<u8>)>;

/// Applies the whole plan to the tree's files in memory.
pub fn outcome(root: &Path, plan: &Plan) -> Result<Outcome, RewriteError> {
    let mut out = Outcome::new();
    for unit in &plan.units {
        for fe in &unit.files {
            if !out.contains_key(&fe.path) {
                let full = root.join(&fe.path);
                let bytes = std::fs::read(&full).map_err(|e| RewriteError::Io {
                    path: full.clone(),
                    reason: e.to_string(),
                })?;
                out.insert(fe.path.clone(), (bytes.clone(), bytes));
            }
            let entry = out.get_mut(&fe.path).expect("inserted above");
            entry.1 = fe
                .apply(&entry.1)
                .map_err(|e| RewriteError::Stale(e.to_string()))?;
        }
    }
    Ok(out)
}

/// The plan as one unified diff, `git diff` style, with the files' exact
/// bytes (a Latin-1 comment stays Latin-1, so `git apply` takes it).
pub fn unified_diff(outcome: &Outcome) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, (old, new)) in outcome {
        let diff = similar::TextDiff::from_lines(old.as_slice(), new.as_slice());
        let udiff = diff.unified_diff();
        let mut hunks = udiff.iter_hunks().peekable();
        if hunks.peek().is_none() {
            continue;
        }
        out.extend_from_slice(
            format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n").as_bytes(),
        );
        for hunk in hunks {
            hunk.to_writer(&mut out).expect("writing to memory");
        }
    }
    out
}
