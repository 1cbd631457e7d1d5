//! The migration plan: what `rewrite` computes and `series` consumes.
//!
//! Plain serde data.  A plan is a list of change units in series order;
//! each unit is one future commit: its stage, its subsystem, the edits to
//! its files (byte ranges on the file as it is *before this unit*, i.e.
//! after every earlier unit has been applied), and a rationale a reviewer
//! can read.

use serde::{Deserialize, Serialize};

/// The whole migration for one tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub recipe: String,
    /// The tree the plan was computed for, as given.
    pub tree: String,
    /// Change units, in the order they must be applied (and committed).
    pub units: Vec<ChangeUnit>,
    /// What the rules could not handle safely, left untouched.
    pub needs_review: Vec<ReviewItem>,
}

/// A stage of a recipe's series (`callers`, `api` ...).  The recipe names
/// its stages and their bisectable order (`Recipe::stages`); a plan stores
/// the name, so plans of every recipe share one type and one JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stage(pub String);

impl Stage {
    pub fn new(name: &str) -> Stage {
        Stage(name.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One future commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeUnit {
    pub stage: Stage,
    /// Where it belongs (`mm`, `drivers/iommu` ...).
    pub subsystem: String,
    /// A one-line summary of the change, without subject prefix
    /// (e.g. "remove the unused callback").
    pub summary: String,
    /// The commit message's own paragraphs: what changes and why, for a
    /// reader of `git log` (no file positions, no tool output).  Empty in
    /// plans written before it existed; `series` then uses the stage's
    /// text from the recipe.
    #[serde(default)]
    pub description: Vec<String>,
    /// Why each edit is safe: what was found, what evidence, with file
    /// positions.  One paragraph per entry, plain text; `series` puts it
    /// below the `---` of the patch, where `git am` drops it.
    pub rationale: Vec<String>,
    /// Things a reviewer must look at (a callback converted, not removed).
    pub review_notes: Vec<String>,
    pub files: Vec<FileEdit>,
}

/// The edits to one file within one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    /// Path relative to the tree, `/`-separated.
    pub path: String,
    /// Git blob id (`git hash-object`) of the content the edits apply to,
    /// so a stale plan is refused instead of misapplied.
    pub base_blob: String,
    /// Non-overlapping byte-range replacements, sorted by `start`.
    pub edits: Vec<Edit>,
}

/// Replace `[start, end)` of the file with `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Something the rules left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// `file:line: reason`, or the reason alone for a note about the whole
/// plan (no file).
impl std::fmt::Display for ReviewItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{path}: the plan was made for blob {expected}, the file is now {found}: re-run rewrite"
    )]
    Stale {
        path: String,
        expected: String,
        found: String,
    },
    #[error("{path}: edit {start}..{end} is out of bounds or overlaps the previous edit")]
    BadEdit {
        path: String,
        start: usize,
        end: usize,
    },
}

impl FileEdit {
    /// Applies the edits to `original` (which must be the base blob).
    pub fn apply(&self, original: &[u8]) -> Result<Vec<u8>, ApplyError> {
        let found = git_blob_id(original);
        if found != self.base_blob {
            return Err(ApplyError::Stale {
                path: self.path.clone(),
                expected: self.base_blob.clone(),
                found,
            });
        }
        let mut out = Vec::with_capacity(original.len() + 256);
        let mut pos = 0;
        for e in &self.edits {
            if e.start < pos || e.end < e.start || e.end > original.len() {
                return Err(ApplyError::BadEdit {
                    path: self.path.clone(),
                    start: e.start,
                    end: e.end,
                });
            }
            out.extend_from_slice(&original[pos..e.start]);
            out.extend_from_slice(e.text.as_bytes());
            pos = e.end;
        }
        out.extend_from_slice(&original[pos..]);
        Ok(out)
    }
}

/// The id git gives a blob with this content (SHA-1 of `blob <len>\0...`).
pub fn git_blob_id(content: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn apply_replaces_ranges_and_refuses_stale_input() {
        let orig = b"abc def ghi\n";
        let fe = FileEdit {
            path: "x.c".into(),
            base_blob: git_blob_id(orig),
            edits: vec![Edit {
                start: 4,
                end: 7,
                text: "DEF!".into(),
            }],
        };
        assert_eq!(fe.apply(orig).unwrap(), b"abc DEF! ghi\n");
        assert!(matches!(
            fe.apply(b"changed\n"),
            Err(ApplyError::Stale { .. })
        ));
    }
}
