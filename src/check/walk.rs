//! The byte prefilter for `check`: the scan's walk, where a file is a
//! candidate when it contains any of several needles.

use std::path::Path;

use super::CheckError;
use crate::scan::walk::{MAX_PARSE_BYTES, walk_sources};

pub struct Walked {
    pub files_walked: usize,
    /// `(relative path, contents)`, sorted by path.
    pub candidates: Vec<(String, Vec<u8>)>,
    /// Files that contain a needle but are too large to parse, as in
    /// `scan`: the rules cannot run on them, and the check says so.
    pub too_large: Vec<String>,
}

/// Reads every regular `*.c`/`*.h` file under `root` (no symlinks) and
/// keeps those containing one of `needles`.
pub fn walk(root: &Path, needles: &[&str]) -> Result<Walked, CheckError> {
    let finders: Vec<memchr::memmem::Finder> = needles
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    let walked = walk_sources(root, |src| {
        let hit = finders.iter().any(|f| f.find(src).is_some());
        hit.then(Vec::new)
    })?;
    let (candidates, too_large): (Vec<_>, Vec<_>) = walked
        .candidates
        .into_iter()
        .partition(|c| c.src.len() <= MAX_PARSE_BYTES);
    Ok(Walked {
        files_walked: walked.files.len(),
        candidates: candidates.into_iter().map(|c| (c.rel, c.src)).collect(),
        too_large: too_large.into_iter().map(|c| c.rel).collect(),
    })
}
