//! The emails: `git format-patch` itself, then the headers it cannot know.
//!
//! Running git's own formatter is the simplest way to be byte-compatible
//! with it (mbox `From` line, MIME headers for non-ASCII, diffstat, the
//! signature line, `base-commit:`, `--range-diff`).  git2's
//! `Email::from_commit` would have to re-implement the cover letter, the
//! diffstat layout and the range-diff, and its output is not git's byte
//! for byte.  What git cannot know is added afterwards: per-patch To/Cc
//! from MAINTAINERS, stable Message-Ids with threading, the cover letter's
//! subject and text, and b4's `change-id:`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::{Oid, Repository, Sort};
use minijinja::context;
use sha1::{Digest, Sha1};

use rayon::prelude::*;

use super::checkpatch::{self, Checkpatch};
use super::commits::{Built, templates};
use super::cover;
use super::maintainers::Recipients;
use super::recipients;
use super::text;
use super::{
    BuildOutcome, CoverReport, PatchReport, SeriesError, SeriesOptions, SeriesReport, Timings,
    Verification,
};
use crate::date::ymd;
use crate::git::Git;
use crate::rewrite::plan::Plan;

pub(crate) fn write(
    tree: &Path,
    plan: &Plan,
    opts: &SeriesOptions,
    verification: &Verification,
    built: Built,
) -> Result<SeriesReport, SeriesError> {
    let started = Instant::now();
    // Everything is made in a staging directory and in memory first; the
    // branch, its config entries and the files appear together at the end
    // (`install`), or not at all.
    let staging = tempfile::Builder::new()
        .prefix("kseries-series-")
        .tempdir()
        .map_err(|source| SeriesError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let mut staged = Staged::format(tree, &built, opts, staging.path())?;
    let mut warnings = built.warnings.clone();
    staged.notes_below_the_line(plan)?;
    let (mut patches, maintainers_ms) = staged.address_patches(&mut warnings)?;
    let (cover_report, cover) = staged.cover_letter(plan, verification, &patches)?;
    if opts.checkpatch {
        let results: Vec<Result<Checkpatch, SeriesError>> = staged.files[1..]
            .par_iter()
            .map(|f| checkpatch::run(tree, f))
            .collect();
        for (p, r) in patches.iter_mut().zip(results) {
            p.checkpatch = Some(r?);
        }
    }
    staged.install(&cover)?;
    Ok(SeriesReport {
        branch: opts.branch.clone(),
        base: built.base.clone(),
        tip: built.tip.clone(),
        version: staged.version,
        change_id: staged.change_id,
        cover: cover_report,
        patches,
        output_dir: opts.output_dir.clone(),
        mbox: opts.mbox.clone(),
        maintainers: built.finder.name().to_string(),
        warnings,
        timings: Timings {
            commits_ms: built.commits_ms,
            maintainers_ms: built.maintainers_ms + maintainers_ms,
            prefixes_ms: built.prefixes_ms,
            build_check_ms: built.build_check_ms,
            format_ms: started.elapsed().as_millis(),
        },
    })
}

/// The series as `git format-patch` staged it, and what is added to it
/// before it is installed: `texts[0]` is the cover letter, `texts[n]`
/// patch n, each also in `files[n]`.
struct Staged<'a> {
    built: &'a Built,
    opts: &'a SeriesOptions,
    version: u32,
    change_id: String,
    /// `PATCH`, `RFC PATCH` or the given prefix.
    prefix: String,
    /// The Message-IDs' domain: the sender's.
    domain: String,
    /// `--output-dir`, absolute (git ran in the tree).
    out_dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    texts: Vec<Vec<u8>>,
}

