//! `kseries rewrite`: the migration as a plan of change units.
//!
//! The plan is computed stage by stage on a [`workspace::Workspace`] that
//! holds each file as it is after the units before: callers, callbacks,
//! KVM, API.  Every stage re-parses what it edits; positions from the scan
//! are only used to find sites in files no earlier unit touched.

mod api;
mod behaviour;
mod callbacks;
mod callers;
mod effects;
mod kvm;
pub mod plan;
mod removal;
mod syntax;
pub mod text;
mod workspace;

use std::path::{Path, PathBuf};

pub use plan::{ChangeUnit, Edit, FileEdit, Plan, ReviewItem, Stage};

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
            "{what}: {left} use(s) of the API above are left for review, and removing what they still \
             need would break or silently change them; convert those first, then re-run"
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

/// The plan as one unified diff, `git diff` style.
pub fn unified_diff(outcome: &Outcome) -> String {
    let mut out = String::new();
    for (path, (old, new)) in outcome {
        let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
        let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
        out.push_str(&format!("diff --git a/{path} b/{path}\n"));
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}

/// Writes the outcome into the tree: refuses a tree with uncommitted
/// changes (so `git diff` shows exactly the rewrite and nothing is lost),
/// and writes each file atomically (temporary file, then rename).
pub fn apply(root: &Path, outcome: &Outcome) -> Result<(), RewriteError> {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map_err(|e| RewriteError::Io {
            path: root.to_path_buf(),
            reason: format!("running git: {e}"),
        })?;
    if !status.status.success() {
        return Err(RewriteError::NotClean(format!(
            "{} is not a git work tree (--apply needs one, so the change can be reviewed and undone)",
            root.display()
        )));
    }
    if !status.stdout.is_empty() {
        return Err(RewriteError::NotClean(format!(
            "{} has uncommitted changes; commit or stash them first:\n{}",
            root.display(),
            String::from_utf8_lossy(&status.stdout)
        )));
    }
    for (path, (old, new)) in outcome {
        let full = root.join(path);
        let now = std::fs::read(&full).map_err(|e| RewriteError::Io {
            path: full.clone(),
            reason: e.to_string(),
        })?;
        if &now != old {
            return Err(RewriteError::Stale(format!(
                "{path} changed since the scan: re-run rewrite"
            )));
        }
        write_atomically(&full, new)?;
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RewriteError> {
    let io = |e: std::io::Error| RewriteError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let perms = std::fs::metadata(path).map_err(io)?.permissions();
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.as_file().set_permissions(perms).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
