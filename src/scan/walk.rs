//! The tree walk and the byte prefilter.
//!
//! Reading every `*.c`/`*.h` file is cheap (about 0.2 s warm for the whole
//! kernel on 2 threads); parsing them all is not (about 40 s).  So the
//! walk reads every file, finds the needle with a SIMD byte search, and
//! only files that contain it go on to the parser.

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use super::ScanError;
use super::model::Skipped;

/// Files larger than this are searched but not parsed: their occurrences
/// are reported for review instead (generated tables, not code to edit).
pub const MAX_PARSE_BYTES: usize = 8 << 20;

/// A source file that contains the needle.
pub struct Candidate {
    /// Path relative to the tree root, with `/` separators.
    pub rel: String,
    pub src: Vec<u8>,
    /// Byte offsets of every occurrence of the needle.
    pub hits: Vec<usize>,
}

/// Walks `root` for `*.c` and `*.h` files, without following symlinks
/// (a symlinked file is recorded as skipped, so loops cannot hang us and
/// nothing is counted twice).
pub fn list_sources(root: &Path) -> Result<(Vec<PathBuf>, Vec<Skipped>), ScanError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| ScanError::Walk(e.to_string()))?;
        let path = entry.path();
        if !is_c_source(path) {
            continue;
        }
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_symlink() {
            skipped.push(Skipped {
                file: relative(root, path),
                reason: "symbolic link (not followed)".into(),
            });
        } else if ft.is_file() {
            files.push(path.to_path_buf());
        } else if !ft.is_dir() {
            skipped.push(Skipped {
                file: relative(root, path),
                reason: "not a regular file (fifo, socket or device)".into(),
            });
        }
    }
    files.sort();
    Ok((files, skipped))
}

fn is_c_source(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h"))
}

/// Reads every file and keeps those containing `needle`.  An unreadable
/// file is an error: a scan that silently missed a file would lie.
pub fn prefilter(
    root: &Path,
    files: &[PathBuf],
    needle: &str,
) -> Result<Vec<Candidate>, ScanError> {
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let found: Result<Vec<Option<Candidate>>, ScanError> = files
        .par_iter()
        .map(|path| {
            let src = std::fs::read(path).map_err(|e| ScanError::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let hits: Vec<usize> = finder.find_iter(&src).collect();
            Ok((!hits.is_empty()).then(|| Candidate {
                rel: relative(root, path),
                src,
                hits,
            }))
        })
        .collect();
    Ok(found?.into_iter().flatten().collect())
}

/// `path` relative to `root`, with `/` separators.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The subsystem a file belongs to: its first two directories (`mm`,
/// `drivers/iommu`, `arch/x86`), which is how the series is cut too.
pub fn subsystem_of(rel: &str) -> String {
    let dirs: Vec<&str> = rel.split('/').collect();
    match dirs.len() {
        0 | 1 => ".".into(),
        2 => dirs[0].into(),
        _ => format!("{}/{}", dirs[0], dirs[1]),
    }
}