impl<'a> Staged<'a> {
    /// Runs `git format-patch` into `staging`.
    fn format(
        tree: &Path,
        built: &'a Built,
        opts: &'a SeriesOptions,
        staging: &Path,
    ) -> Result<Staged<'a>, SeriesError> {
        let version = opts.reroll_count.max(1);
        let change_id = change_id(built, opts)?;
        let prefix = subject_prefix(opts);
        let files = format_patch(tree, built, opts, version, &prefix, staging)?;
        if files.len() != built.commits.len() + 1 {
            return Err(SeriesError::Command(format!(
                "git format-patch wrote {} files for {} commits and a cover letter",
                files.len(),
                built.commits.len()
            )));
        }
        let out_dir = match &opts.output_dir {
            Some(d) => Some(std::path::absolute(d).map_err(|source| SeriesError::Io {
                path: d.clone(),
                source,
            })?),
            None => None,
        };
        let domain = built
            .email
            .rsplit_once('@')
            .map_or("kseries", |(_, d)| d)
            .to_string();
        Ok(Staged {
            built,
            opts,
            version,
            change_id,
            prefix,
            domain,
            out_dir,
            texts: vec![Vec::new(); files.len()],
            files,
        })
    }

    /// The Message-ID of message `n` (0: the cover letter).
    fn message_id(&self, n: usize) -> String {
        message_id(&self.change_id, self.version, n, &self.domain)
    }

    /// Where file `p` ends up, when the patches are written to a directory.
    fn final_path(&self, p: &Path) -> Option<PathBuf> {
        self.out_dir.as_ref().map(|d| d.join(name_of(p)))
    }

    /// The evidence for review goes below each patch's `---`.  The bytes
    /// stay as git wrote them (a Latin-1 line stays Latin-1); the staged
    /// files follow each step, for get_maintainer.pl and checkpatch.pl.
    fn notes_below_the_line(&mut self, plan: &Plan) -> Result<(), SeriesError> {
        let env = templates();
        let units = self.built.commits.iter().zip(&plan.units);
        for (n, (c, u)) in units.enumerate().map(|(i, cu)| (i + 1, cu)) {
            let notes = env.get_template("notes")?.render(context! {
                rationale => u.rationale,
                review_notes => u.review_notes,
                build => c.build_note,
            })?;
            let text = below_the_line(&read(&self.files[n])?, &notes);
            write_file(&self.files[n], &text)?;
            self.texts[n] = text;
        }
        Ok(())
    }

    /// Who gets what: the maintainers of each final patch (the script runs
    /// in parallel, it takes most of a second per patch), the hooks, and
    /// --to/--cc, written into each patch's headers.  The patches' reports
    /// and the time the maintainers took.
    fn address_patches(
        &mut self,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<PatchReport>, u128), SeriesError> {
        let built = self.built;
        let finder = &built.finder;
        let t = Instant::now();
        let found: Vec<Result<(Recipients, Recipients), SeriesError>> = self.files[1..]
            .par_iter()
            .zip(&self.texts[1..])
            .map(|(path, text)| {
                Ok((
                    finder.maintainers(path, &String::from_utf8_lossy(text))?,
                    finder.hooks(path)?,
                ))
            })
            .collect();
        let maintainers_ms = t.elapsed().as_millis();
        let extra = Recipients {
            to: self.opts.to.clone(),
            cc: self.opts.cc.clone(),
        };
        let cover_id = self.message_id(0);
        let mut patches = Vec::new();
        for (i, (c, found)) in built.commits.iter().zip(found).enumerate() {
            let number = i + 1;
            let (auto, hooks) = found?;
            if let Some(trailer) = &c.trailer_recipients
                && trailer.to != auto.to
            {
                warnings.push(format!(
                    "patch {number}: recipients of the final patch differ from those computed for its Cc: trailers"
                ));
            }
            let r = recipients::merge(&[&extra, &auto, &hooks]);
            let id = self.message_id(number);
            let text = add_headers(&self.texts[number], &r, &id, Some(&cover_id));
            write_file(&self.files[number], &text)?;
            self.texts[number] = text;
            patches.push(PatchReport {
                number,
                commit: c.sha.clone(),
                subject: c.subject.clone(),
                prefix_source: c.prefix_source.clone(),
                files: c.files.clone(),
                lists_only: r.to.is_empty() && !r.cc.is_empty(),
                to: r.to,
                cc: r.cc,
                message_id: id,
                file: self.final_path(&self.files[number]),
                build: c.build.clone(),
                checkpatch: None,
            });
        }
        Ok((patches, maintainers_ms))
    }

    /// The cover letter, to everybody any patch goes to: the user's text
    /// or kseries' own, "Changes since" and what waits for review, then
    /// git's shortlog and diffstat.  Its report, and the text chosen (kept
    /// with the branch).
    fn cover_letter(
        &mut self,
        plan: &Plan,
        verification: &Verification,
        patches: &[PatchReport],
    ) -> Result<(CoverReport, cover::CoverText), SeriesError> {
        let built = self.built;
        let lists: Vec<Recipients> = patches
            .iter()
            .map(|p| Recipients {
                to: p.to.clone(),
                cc: p.cc.clone(),
            })
            .collect();
        let all = recipients::merge(&lists.iter().collect::<Vec<_>>());
        let generated = cover_blurb(plan, built, patches, verification)?;
        let cover = cover::choose(
            &built.repo,
            self.opts,
            (built.recipe.messages.title, &generated),
        )?;
        let changes = changes_since(built, self.opts)?;
        let needs_review: Vec<String> = plan.needs_review.iter().map(ToString::to_string).collect();
        let extra_text = templates().get_template("cover-extra")?.render(context! {
            version => self.version,
            changes => changes,
            needs_review => needs_review,
        })?;
        let blurb = if extra_text.trim().is_empty() {
            cover.body.clone()
        } else {
            format!("{}\n\n{}", cover.body.trim_end(), extra_text.trim_end())
        };
        let cover_id = self.message_id(0);
        let cover_path = &self.files[0];
        let cover_mail = fill_cover(&read(cover_path)?, &cover.title, &blurb, &self.change_id);
        let cover_mail = add_headers(&cover_mail, &all, &cover_id, None);
        write_file(cover_path, &cover_mail)?;
        self.texts[0] = cover_mail;
        let report = CoverReport {
            subject: format!(
                "[{}{} {:0w$}/{}] {}",
                self.prefix,
                version_tag(self.version),
                0,
                patches.len(),
                cover.title,
                w = patches.len().to_string().len()
            ),
            to: all.to,
            cc: all.cc,
            message_id: cover_id,
            file: self.final_path(cover_path),
            source: cover.source,
        };
        Ok((report, cover))
    }

    /// The branch, its config entries (the change-id, the cover letter),
    /// the files and the mbox, together.
    fn install(&self, cover: &cover::CoverText) -> Result<(), SeriesError> {
        let named: Vec<(std::ffi::OsString, &[u8])> = self
            .files
            .iter()
            .zip(&self.texts)
            .map(|(f, t)| (name_of(f), t.as_slice()))
            .collect();
        let mut config = vec![(
            // Recorded so that version N+1 (`--previous-branch`) keeps the id,
            // as b4 does: the change-id names the series across versions.
            format!("branch.{}.kseries-change-id", self.opts.branch),
            Some(self.change_id.clone()),
        )];
        config.extend(cover::config_entries(&self.opts.branch, cover));
        install(
            self.built,
            self.opts,
            self.version,
            &config,
            &named,
            &self.texts.concat(),
        )
    }
}

