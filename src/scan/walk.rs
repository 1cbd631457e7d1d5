//! The tree walk and the byte prefilter.
//!
//! Reading every `*.c`/`*.h` file is cheap (about 0.2 s warm for the whole
//! kernel on 2 threads); parsing them all is not (about 40 s).  So the
//! walk reads every file, finds the needle with a SIMD byte search, and
//! only files that contain it go on to the parser.

use ignore::WalkState;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// What the walk found.
pub struct Walked {
    /// Every regular `*.c`/`*.h` file, sorted.
    pub files: Vec<PathBuf>,
    /// Those that contain the needle, sorted by path.
    pub candidates: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
}

/// Walks `root` for `*.c` and `*.h` files on every core, reading each one
/// as soon as it is found and keeping those that contain `needle`.
///
/// Symlinks are not followed (a symlinked file is recorded as skipped, so
/// loops cannot hang us and nothing is counted twice).  An unreadable
/// file is an error: a scan that silently missed a file would lie.
pub fn walk_and_filter(root: &Path, needle: &str) -> Result<Walked, ScanError> {
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    walk_sources(root, |src| {
        let hits: Vec<usize> = finder.find_iter(src).collect();
        (!hits.is_empty()).then_some(hits)
    })
}

/// The walk itself: every regular `*.c`/`*.h` file is read once, and kept
/// as a candidate when `select` returns the offsets that matter in it.
pub fn walk_sources<F>(root: &Path, select: F) -> Result<Walked, ScanError>
where
    F: Fn(&[u8]) -> Option<Vec<usize>> + Sync,
{
    let found = Mutex::new(Walked {
        files: Vec::new(),
        candidates: Vec::new(),
        skipped: Vec::new(),
    });
    let error: Mutex<Option<ScanError>> = Mutex::new(None);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|e| e.file_name() != ".git")
        .build_parallel()
        .run(|| {
            // One read buffer per thread: most files do not match, and
            // reusing the buffer saves allocating the whole tree again.
            let mut buf = Vec::with_capacity(1 << 20);
            let (found, error, select) = (&found, &error, &select);
            Box::new(move |entry| match visit(root, entry, &mut buf, select) {
                Ok(Visit::Nothing) => WalkState::Continue,
                Ok(Visit::File(path, cand)) => {
                    let mut f = found.lock().expect("walk state lock");
                    f.files.push(path);
                    f.candidates.extend(cand);
                    WalkState::Continue
                }
                Ok(Visit::Skipped(s)) => {
                    found.lock().expect("walk state lock").skipped.push(s);
                    WalkState::Continue
                }
                Err(e) => {
                    error.lock().expect("walk error lock").get_or_insert(e);
                    WalkState::Quit
                }
            })
        });
    if let Some(e) = error.into_inner().expect("walk error lock") {
        return Err(e);
    }
    let mut walked = found.into_inner().expect("walk state lock");
    walked.files.sort();
    walked.candidates.sort_by(|a, b| a.rel.cmp(&b.rel));
    walked.skipped.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(walked)
}

enum Visit {
    Nothing,
    File(PathBuf, Option<Candidate>),
    Skipped(Skipped),
}

fn visit(
    root: &Path,
    entry: Result<ignore::DirEntry, ignore::Error>,
    buf: &mut Vec<u8>,
    select: &(dyn Fn(&[u8]) -> Option<Vec<usize>> + Sync),
) -> Result<Visit, ScanError> {
    let entry = entry.map_err(|e| ScanError::Walk(e.to_string()))?;
    let path = entry.path();
    if !is_c_source(path) {
        return Ok(Visit::Nothing);
    }
    let Some(ft) = entry.file_type() else {
        return Ok(Visit::Nothing);
    };
    let skipped = |reason: &str| {
        Visit::Skipped(Skipped {
            file: relative(root, path),
            reason: reason.into(),
        })
    };
    if ft.is_symlink() {
        return Ok(skipped("symbolic link (not followed)"));
    }
    if ft.is_dir() {
        return Ok(Visit::Nothing);
    }
    if !ft.is_file() {
        return Ok(skipped("not a regular file (fifo, socket or device)"));
    }
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(buf))
        .map_err(|e| ScanError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        })?;
    let cand = select(buf).map(|hits| Candidate {
        rel: relative(root, path),
        src: buf.clone(),
        hits,
    });
    Ok(Visit::File(path.to_path_buf(), cand))
}

fn is_c_source(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h"))
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
