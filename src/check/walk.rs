//! The byte prefilter for `check`: the scan's walk, where a file is a
//! candidate when it contains any of several needles.

use std::path::Path;

use super::CheckError;
use crate::scan::walk::{MAX_PARSE_BYTES, walk_sources};

pub struct Walked {
    pub files_walked: usize,
    /// `(relative path, contents)`, sorted by path.
    pub candidates: Vec<(String, Vec<u8>)>,
}

/// Reads every regular `*.c`/`*.h` file under `root` (no symlinks) and
/// keeps those containing one of `needles`.  Files too large to parse are
/// left out, as in `scan`.
pub fn walk(root: &Path, needles: &[&str]) -> Result<Walked, CheckError> {
    let finders: Vec<memchr::memmem::Finder> = needles
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    let walked = walk_sources(root, |src| {
        let hit = src.len() <= MAX_PARSE_BYTES && finders.iter().any(|f| f.find(src).is_some());
        hit.then(Vec::new)
    })?;
    Ok(Walked {
        files_walked: walked.files.len(),
        candidates: walked
            .candidates
            .into_iter()
            .map(|c| (c.rel, c.src))
            .collect(),
    })
}
