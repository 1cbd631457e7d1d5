//! The byte prefilter for `check`: like the scan's walk, but a file is a
//! candidate when it contains any of several needles.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use ignore::WalkState;

use super::CheckError;
use crate::scan::walk::{MAX_PARSE_BYTES, relative};

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
    let found = Mutex::new(Walked {
        files_walked: 0,
        candidates: Vec::new(),
    });
    let error: Mutex<Option<CheckError>> = Mutex::new(None);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|e| e.file_name() != ".git")
        .build_parallel()
        .run(|| {
            let mut buf = Vec::with_capacity(1 << 20);
            let (found, error, finders) = (&found, &error, &finders);
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                let path = entry.path();
                let is_source =
                    matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h"));
                if !is_source || !entry.file_type().is_some_and(|t| t.is_file()) {
                    return WalkState::Continue;
                }
                buf.clear();
                if let Err(e) = std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf))
                {
                    error
                        .lock()
                        .expect("walk error lock")
                        .get_or_insert(CheckError::Unreadable {
                            path: path.to_path_buf(),
                            reason: e.to_string(),
                        });
                    return WalkState::Quit;
                }
                let hit =
                    buf.len() <= MAX_PARSE_BYTES && finders.iter().any(|f| f.find(&buf).is_some());
                let mut f = found.lock().expect("walk state lock");
                f.files_walked += 1;
                if hit {
                    f.candidates.push((relative(root, path), buf.clone()));
                }
                WalkState::Continue
            })
        });
    if let Some(e) = error.into_inner().expect("walk error lock") {
        return Err(e);
    }
    let mut walked = found.into_inner().expect("walk state lock");
    walked.candidates.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(walked)
}
