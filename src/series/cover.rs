//! The cover letter's own text, kept with the branch.
//!
//! Like `b4 prep --edit-cover`, the user edits the cover letter and the
//! edit stays with the branch: kseries saves the text it writes as the
//! branch description (`branch.<name>.description`, which `git branch
//! --edit-description` edits and `git format-patch
//! --cover-from-description` reads), with a hash of what it wrote.  On the
//! next run a description that no longer matches the hash is the user's,
//! and is used as it is; an untouched one is written anew.  A version N+1
//! on a new branch takes the user's text of `--previous-branch`.

use git2::Repository;
use sha1::{Digest, Sha1};

use super::{CoverSource, SeriesError, SeriesOptions};

/// The cover letter's subject (after `[PATCH 00/NN]`) and blurb.
#[derive(Debug, Clone)]
pub(crate) struct CoverText {
    pub title: String,
    pub body: String,
    pub source: CoverSource,
}

fn description_key(branch: &str) -> String {
    format!("branch.{branch}.description")
}

fn hash_key(branch: &str) -> String {
    format!("branch.{branch}.kseries-cover-sha")
}

fn sha(text: &str) -> String {
    let mut h = Sha1::new();
    h.update(text.trim().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `title`, a blank line, `body`.
fn join(title: &str, body: &str) -> String {
    format!("{}\n\n{}\n", title.trim(), body.trim())
}

/// The first line is the title, the rest (after blank lines) the body.
fn split(text: &str) -> (String, String) {
    let text = text.trim();
    let (title, body) = text.split_once('\n').unwrap_or((text, ""));
    (title.trim().to_string(), body.trim().to_string())
}

/// The branch's description when the user wrote or edited it (it does not
/// match what kseries last saved there).
fn edited_description(repo: &Repository, branch: &str) -> Result<Option<String>, SeriesError> {
    let cfg = repo.config()?.snapshot()?;
    let Ok(text) = cfg.get_string(&description_key(branch)) else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let saved = cfg.get_string(&hash_key(branch)).ok();
    Ok((saved.as_deref() != Some(sha(&text).as_str())).then_some(text))
}

/// The cover text of this run: `--cover-letter FILE`, else the user's
/// branch description (of this branch, else of the previous version's),
/// else `generated`.  `--title` replaces the title of any of them.  It is
/// saved as the branch description by [`config_entries`], when the series
/// is installed.
pub(crate) fn choose(
    repo: &Repository,
    opts: &SeriesOptions,
    generated: (&str, &str),
) -> Result<CoverText, SeriesError> {
    let from_file = match &opts.cover_letter {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| SeriesError::Io {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let mut edited = edited_description(repo, &opts.branch)?;
    if edited.is_none()
        && let Some(prev) = &opts.previous_branch
    {
        edited = edited_description(repo, prev)?;
    }
    let (text, source) = match (from_file, edited) {
        (Some(t), _) => (t, CoverSource::File),
        (None, Some(t)) => (t, CoverSource::BranchDescription),
        (None, None) => (join(generated.0, generated.1), CoverSource::Generated),
    };
    let (mut title, body) = split(&text);
    if let Some(t) = &opts.title {
        title = t.clone();
    }
    if title.is_empty() {
        title = generated.0.to_string();
    }
    Ok(CoverText {
        title,
        body,
        source,
    })
}

/// The config entries that keep `cover` with `branch` (`None` removes
/// one): the description, and the hash that marks kseries' own text.  The
/// user's text is never mistaken for kseries' own next time.
pub(crate) fn config_entries(branch: &str, cover: &CoverText) -> Vec<(String, Option<String>)> {
    let saved = join(&cover.title, &cover.body);
    let hash = (cover.source == CoverSource::Generated).then(|| sha(&saved));
    vec![
        (description_key(branch), Some(saved)),
        (hash_key(branch), hash),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_body() {
        assert_eq!(
            split("\n  mm: do it \n\nBody.\n\nMore.\n"),
            ("mm: do it".to_string(), "Body.\n\nMore.".to_string())
        );
        assert_eq!(split("Only a title"), ("Only a title".into(), "".into()));
        assert_eq!(sha("a\n"), sha("a"));
    }
}