/// The file name of `p`.
fn name_of(p: &Path) -> std::ffi::OsString {
    p.file_name().map(|n| n.to_owned()).unwrap_or_default()
}

/// `PATCH`, `RFC PATCH`, or the user's `--subject-prefix`.
fn subject_prefix(opts: &SeriesOptions) -> String {
    let p = opts.subject_prefix.trim();
    let p = if p.is_empty() { "PATCH" } else { p };
    if opts.rfc {
        format!("RFC {p}")
    } else {
        p.to_string()
    }
}

/// ` v2` for a second version; nothing for the first posting, as git and
/// b4 write it.
fn version_tag(version: u32) -> String {
    if version > 1 {
        format!(" v{version}")
    } else {
        String::new()
    }
}

/// Puts `notes` right after the `---` line that ends the commit message,
/// before the diffstat: `git am` drops what is there.
fn below_the_line(mail: &[u8], notes: &str) -> Vec<u8> {
    let notes = notes.trim_end();
    if notes.is_empty() {
        return mail.to_vec();
    }
    let body = find(mail, b"\n\n").map_or(0, |i| i + 2);
    match find(&mail[body..], b"\n---\n") {
        Some(i) => {
            let at = body + i + b"\n---\n".len();
            [&mail[..at], notes.as_bytes(), b"\n\n", &mail[at..]].concat()
        }
        None => mail.to_vec(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SeriesError> {
    fs::read(path).map_err(|source| SeriesError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A staged file (in kseries' own temporary directory).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SeriesError> {
    fs::write(path, bytes).map_err(|source| SeriesError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The last step: the branch, its config entries (change-id, cover
/// letter), the patch files and the mbox.  If one of them fails, the ones
/// before are undone: a failed run leaves no branch, no config entry and
/// no half-written output.
fn install(
    built: &Built,
    opts: &SeriesOptions,
    version: u32,
    config: &[(String, Option<String>)],
    files: &[(std::ffi::OsString, &[u8])],
    mbox: &[u8],
) -> Result<(), SeriesError> {
    let repo = &built.repo;
    let branch = super::commits::create_branch(repo, opts, &built.tip)?;
    let snapshot = repo.config()?.snapshot()?;
    let previous: Vec<(&str, Option<String>)> = config
        .iter()
        .map(|(k, _)| (k.as_str(), snapshot.get_string(k).ok()))
        .collect();
    let mut written = Written::default();
    let result = set_config(repo, config).and_then(|()| {
        if let Some(dir) = &opts.output_dir {
            write_output(dir, version, opts.force, files, &mut written)?;
        }
        if let Some(path) = &opts.mbox {
            write_atomically(path, mbox)?;
        }
        Ok(())
    });
    if result.is_err() {
        written.undo();
        let undo: Vec<(String, Option<String>)> = previous
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let _ = set_config(repo, &undo);
        branch.undo(repo);
    }
    result
}

/// Sets (`Some`) or removes (`None`) each entry of the repository's config.
fn set_config(repo: &Repository, entries: &[(String, Option<String>)]) -> Result<(), SeriesError> {
    let mut cfg = repo.config()?;
    for (key, value) in entries {
        match value {
            Some(v) => cfg.set_str(key, v)?,
            None => match cfg.remove(key) {
                Err(e) if e.code() != git2::ErrorCode::NotFound => return Err(e.into()),
                _ => {}
            },
        }
    }
    Ok(())
}

/// What `write_output` did, to undo it.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    /// The directory it created (the top-most one), if any.
    created: Option<PathBuf>,
}

impl Written {
    fn undo(self) {
        for f in &self.files {
            let _ = fs::remove_file(f);
        }
        if let Some(d) = &self.created {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Whether `name` is a patch file of version `version` as format-patch
/// names them: `0001-subject.patch` for the first posting, `v2-0001-...`
/// after.
fn is_patch_of_version(name: &str, version: u32) -> bool {
    let rest = if version > 1 {
        match name.strip_prefix(&format!("v{version}-")) {
            Some(r) => r,
            None => return false,
        }
    } else {
        name
    };
    rest.len() > 5
        && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && rest.as_bytes()[4] == b'-'
        && rest.ends_with(".patch")
}

/// Leftover patches of the same version would mix two series in one
/// directory: refused before anything is made, unless `--force`.
pub(crate) fn check_output_dir(opts: &SeriesOptions) -> Result<(), SeriesError> {
    let Some(dir) = &opts.output_dir else {
        return Ok(());
    };
    if !dir.exists() {
        return Ok(());
    }
    let io = |source| SeriesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "exists and is not a directory",
        )));
    }
    if !opts.force && !same_version_patches(dir, opts.reroll_count.max(1))?.is_empty() {
        return Err(SeriesError::OutputNotEmpty(dir.to_path_buf()));
    }
    Ok(())
}

fn same_version_patches(dir: &Path, version: u32) -> Result<Vec<PathBuf>, SeriesError> {
    let io = |source| SeriesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_patch_of_version(&name, version) {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// The patch files into `dir`, each written atomically; with `--force`,
/// same-version patches of an earlier run that this one does not rewrite
/// go.
fn write_output(
    dir: &Path,
    version: u32,
    force: bool,
    files: &[(std::ffi::OsString, &[u8])],
    written: &mut Written,
) -> Result<(), SeriesError> {
    let io = |source| SeriesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        written.created = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .last()
            .map(Path::to_path_buf);
        fs::create_dir_all(dir).map_err(io)?;
    }
    let stale = if force {
        same_version_patches(dir, version)?
    } else if same_version_patches(dir, version)?.is_empty() {
        Vec::new()
    } else {
        return Err(SeriesError::OutputNotEmpty(dir.to_path_buf()));
    };
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomically(&path, bytes)?;
        written.files.push(path);
    }
    for old in stale {
        if !written.files.contains(&old) {
            fs::remove_file(&old).map_err(|source| SeriesError::Io { path: old, source })?;
        }
    }
    Ok(())
}

/// A temporary file beside `path` (named so that `git status` shows a
/// leftover), then a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SeriesError> {
    let io = |source| SeriesError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kseries-new");
    let tmp = PathBuf::from(tmp);
    let result = fs::File::create(&tmp)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, bytes)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Runs `git format-patch` and returns the files, cover letter first.
fn format_patch(
    tree: &Path,
    built: &Built,
    opts: &SeriesOptions,
    version: u32,
    prefix: &str,
    out: &Path,
) -> Result<Vec<PathBuf>, SeriesError> {
    let mut git = Git::new(tree).args([
        "format-patch",
        "--cover-letter",
        "--numbered",
        "--no-thread",
        "--no-to",
        "--no-cc",
        "--no-attach",
        "--suffix=.patch",
    ]);
    git = git.arg(format!("--subject-prefix={prefix}"));
    if version > 1 {
        git = git.arg(format!("--reroll-count={version}"));
    }
    git = git.arg(format!("--base={}", built.base));
    if let Some(prev) = &opts.previous_branch {
        git = git.arg(format!("--range-diff={prev}"));
    }
    let stdout = git
        .arg("-o")
        .arg(out)
        .arg(format!("{}..{}", built.base, built.tip))
        .text()?;
    // It prints the file names in order, cover letter first.
    Ok(stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p = PathBuf::from(l);
            if p.is_absolute() { p } else { tree.join(p) }
        })
        .collect())
}

/// b4's `<date>-<slug>-<12 hex>`: given, else the previous version's, else
/// new (the hex derived from base, branch and time, so it is stable for a
/// fixed `--date`).
fn change_id(built: &Built, opts: &SeriesOptions) -> Result<String, SeriesError> {
    if let Some(c) = &opts.change_id {
        return Ok(c.clone());
    }
    if let Some(prev) = &opts.previous_branch {
        let cfg = built.repo.config()?.snapshot()?;
        if let Ok(c) = cfg.get_string(&format!("branch.{prev}.kseries-change-id")) {
            return Ok(c);
        }
    }
    let mut h = Sha1::new();
    h.update(format!("{}\0{}\0{}", built.base, opts.branch, built.time).as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}",
        ymd(built.time),
        text::slug(&opts.branch),
        &hex[..12]
    ))
}

/// `<change-id-without-hex>-v<N>-<n>-<hex>@<domain>`: b4's layout, stable
/// (derived from the change-id and the patch number).
pub fn message_id(change_id: &str, version: u32, n: usize, domain: &str) -> String {
    let (stable, hex) = change_id.rsplit_once('-').unwrap_or((change_id, "0"));
    format!("<{stable}-v{version}-{n}-{hex}@{domain}>")
}

/// Adds Message-ID, threading and To/Cc at the end of the header block.
/// A patch with no person to send it to goes To its lists.
fn add_headers(mail: &[u8], r: &Recipients, id: &str, reply_to: Option<&str>) -> Vec<u8> {
    let (to, cc) = if r.to.is_empty() {
        (&r.cc, &r.to)
    } else {
        (&r.to, &r.cc)
    };
    let Some(end) = find(mail, b"\n\n") else {
        return mail.to_vec();
    };
    let mut h = format!("\nMessage-ID: {id}");
    if let Some(parent) = reply_to {
        h.push_str(&format!("\nIn-Reply-To: {parent}\nReferences: {parent}"));
    }
    for (name, list) in [("To", to), ("Cc", cc)] {
        if !list.is_empty() {
            let addrs: Vec<String> = list.iter().map(|a| text::encode_address(a)).collect();
            h.push_str(&format!("\n{name}: {}", addrs.join(",\n    ")));
        }
    }
    [&mail[..end], h.as_bytes(), &mail[end..]].concat()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `hay` with its first `from` replaced by `to`.
fn replace_first(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match find(hay, from) {
        Some(at) => [&hay[..at], to, &hay[at + from.len()..]].concat(),
        None => hay.to_vec(),
    }
}

/// Fills git's cover letter template and adds b4's `change-id:` after the
/// `base-commit:` line git wrote.
fn fill_cover(mail: &[u8], title: &str, blurb: &str, change_id: &str) -> Vec<u8> {
    let out = replace_first(mail, b"*** SUBJECT HERE ***", title.as_bytes());
    let mut out = replace_first(&out, b"*** BLURB HERE ***", blurb.trim_end().as_bytes());
    if let Some(pos) = find(&out, b"\nbase-commit: ") {
        let eol = out[pos + 1..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(out.len(), |e| pos + 1 + e);
        out.splice(eol..eol, format!("\nchange-id: {change_id}").into_bytes());
    }
    out
}

/// The cover letter's blurb as kseries writes it: the recipe's account of
/// the problem and the rule, what to look at, what was verified, and
/// which tool and recipe made the series.
fn cover_blurb(
    plan: &Plan,
    built: &Built,
    patches: &[PatchReport],
    verification: &Verification,
) -> Result<String, SeriesError> {
    let mut notes = Vec::new();
    for (p, u) in patches.iter().zip(&plan.units) {
        notes.extend(
            u.review_notes
                .iter()
                .map(|n| format!("patch {}: {n}", p.number)),
        );
    }
    let mut verified: Vec<String> = verification
        .items
        .iter()
        .map(|v| v.outcome.clone())
        .collect();
    if patches.iter().all(|p| p.build.is_some()) {
        let untested: usize = patches
            .iter()
            .map(|p| match &p.build {
                Some(BuildOutcome::Built { not_tested }) => not_tested.len(),
                _ => 0,
            })
            .sum();
        verified.push(if untested == 0 {
            "every patch compiles, in order, for the files it touches".to_string()
        } else {
            format!(
                "every patch compiles, in order, for the files it touches ({} not compile-tested here)",
                text::count(untested, "file", "files")
            )
        });
    }
    let recipe = &built.recipe;
    // A stage the recipe declares a flag day is one commit across
    // subsystems: the cover letter says which and why.
    let flag_days: Vec<String> = patches
        .iter()
        .zip(&plan.units)
        .filter_map(|(p, u)| {
            let (_, spec) = recipe.stage(u.stage.as_str())?;
            spec.flag_day
                .map(|why| format!("patch {} is a flag day: {why}", p.number))
        })
        .collect();
    Ok(templates().get_template("cover")?.render(context! {
        problem => recipe.messages.cover,
        flag_days => flag_days,
        review_notes => notes,
        verified => verified,
        generated_by => format!(
            "Generated by kseries {} with its {} recipe ({}).",
            env!("CARGO_PKG_VERSION"),
            recipe.id,
            recipe.messages.what
        ),
    })?)
}

/// (subject, patch-id) of every commit in `base..tip`, oldest first.
fn commits_of(repo: &Repository, base: Oid, tip: Oid) -> Result<Vec<(String, Oid)>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(tip)?;
    walk.hide(base)?;
    let mut out = Vec::new();
    for id in walk {
        let c = repo.find_commit(id?)?;
        let parent_tree = c.parent(0)?.tree()?;
        let diff = repo.diff_tree_to_tree(Some(&parent_tree), Some(&c.tree()?), None)?;
        out.push((
            String::from_utf8_lossy(c.summary_bytes().unwrap_or_default()).into_owned(),
            diff.patchid(None)?,
        ));
    }
    Ok(out)
}

/// The "Changes since vN-1" items: the user's notes, then what comparing
/// the two branches patch by patch shows.
fn changes_since(built: &Built, opts: &SeriesOptions) -> Result<Vec<String>, SeriesError> {
    let mut out = opts.changes.clone();
    let Some(prev) = &opts.previous_branch else {
        return Ok(out);
    };
    let repo = &built.repo;
    let prev_tip = repo.revparse_single(prev)?.peel_to_commit()?.id();
    let base = Oid::from_str(&built.base)?;
    let tip = Oid::from_str(&built.tip)?;
    let old = commits_of(repo, repo.merge_base(prev_tip, base)?, prev_tip)?;
    let new = commits_of(repo, base, tip)?;
    let old_by_subject: HashMap<&str, Oid> = old.iter().map(|(s, p)| (s.as_str(), *p)).collect();
    let new_subjects: Vec<&str> = new.iter().map(|(s, _)| s.as_str()).collect();
    let (mut same, mut changed) = (0, Vec::new());
    for (s, p) in &new {
        match old_by_subject.get(s.as_str()) {
            Some(op) if op == p => same += 1,
            Some(_) => changed.push(format!("changed: {s}")),
            None => changed.push(format!("new: {s}")),
        }
    }
    for (s, _) in &old {
        if !new_subjects.contains(&s.as_str()) {
            changed.push(format!("dropped: {s}"));
        }
    }
    out.extend(changed);
    out.push(format!(
        "{same} of {} patches unchanged (same patch-id as in v{})",
        new.len(),
        opts.reroll_count.max(2) - 1
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        assert_eq!(
            message_id(
                "20170702-kseries-invalidate-page-0123456789ab",
                2,
                3,
                "x.org"
            ),
            "<20170702-kseries-invalidate-page-v2-3-0123456789ab@x.org>"
        );
    }

    #[test]
    fn headers_go_at_the_end_of_the_header_block() {
        let mail = "From abc Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: x\n\nbody\n";
        let r = Recipients {
            to: vec!["M <m@x>".into(), "N <n@x>".into()],
            cc: vec!["l@x".into()],
        };
        let out = add_headers(mail.as_bytes(), &r, "<id@x>", Some("<c@x>"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From abc Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: x\nMessage-ID: <id@x>\nIn-Reply-To: <c@x>\nReferences: <c@x>\nTo: M <m@x>,\n    N <n@x>\nCc: l@x\n\nbody\n"
        );
    }
}
