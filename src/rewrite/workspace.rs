//! The files a plan is being computed on, as they are after every unit
//! computed so far, and the edits of the unit being computed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::scan::kernel_c::Parsed;

use super::RewriteError;
use super::plan::{ChangeUnit, Edit, FileEdit, Stage, git_blob_id};
use crate::scan::kernel_c;

/// Current contents of the files touched so far.  A clone keeps the files
/// as they are now, for a rule that compares its units with what was
/// there before them ([`super::behaviour::introduced`]).
#[derive(Clone)]
pub struct Workspace {
    root: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl Workspace {
    pub fn new(root: &Path) -> Workspace {
        Workspace {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    /// The tree the plan is computed for.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current content of `path` (read from the tree the first time).
    pub fn content(&mut self, path: &str) -> Result<&[u8], RewriteError> {
        if !self.files.contains_key(path) {
            let full = self.root.join(path);
            let bytes = std::fs::read(&full).map_err(|source| RewriteError::Io {
                path: full.clone(),
                source,
            })?;
            self.files.insert(path.to_string(), bytes);
        }
        Ok(&self.files[path])
    }

    /// Content and syntax tree of `path`.
    pub fn parsed(&mut self, path: &str) -> Result<(Vec<u8>, Parsed), RewriteError> {
        let src = self.content(path)?.to_vec();
        let tree = kernel_c::parse(&src);
        Ok((src, tree))
    }

    /// Turns the collected edits into a change unit and applies them, so
    /// that the next unit sees the result.
    pub fn commit(&mut self, draft: UnitDraft) -> Result<ChangeUnit, RewriteError> {
        let mut files = Vec::new();
        for (path, mut edits) in draft.edits {
            edits.sort_by_key(|e| (e.start, e.end));
            let original = self.content(&path)?.to_vec();
            let fe = FileEdit {
                path: path.clone(),
                base_blob: git_blob_id(&original),
                edits,
            };
            let new = fe
                .apply(&original)
                .map_err(|e| RewriteError::Internal(e.to_string()))?;
            self.files.insert(path, new);
            files.push(fe);
        }
        Ok(ChangeUnit {
            stage: draft.stage,
            subsystem: draft.subsystem,
            summary: draft.summary,
            description: draft.description,
            rationale: draft.rationale,
            review_notes: draft.review_notes,
            files,
        })
    }
}

/// A change unit being computed: edits against the workspace's current
/// content of each file.
pub struct UnitDraft {
    pub stage: Stage,
    pub subsystem: String,
    pub summary: String,
    pub description: Vec<String>,
    pub rationale: Vec<String>,
    pub review_notes: Vec<String>,
    pub edits: BTreeMap<String, Vec<Edit>>,
}

impl UnitDraft {
    pub fn new(stage: Stage, subsystem: &str, summary: &str) -> UnitDraft {
        UnitDraft {
            stage,
            subsystem: subsystem.to_string(),
            summary: summary.to_string(),
            description: Vec::new(),
            rationale: Vec::new(),
            review_notes: Vec::new(),
            edits: BTreeMap::new(),
        }
    }

    pub fn replace(&mut self, path: &str, start: usize, end: usize, text: impl Into<String>) {
        self.edits.entry(path.to_string()).or_default().push(Edit {
            start,
            end,
            text: text.into(),
        });
    }

    pub fn insert(&mut self, path: &str, at: usize, text: impl Into<String>) {
        self.replace(path, at, at, text);
    }

    pub fn is_empty(&self) -> bool {
        self.edits.values().all(Vec::is_empty)
    }
}
