//! `kseries scan`: a semantic inventory of an API's uses in a tree.
//!
//! walk (every `*.c`/`*.h`) → byte prefilter (files with the needle) →
//! parse those with tree-sitter-c → classify every occurrence → resolve
//! callbacks → [`ScanReport`].  Every textual occurrence ends up in exactly
//! one site, and the summary proves it.

mod callbacks;
mod classify;
mod ctypes;
pub mod kernel_c;
pub mod locks;
mod macros;
pub mod model;
pub mod ptl;
pub mod render;
pub mod walk;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use model::{ApiRole, Detail, HookRole, Loc, LockHelper, ScanReport, Site, Summary};
pub use render::render_table;

use crate::recipe::Recipe;
use classify::{Classifier, Draft, ParsedFile};

/// Why a scan could not run.  Each says what and where.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: not a directory (scan takes the top of a source tree)")]
    NotADirectory(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("walking the tree: {0}")]
    Walk(String),
}

/// Scans the tree at `root` for every use of `recipe`'s API.
pub fn scan(root: &Path, recipe: &Recipe) -> Result<ScanReport, ScanError> {
    check_root(root)?;
    let walk::Walked {
        files,
        candidates,
        skipped,
    } = walk::walk_and_filter(root, recipe.needle)?;
    let occurrences = candidates.iter().map(|c| c.hits.len()).sum();
    let candidate_files = candidates.len();
    let mut parsed: Vec<ParsedFile> = candidates
        .into_par_iter()
        .map(|c| {
            let tree = (c.src.len() <= walk::MAX_PARSE_BYTES).then(|| kernel_c::parse(&c.src));
            ParsedFile::new(c.rel, c.src, c.hits, tree)
        })
        .collect();
    let structs = parsed
        .par_iter()
        .filter_map(|p| {
            let mut t = ctypes::StructTable::default();
            for root in p.tree.as_ref()?.roots() {
                t.add_file(root, &p.src);
            }
            Some(t)
        })
        .reduce(ctypes::StructTable::default, |mut a, b| {
            a.merge(b);
            a
        });
    let wanted = locks::wanted(&parsed, recipe);
    let lock_helpers = locks::learn(root, &files, &parsed, recipe, wanted)?;
    let locks = locks::Locks::new(recipe, &lock_helpers);
    let classifier = Classifier {
        recipe,
        structs: &structs,
        locks: &locks,
    };
    let mut facts: Vec<_> = parsed
        .par_iter()
        .map(|p| classifier.first_pass(p))
        .collect();
    callbacks::resolve(root, &files, &mut parsed, &mut facts)?;
    macros::resolve(root, &files, &mut parsed, &mut facts, &locks)?;
    let sites = into_sites(facts.into_iter().flat_map(|f| f.drafts));
    let summary = summarise(&sites, files.len(), candidate_files, occurrences, skipped);
    Ok(ScanReport {
        tree: root.display().to_string(),
        recipe: recipe.id.to_string(),
        sites,
        summary,
        lock_helpers,
    })
}

fn check_root(root: &Path) -> Result<(), ScanError> {
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ScanError::Missing(root.to_path_buf()),
        _ => ScanError::Unreadable {
            path: root.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_dir() {
        return Err(ScanError::NotADirectory(root.to_path_buf()));
    }
    std::fs::read_dir(root).map_err(|e| ScanError::Unreadable {
        path: root.to_path_buf(),
        source: e,
    })?;
    Ok(())
}

fn into_sites(drafts: impl Iterator<Item = Draft>) -> Vec<Site> {
    let mut sites: Vec<Site> = drafts
        .map(|d| Site {
            subsystem: walk::subsystem_of(&d.loc.file),
            file: d.loc.file,
            line: d.loc.line,
            column: d.loc.column,
            end_line: d.end_line,
            function: d.function,
            occurrences: d.occurrences,
            detail: d.detail,
        })
        .collect();
    sites.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    sites
}

fn summarise(
    sites: &[Site],
    files_walked: usize,
    candidate_files: usize,
    occurrences: usize,
    skipped: Vec<model::Skipped>,
) -> Summary {
    let mut summary = Summary {
        files_walked,
        candidate_files,
        occurrences,
        skipped,
        ..Default::default()
    };
    for kind in model::KINDS {
        summary.sites.insert(kind.to_string(), 0);
        summary.occurrences_by_kind.insert(kind.to_string(), 0);
    }
    for s in sites {
        *summary
            .sites
            .get_mut(s.detail.kind())
            .expect("every kind listed") += 1;
        *summary
            .occurrences_by_kind
            .get_mut(s.detail.kind())
            .expect("every kind listed") += s.occurrences;
    }
    summary.accounted = summary.occurrences_by_kind.values().sum::<usize>() == occurrences;
    summary
}
