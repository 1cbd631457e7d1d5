//! `kseries rewrite`: the migration as a plan of change units.
//!
//! The plan is computed stage by stage on a [`workspace::Workspace`] that
//! holds each file as it is after the units before: callers, callbacks,
//! KVM, API.  Every stage re-parses what it edits; positions from the scan
//! are only used to find sites in files no earlier unit touched.

pub(crate) mod api;
pub mod apply;
mod behaviour;
pub(crate) mod callbacks;
pub(crate) mod callers;
mod effects;
pub(crate) mod kvm;
pub mod plan;
pub(crate) mod removal;
pub mod rule;
pub mod scope;
pub(crate) mod syntax;
pub mod text;
pub mod workspace;

use std::path::{Path, PathBuf};

pub use apply::{ApplyReport, apply};
pub use plan::{ChangeUnit, Edit, FileEdit, Plan, ReviewItem, Stage};
pub use scope::Scope;

use crate::recipe::Recipe;
use crate::scan::ScanReport;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `--apply` failed at a rename: what became of the files renamed
    /// before it.
    #[error("{path}: {source}; {aftermath}")]
    ApplyFailed {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        aftermath: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    NotClean(String),
    #[error("{0}")]
    Git(#[from] crate::git::GitError),
}

/// Why a stage leaves one shape to a human (the reason goes to the plan's
/// review list), or the error that stops the whole rewrite.
pub(crate) enum Refusal {
    Review(String),
    Io(RewriteError),
}

impl Refusal {
    /// A reason becomes a review item at `file:line`; an error stops.
    pub(crate) fn review_or_stop(
        self,
        review: &mut Vec<plan::ReviewItem>,
        file: &str,
        line: usize,
    ) -> Result<(), RewriteError> {
        match self {
            Refusal::Review(reason) => {
                review.push(plan::ReviewItem {
                    file: file.to_string(),
                    line,
                    reason,
                });
                Ok(())
            }
            Refusal::Io(e) => Err(e),
        }
    }
}

impl From<String> for Refusal {
    fn from(s: String) -> Refusal {
        Refusal::Review(s)
    }
}

impl From<&str> for Refusal {
    fn from(s: &str) -> Refusal {
        Refusal::Review(s.to_string())
    }
}

impl From<RewriteError> for Refusal {
    fn from(e: RewriteError) -> Refusal {
        Refusal::Io(e)
    }
}

/// Computes the whole migration for the scanned tree: the recipe's rules
/// in order (see [`rule::run`] for what waits for review), then each
/// unit's behaviour notes.
pub fn plan(root: &Path, report: &ScanReport, recipe: &Recipe) -> Result<Plan, RewriteError> {
    let mut ws = workspace::Workspace::new(root);
    let mut review = Vec::new();
    let rules = (recipe.rules)();
    let mut units = rule::run(&rules, &mut ws, recipe, report, &mut review)?;
    behaviour::name_changes(root, &mut units, recipe)?;
    Ok(Plan {
        recipe: recipe.id.to_string(),
        tree: root.display().to_string(),
        units,
        needs_review: review,
    })
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
                let bytes = std::fs::read(&full).map_err(|source| RewriteError::Io {
                    path: full.clone(),
                    source,
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
