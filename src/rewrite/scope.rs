//! `rewrite PATH` where PATH is part of a larger work tree.
//!
//! Removing an API, a callback or a hook is a decision about the whole
//! tree: code outside PATH may still use them.  So the whole work tree is
//! scanned and planned, and only the units that lie inside PATH are kept:
//! every caller unit inside PATH, and a unit of a later stage only when
//! every unit of the stages before it is kept too (a callback may go only
//! once no caller is left anywhere).  The rest is listed, not dropped
//! silently.

use std::path::{Path, PathBuf};

use super::RewriteError;
use super::plan::{ChangeUnit, Plan, ReviewItem, Stage};

/// Where a rewrite happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The tree that is scanned and planned: the top of PATH's git work
    /// tree, or PATH itself outside git.
    pub top: PathBuf,
    /// PATH relative to `top`, `/`-separated; `None` when PATH is the top.
    pub within: Option<String>,
}

impl Scope {
    /// The scope of `path`: its git work tree's top if it is inside one.
    pub fn of(path: &Path) -> Result<Scope, RewriteError> {
        let whole = Scope {
            top: path.to_path_buf(),
            within: None,
        };
        if !path.is_dir() {
            // The scan says what is wrong with it.
            return Ok(whole);
        }
        let out = crate::git::Git::new(path)
            .args(["rev-parse", "--show-toplevel"])
            .output()?;
        if !out.status.success() {
            return Ok(whole);
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
        let canonical = |p: &Path| {
            p.canonicalize().map_err(|source| RewriteError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let (top_c, path_c) = (canonical(&top)?, canonical(path)?);
        let Ok(rel) = path_c.strip_prefix(&top_c) else {
            return Ok(whole);
        };
        if rel.as_os_str().is_empty() {
            return Ok(whole);
        }
        let within = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        Ok(Scope {
            top,
            within: Some(within),
        })
    }

    /// Whether `file` (relative to the top) lies inside PATH.
    pub fn contains(&self, file: &str) -> bool {
        match &self.within {
            None => true,
            Some(dir) => file
                .strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }

    /// The plan cut down to the units this scope may apply, and a note for
    /// every unit left out, saying why.
    pub fn restrict(&self, plan: Plan) -> (Plan, Vec<ReviewItem>) {
        let Some(dir) = &self.within else {
            return (plan, Vec::new());
        };
        let Plan {
            recipe,
            tree,
            units,
            needs_review,
        } = plan;
        let mut kept: Vec<ChangeUnit> = Vec::new();
        let mut left = Vec::new();
        // Files an earlier left-out unit edits: later edits to them were
        // computed on top of those and cannot go alone.
        let mut held_files: Vec<String> = Vec::new();
        let mut lost_stage: Option<Stage> = None;
        for (i, unit) in units.into_iter().enumerate() {
            let outside: Vec<&str> = unit
                .files
                .iter()
                .map(|f| f.path.as_str())
                .filter(|p| !self.contains(p))
                .collect();
            let waits_for = unit
                .files
                .iter()
                .find(|f| held_files.contains(&f.path))
                .map(|f| f.path.clone());
            let why = if !outside.is_empty() {
                Some(format!("it changes {} outside {dir}", outside.join(", ")))
            } else if let Some(stage) = lost_stage.as_ref().filter(|s| **s != unit.stage) {
                // Units come in stage order: a stage other than the first
                // one left out is a later one.
                Some(format!(
                    "it may only follow every {stage} unit, and some of those lie outside {dir}"
                ))
            } else {
                waits_for.map(|f| format!("{f} is changed first by a unit outside {dir}"))
            };
            match why {
                None => kept.push(unit),
                Some(why) => {
                    lost_stage.get_or_insert_with(|| unit.stage.clone());
                    held_files.extend(unit.files.iter().map(|f| f.path.clone()));
                    left.push(ReviewItem {
                        file: String::new(),
                        line: 0,
                        reason: format!(
                            "change unit {} ({} stage, {}: {}) is left out: {why}; run rewrite on {} for the whole migration",
                            i + 1,
                            unit.stage,
                            unit.subsystem,
                            unit.summary,
                            self.top.display()
                        ),
                    });
                }
            }
        }
        (
            Plan {
                recipe,
                tree,
                units: kept,
                needs_review,
            },
            left,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::plan::{Edit, FileEdit};

    fn unit(stage: Stage, files: &[&str]) -> ChangeUnit {
        ChangeUnit {
            stage,
            subsystem: files[0].rsplit_once('/').map_or("", |(d, _)| d).to_string(),
            summary: "s".into(),
            description: Vec::new(),
            rationale: Vec::new(),
            review_notes: Vec::new(),
            files: files
                .iter()
                .map(|f| FileEdit {
                    path: f.to_string(),
                    base_blob: String::new(),
                    edits: vec![Edit {
                        start: 0,
                        end: 0,
                        text: "x".into(),
                    }],
                })
                .collect(),
        }
    }

    fn subsystems(plan: &Plan) -> Vec<(Stage, String)> {
        plan.units
            .iter()
            .map(|u| (u.stage.clone(), u.files[0].path.clone()))
            .collect()
    }

    #[test]
    fn a_subdirectory_keeps_its_callers_and_nothing_that_removes() {
        let plan = Plan {
            recipe: "r".into(),
            tree: "t".into(),
            units: vec![
                unit(Stage::new("callers"), &["mm/rmap.c"]),
                unit(Stage::new("callers"), &["fs/dax.c"]),
                unit(Stage::new("callbacks"), &["mm/cb.c"]),
                unit(
                    Stage::new("api"),
                    &["mm/mmu_notifier.c", "include/linux/mn.h"],
                ),
            ],
            needs_review: Vec::new(),
        };
        let scope = Scope {
            top: "/t".into(),
            within: Some("mm".into()),
        };
        assert!(scope.contains("mm/rmap.c"));
        assert!(!scope.contains("mmx/rmap.c"));
        let (kept, left) = scope.restrict(plan.clone());
        assert_eq!(
            subsystems(&kept),
            [(Stage::new("callers"), "mm/rmap.c".to_string())]
        );
        assert_eq!(left.len(), 3, "{left:#?}");
        assert!(left[0].reason.contains("fs/dax.c"), "{left:#?}");
        assert!(left[1].reason.contains("callers unit"), "{left:#?}");
        assert!(left[2].reason.contains("include/linux/mn.h"), "{left:#?}");

        // The whole tree: everything.
        let whole = Scope {
            top: "/t".into(),
            within: None,
        };
        assert_eq!(whole.restrict(plan.clone()).0, plan);
    }
}
