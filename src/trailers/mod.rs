//! `kseries trailers`: collect `Reviewed-by:`, `Acked-by:`, `Tested-by:` and
//! `Reported-by:` from the replies to a sent series and add them to the
//! series branch, like `b4 trailers -u`.
//!
//! * A reply counts for the patch it answers: its `In-Reply-To:` (or the
//!   nearest `References:` entry) leading, possibly through other replies,
//!   to a patch message; a reply to the cover letter counts for every
//!   patch.  Patch messages are recognised in the replies themselves (a
//!   thread as downloaded from an archive holds them) and, when given, in
//!   the series directory: the Message-Ids its patch files carry, and its
//!   `.kseries-sent.json`.
//! * A reply with no usable threading that quotes a patch's whole diff is
//!   matched by `git patch-id`.
//! * Quoted lines (`> Reviewed-by: ...`) are ignored; a trailer whose value
//!   is not `Name <address>` is reported as malformed and not applied.
//! * The branch is rewritten with `git commit-tree` (trees, authors and
//!   dates kept): new trailers go right before the submitter's
//!   `Signed-off-by:` (the sender's own, else the last one; without any, at
//!   the end of the trailer block), and a trailer
//!   already present is not added again.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::git::Git;
use crate::send::address;
use crate::send::series::{Patch, parse_message, split_mbox};

/// The trailers that are collected, in their canonical spelling.
pub const TAGS: &[&str] = &["Reviewed-by", "Acked-by", "Tested-by", "Reported-by"];

/// Failures of `trailers`.
#[derive(Debug, thiserror::Error)]
pub enum TrailersError {
    /// A git command could not run or failed.
    #[error("{0}")]
    GitCommand(#[from] crate::git::GitError),
    /// A file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not allow a safe rewrite.
    #[error("{problem}; {fix}")]
    Input {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

/// Options of `kseries trailers`.
#[derive(Debug, Clone, Default)]
pub struct TrailersOptions {
    /// The repository.
    pub repo: PathBuf,
    /// The series branch to rewrite.
    pub branch: String,
    /// `--base REV`: the commit the series sits on; default
    /// `BRANCH~N` with N from the `[PATCH i/N]` subjects of the replies.
    pub base: Option<String>,
    /// The replies: an mbox file or a maildir.
    pub replies: PathBuf,
    /// `--series DIR`: the sent series directory (its state file maps
    /// Message-Ids to patches when the replies lack the patch messages).
    pub series: Option<PathBuf>,
    /// `--dry-run`: report, do not rewrite.
    pub dry_run: bool,
}

/// One trailer found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Canonical tag (`Reviewed-by`).
    pub tag: String,
    /// `Name <address>`.
    pub value: String,
}

impl Trailer {
    /// The line as it goes into a commit message.
    pub fn line(&self) -> String {
        format!("{}: {}", self.tag, self.value)
    }
}

/// A trailer-looking line that could not be used.
#[derive(Debug, Clone)]
pub struct Malformed {
    /// Message-Id (or source) of the reply.
    pub reply: String,
    /// The line.
    pub line: String,
    /// Why it was not used.
    pub reason: String,
}

/// What happened to one commit.
#[derive(Debug, Clone)]
pub struct CommitUpdate {
    /// The original commit.
    pub old: String,
    /// The rewritten commit (equal to `old` in a dry run or when unchanged).
    pub new: String,
    /// Its subject.
    pub subject: String,
    /// Trailers added.
    pub added: Vec<Trailer>,
}

/// The outcome of `trailers`.
#[derive(Debug, Clone, Default)]
pub struct TrailersReport {
    /// Per commit, oldest first.
    pub commits: Vec<CommitUpdate>,
    /// Lines that looked like trailers but were not usable.
    pub malformed: Vec<Malformed>,
    /// Replies with trailers that matched no patch.
    pub unmatched: Vec<String>,
    /// The new branch head (None in a dry run or without changes).
    pub new_head: Option<String>,
}

/// `git -C repo ARGS` with `input` on its stdin; its stdout.
fn git(repo: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, TrailersError> {
    let mut git = Git::new(repo).args(args);
    if let Some(data) = input {
        git = git.stdin(data);
    }
    Ok(git.run()?)
}

fn git_str(repo: &Path, args: &[&str]) -> Result<String, TrailersError> {
    Ok(String::from_utf8_lossy(&git(repo, args, None)?)
        .trim()
        .to_string())
}

/// `git patch-id --stable` of whatever diff `text` holds.
fn patch_id(repo: &Path, text: &[u8]) -> Option<String> {
    let out = git(repo, &["patch-id", "--stable"], Some(text)).ok()?;
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// (Message-Id, Subject) of every `*.patch` file of a series directory
/// that has a Message-Id.
fn series_message_ids(dir: &Path) -> Result<Vec<(String, String)>, TrailersError> {
    let has_patches = std::fs::read_dir(dir)
        .map_err(|e| TrailersError::Io {
            what: format!("cannot read series directory {}", dir.display()),
            source: e,
        })?
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "patch"));
    if !has_patches {
        return Ok(Vec::new());
    }
    let series = crate::send::series::read_series(dir).map_err(|e| TrailersError::Input {
        problem: e.to_string(),
        fix: "give the series directory as git format-patch or kseries series wrote it".into(),
    })?;
    Ok(series
        .patches
        .iter()
        .filter_map(|p| {
            let id = msg_ids(p.header("Message-Id")?).pop()?;
            Some((id, p.subject()?.to_string()))
        })
        .collect())
}

/// Read the replies: an mbox file or a maildir (`cur/` and `new/`).
pub fn read_replies(path: &Path) -> Result<Vec<Patch>, TrailersError> {
    let io = |e| TrailersError::Io {
        what: format!("cannot read replies {}", path.display()),
        source: e,
    };
    if path.is_dir() {
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            let d = path.join(sub);
            if d.is_dir() {
                for e in std::fs::read_dir(&d).map_err(io)? {
                    let p = e.map_err(io)?.path();
                    if p.is_file() {
                        files.push(p);
                    }
                }
            }
        }
        if files.is_empty() {
            return Err(TrailersError::Input {
                problem: format!("{} is not a maildir with messages", path.display()),
                fix: "give an mbox file or a maildir (with cur/ or new/)".into(),
            });
        }
        files.sort();
        files
            .iter()
            .map(|f| {
                let b = std::fs::read(f).map_err(io)?;
                Ok(parse_message(&f.display().to_string(), &b))
            })
            .collect()
    } else {
        let bytes = std::fs::read(path).map_err(io)?;
        Ok(split_mbox(&bytes)
            .iter()
            .enumerate()
            .map(|(i, m)| parse_message(&format!("{} (message {})", path.display(), i + 1), m))
            .collect())
    }
}

fn msg_ids(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        out.push(rest[a..=a + b].to_string());
        rest = &rest[a + b + 1..];
    }
    out
}

/// `[PATCH v2 3/5] subject` -> (Some((3, 5)), "subject").
fn split_subject(s: &str) -> (Option<(u32, u32)>, String) {
    let s = address::decode_rfc2047(s);
    let mut s = s.trim();
    let mut num = None;
    while let Some(r) = s.strip_prefix("Re:").or_else(|| s.strip_prefix("RE:")) {
        s = r.trim_start();
    }
    if s.starts_with('[')
        && let Some(end) = s.find(']')
    {
        for w in s[1..end].split_whitespace() {
            if let Some((a, b)) = w.split_once('/')
                && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
            {
                num = Some((a, b));
            }
        }
        s = s[end + 1..].trim_start();
    }
    (num, s.to_string())
}

/// Trailers in the unquoted lines of a reply body, and malformed ones.
pub fn scan_body(body: &[u8]) -> (Vec<Trailer>, Vec<(String, String)>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for line in String::from_utf8_lossy(body).lines() {
        let l = line.trim();
        if line.starts_with('>') || l.is_empty() {
            continue;
        }
        let Some((tag, val)) = l.split_once(':') else {
            continue;
        };
        let tag_norm = tag.trim().replace(' ', "-").to_ascii_lowercase();
        let Some(canon) = TAGS.iter().find(|t| t.to_ascii_lowercase() == tag_norm) else {
            continue;
        };
        if tag.contains(' ') && !tag.trim().contains('-') {
            // "Reviewed by: X" (no dash) is a typo worth reporting.
            bad.push((line.to_string(), format!("write it as {canon}:")));
            continue;
        }
        match address::parse_mailbox(val.trim()) {
            Ok(m) if m.name.is_some() => good.push(Trailer {
                tag: canon.to_string(),
                value: m.display(),
            }),
            Ok(_) => bad.push((
                line.to_string(),
                "the value has no name: expected 'Name <address>'".into(),
            )),
            Err(e) => bad.push((
                line.to_string(),
                format!("expected 'Name <address>': {}", e.0),
            )),
        }
    }
    (good, bad)
}

/// Insert `new` trailers into a commit message: before the last
/// `Signed-off-by:` of `submitter` (an address), else before the last
/// `Signed-off-by:` (whoever submitted it), else at the end of the trailer
/// block.  Returns the message and the trailers really added.
pub fn add_trailers(msg: &str, new: &[Trailer], submitter: &str) -> (String, Vec<Trailer>) {
    let mut lines: Vec<String> = msg.trim_end().lines().map(str::to_string).collect();
    let existing: HashSet<String> = lines
        .iter()
        .map(|l| l.trim().to_ascii_lowercase())
        .collect();
    let mut added = Vec::new();
    for t in new {
        let key = t.line().to_ascii_lowercase();
        if !existing.contains(&key)
            && !added
                .iter()
                .any(|a: &Trailer| a.line().eq_ignore_ascii_case(&t.line()))
        {
            added.push(t.clone());
        }
    }
    if added.is_empty() {
        return (msg.to_string(), added);
    }
    let sub = submitter.to_ascii_lowercase();
    let is_sob = |l: &String| l.to_ascii_lowercase().starts_with("signed-off-by:");
    let sob = lines
        .iter()
        .rposition(|l| is_sob(l) && l.to_ascii_lowercase().contains(&format!("<{sub}>")))
        .or_else(|| lines.iter().rposition(is_sob));
    let new_lines: Vec<String> = added.iter().map(Trailer::line).collect();
    match sob {
        Some(i) => {
            lines.splice(i..i, new_lines);
        }
        None => {
            let last_is_trailer = lines
                .last()
                .is_some_and(|l| l.contains(": ") && !l.starts_with(' ') && lines.len() > 1);
            if !last_is_trailer {
                lines.push(String::new());
            }
            lines.extend(new_lines);
        }
    }
    (lines.join("\n") + "\n", added)
}

/// Run `kseries trailers`.
pub fn trailers(
    opts: &TrailersOptions,
    out: &mut dyn Write,
) -> Result<TrailersReport, TrailersError> {
    let repo = &opts.repo;
    let replies = read_replies(&opts.replies)?;
    let mut patches = PatchIndex::from_replies(&replies);
    if let Some(dir) = &opts.series {
        patches.add_series_dir(dir)?;
    }
    let branch = SeriesBranch::resolve(repo, opts, patches.total)?;
    if let Some(n) = patches
        .total
        .filter(|&n| n as usize != branch.commits.len())
    {
        writeln!(
            out,
            "warning: the replies speak of {n} patches, {}..{} holds {}",
            branch.base,
            opts.branch,
            branch.commits.len()
        )
        .map_err(write_error)?;
    }
    let mut report = TrailersReport::default();
    let per_commit = assign_trailers(repo, &replies, &patches, &branch, &mut report);
    let new_head = rewrite_commits(repo, opts, &branch, &per_commit, &mut report, out)?;
    print_problems(&report, out)?;
    report.new_head = finish_branch(repo, opts, &branch, new_head, out)?;
    Ok(report)
}

fn write_error(source: std::io::Error) -> TrailersError {
    TrailersError::Io {
        what: "cannot write output".into(),
        source,
    }
}

/// The patch messages of the series: which Message-Id is which patch,
/// and what the patches were called.
#[derive(Default)]
struct PatchIndex {
    /// Message-Id -> patch number (0 = cover letter).
    patch_of_id: HashMap<String, u32>,
    /// The N of `[PATCH i/N]`.
    total: Option<u32>,
    /// Patch number -> subject without its `[PATCH ...]` prefix.
    subjects: HashMap<u32, String>,
    /// The patch messages themselves (their own trailers are already in
    /// the commits).
    patch_msg_ids: HashSet<String>,
}

impl PatchIndex {
    /// The patch messages among the replies (a thread downloaded from an
    /// archive holds them).
    fn from_replies(replies: &[Patch]) -> PatchIndex {
        let mut index = PatchIndex::default();
        for m in replies {
            let subj = m.subject().unwrap_or("");
            let (num, rest) = split_subject(subj);
            let is_reply = subj.trim_start().to_ascii_lowercase().starts_with("re:");
            if let (Some((i, n)), false) = (num, is_reply) {
                if let Some(id) = m.header("Message-Id").and_then(|v| msg_ids(v).pop()) {
                    index.patch_of_id.insert(id.clone(), i);
                    index.patch_msg_ids.insert(id);
                }
                index.subjects.insert(i, rest);
                index.total = Some(n);
            }
        }
        index
    }

    /// The patch files' own Message-Ids (`kseries series`, `git
    /// format-patch --thread`), so that a series never sent, or sent by
    /// another tool, is matched; then `kseries send`'s state file.
    fn add_series_dir(&mut self, dir: &Path) -> Result<(), TrailersError> {
        let state_path = dir.join(crate::send::STATE_FILE);
        let files = series_message_ids(dir)?;
        if files.is_empty() && !state_path.exists() {
            return Err(TrailersError::Input {
                problem: format!(
                    "{} holds neither patch files with Message-Ids nor a {} state file",
                    dir.display(),
                    crate::send::STATE_FILE
                ),
                fix: "give the directory of the series as it was sent (git format-patch --thread -o DIR, kseries series --output-dir DIR)".into(),
            });
        }
        for (id, subject) in files {
            let (num, rest) = split_subject(&subject);
            if let Some((i, n)) = num {
                self.patch_of_id.insert(id.clone(), i);
                self.patch_msg_ids.insert(id);
                self.subjects.entry(i).or_insert(rest);
                self.total.get_or_insert(n);
            }
        }
        let state =
            crate::send::SentState::load(&state_path).map_err(|e| TrailersError::Input {
                problem: e.to_string(),
                fix: "give the series directory that kseries send used".into(),
            })?;
        for r in state.sent {
            let (num, rest) = split_subject(&r.subject);
            if let Some((i, n)) = num {
                self.patch_of_id.insert(r.message_id, i);
                self.subjects.entry(i).or_insert(rest);
                self.total.get_or_insert(n);
            }
        }
        Ok(())
    }
}

/// The commits of the series branch, oldest first.
struct SeriesBranch {
    /// `--base`, or `BRANCH~N`, as the user would read it.
    base: String,
    base_sha: String,
    old_head: String,
    commits: Vec<String>,
    subjects: Vec<String>,
    /// `git patch-id --stable` of each commit's diff.
    patch_ids: Vec<Option<String>>,
}

impl SeriesBranch {
    /// From `--base` (or `BRANCH~N` with N from the replies) to the
    /// branch: a linear, non-empty run of commits.
    fn resolve(
        repo: &Path,
        opts: &TrailersOptions,
        total: Option<u32>,
    ) -> Result<SeriesBranch, TrailersError> {
        let base = match (&opts.base, total) {
            (Some(b), _) => b.clone(),
            (None, Some(n)) => format!("{}~{n}", opts.branch),
            (None, None) => {
                return Err(TrailersError::Input {
                    problem:
                        "cannot tell where the series starts: the replies hold no [PATCH i/N] message"
                            .into(),
                    fix: "pass --base REV".into(),
                });
            }
        };
        let old_head = git_str(
            repo,
            &[
                "rev-parse",
                "--verify",
                &format!("{}^{{commit}}", opts.branch),
            ],
        )?;
        let base_sha = git_str(
            repo,
            &["rev-parse", "--verify", &format!("{base}^{{commit}}")],
        )?;
        let list = git_str(
            repo,
            &["rev-list", "--reverse", &format!("{base_sha}..{old_head}")],
        )?;
        let commits: Vec<String> = list.lines().map(str::to_string).collect();
        let merges = git_str(
            repo,
            &["rev-list", "--merges", &format!("{base_sha}..{old_head}")],
        )?;
        if !merges.is_empty() {
            return Err(TrailersError::Input {
                problem: format!("{base}..{} contains merge commits", opts.branch),
                fix: "a patch series is linear: check --base".into(),
            });
        }
        if commits.is_empty() {
            return Err(TrailersError::Input {
                problem: format!("{base}..{} holds no commit", opts.branch),
                fix: "check --base and the branch name".into(),
            });
        }
        let subjects: Vec<String> = commits
            .iter()
            .map(|c| git_str(repo, &["log", "-1", "--format=%s", c]))
            .collect::<Result<_, _>>()?;
        let patch_ids = commits
            .iter()
            .map(|c| {
                git(repo, &["show", "--format=", c], None)
                    .ok()
                    .and_then(|d| patch_id(repo, &d))
            })
            .collect();
        Ok(SeriesBranch {
            base,
            base_sha,
            old_head,
            commits,
            subjects,
            patch_ids,
        })
    }

    /// Patch number -> commit index: by subject, else by position.
    fn commit_of_patch(&self, patches: &PatchIndex, i: u32) -> Option<usize> {
        if i == 0 {
            return None;
        }
        if let Some(s) = patches.subjects.get(&i)
            && let Some(k) = self.subjects.iter().position(|c| c == s)
        {
            return Some(k);
        }
        let k = i as usize - 1;
        (k < self.commits.len()).then_some(k)
    }
}

/// The Message-Id a message answers: `In-Reply-To:`, else the nearest
/// `References:` entry.
fn replied_to(m: &Patch) -> Option<String> {
    m.header("In-Reply-To")
        .and_then(|v| msg_ids(v).pop())
        .or_else(|| m.header("References").and_then(|v| msg_ids(v).pop()))
}

/// The trailers each commit receives, from every reply that has some.
/// Malformed lines and replies that match no patch go into `report`.
fn assign_trailers(
    repo: &Path,
    replies: &[Patch],
    patches: &PatchIndex,
    branch: &SeriesBranch,
    report: &mut TrailersReport,
) -> Vec<Vec<Trailer>> {
    // Parent links between all messages, to walk replies-to-replies.
    let mut parent: HashMap<String, String> = HashMap::new();
    for m in replies {
        let Some(id) = m.header("Message-Id").and_then(|v| msg_ids(v).pop()) else {
            continue;
        };
        if let Some(p) = replied_to(m) {
            parent.insert(id, p);
        }
    }
    let resolve = |start: &str| -> Option<u32> {
        let mut cur = start.to_string();
        for _ in 0..100 {
            if let Some(&i) = patches.patch_of_id.get(&cur) {
                return Some(i);
            }
            cur = parent.get(&cur)?.clone();
        }
        None
    };

    let mut per_commit: Vec<Vec<Trailer>> = vec![Vec::new(); branch.commits.len()];
    for m in replies {
        let id = m.header("Message-Id").and_then(|v| msg_ids(v).pop());
        if id
            .as_ref()
            .is_some_and(|i| patches.patch_msg_ids.contains(i))
        {
            continue; // the patch itself: its own trailers are already in the commit
        }
        let (found, bad) = scan_body(&m.body);
        let who = id.clone().unwrap_or_else(|| m.source.clone());
        for (line, reason) in bad {
            report.malformed.push(Malformed {
                reply: who.clone(),
                line,
                reason,
            });
        }
        if found.is_empty() {
            continue;
        }
        let target: Option<Vec<usize>> = match replied_to(m).as_deref().and_then(resolve) {
            Some(0) => Some((0..branch.commits.len()).collect()),
            Some(i) => branch.commit_of_patch(patches, i).map(|k| vec![k]),
            None => by_quoted_diff(repo, m, branch).map(|k| vec![k]),
        };
        match target {
            Some(ks) => {
                for k in ks {
                    per_commit[k].extend(found.iter().cloned());
                }
            }
            None => report.unmatched.push(who),
        }
    }
    per_commit
}

/// No threading: a reply quoting a whole diff is matched by patch-id.
fn by_quoted_diff(repo: &Path, m: &Patch, branch: &SeriesBranch) -> Option<usize> {
    let unquoted: Vec<u8> = String::from_utf8_lossy(&m.body)
        .lines()
        .filter_map(|l| l.strip_prefix('>'))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let pid = patch_id(repo, &unquoted)?;
    branch
        .patch_ids
        .iter()
        .position(|c| c.as_deref() == Some(pid.as_str()))
}

/// Rewrites the commits with their new trailers on top of the base (from
/// the first commit that changes on; none in a dry run), printing each
/// trailer added.  Returns the new head when anything changed.
fn rewrite_commits(
    repo: &Path,
    opts: &TrailersOptions,
    branch: &SeriesBranch,
    per_commit: &[Vec<Trailer>],
    report: &mut TrailersReport,
    out: &mut dyn Write,
) -> Result<Option<String>, TrailersError> {
    let submitter = crate::send::compose::resolve_sender(
        None,
        &crate::send::GitConfig::load(repo).map_err(|e| TrailersError::Input {
            problem: e.to_string(),
            fix: "check git config".into(),
        })?,
        repo,
    )
    .map(|m| m.addr)
    .unwrap_or_default();
    let mut new_parent = branch.base_sha.clone();
    let mut changed = false;
    for (k, c) in branch.commits.iter().enumerate() {
        let msg = String::from_utf8_lossy(&git(repo, &["log", "-1", "--format=%B", c], None)?)
            .to_string();
        let (new_msg, added) = add_trailers(&msg, &per_commit[k], &submitter);
        let new_sha = if opts.dry_run || (added.is_empty() && !changed) {
            c.clone()
        } else {
            changed = true;
            recommit(repo, c, &new_parent, &new_msg)?
        };
        for t in &added {
            writeln!(out, "{}: + {}", branch.subjects[k], t.line()).map_err(write_error)?;
        }
        new_parent = new_sha.clone();
        report.commits.push(CommitUpdate {
            old: c.clone(),
            new: new_sha,
            subject: branch.subjects[k].clone(),
            added,
        });
    }
    Ok(changed.then_some(new_parent))
}

/// `commit` again, with `message`, on `parent`: its tree, author and
/// author date kept (`git commit-tree`).
fn recommit(
    repo: &Path,
    commit: &str,
    parent: &str,
    message: &str,
) -> Result<String, TrailersError> {
    let fmt = git_str(
        repo,
        &[
            "log",
            "-1",
            "--format=%an%x00%ae%x00%ad%x00%T",
            "--date=raw",
            commit,
        ],
    )?;
    let f: Vec<&str> = fmt.split('\0').collect();
    let out = Git::new(repo)
        .args(["commit-tree", f[3], "-p", parent, "-F", "-"])
        .env("GIT_AUTHOR_NAME", f[0])
        .env("GIT_AUTHOR_EMAIL", f[1])
        .env("GIT_AUTHOR_DATE", f[2])
        .stdin(message.as_bytes())
        .text()?;
    Ok(out.trim().to_string())
}

/// Malformed trailer lines and replies that matched no patch.
fn print_problems(report: &TrailersReport, out: &mut dyn Write) -> Result<(), TrailersError> {
    for m in &report.malformed {
        writeln!(
            out,
            "malformed trailer in {}: {:?}: {}",
            m.reply, m.line, m.reason
        )
        .map_err(write_error)?;
    }
    for u in &report.unmatched {
        writeln!(out, "warning: reply {u} has trailers but matches no patch")
            .map_err(write_error)?;
    }
    Ok(())
}

/// Moves the branch to `new_head` (only if it still points where it did)
/// and says what happened to it.
fn finish_branch(
    repo: &Path,
    opts: &TrailersOptions,
    branch: &SeriesBranch,
    new_head: Option<String>,
    out: &mut dyn Write,
) -> Result<Option<String>, TrailersError> {
    let Some(new_head) = new_head else {
        if opts.dry_run {
            writeln!(out, "Dry run: the branch is unchanged.").map_err(write_error)?;
        } else {
            writeln!(out, "No new trailers; {} is unchanged.", opts.branch).map_err(write_error)?;
        }
        return Ok(None);
    };
    let refname = format!(
        "refs/heads/{}",
        opts.branch.trim_start_matches("refs/heads/")
    );
    git(
        repo,
        &[
            "update-ref",
            "-m",
            "kseries trailers",
            &refname,
            &new_head,
            &branch.old_head,
        ],
        None,
    )?;
    writeln!(
        out,
        "{} updated: {} -> {}",
        opts.branch,
        &branch.old_head[..12],
        &new_head[..12]
    )
    .map_err(write_error)?;
    Ok(Some(new_head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_and_ignores_quotes() {
        let b = b"> Reviewed-by: Q <q@x.org>\nLooks good.\n\nReviewed-by: R One <r1@x.org>\nAcked-by: nobody\nTested by: T <t@x.org>\n";
        let (good, bad) = scan_body(b);
        assert_eq!(
            good,
            vec![Trailer {
                tag: "Reviewed-by".into(),
                value: "R One <r1@x.org>".into()
            }]
        );
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn inserts_before_submitter_sob() {
        let msg = "drv: x\n\nBody.\n\nReported-by: A <a@x.org>\nSigned-off-by: Me <me@x.org>\n";
        let t = Trailer {
            tag: "Acked-by".into(),
            value: "B <b@x.org>".into(),
        };
        let (m, added) = add_trailers(msg, &[t.clone(), t.clone()], "me@x.org");
        assert_eq!(added.len(), 1);
        assert_eq!(
            m,
            "drv: x\n\nBody.\n\nReported-by: A <a@x.org>\nAcked-by: B <b@x.org>\nSigned-off-by: Me <me@x.org>\n"
        );
        let (m2, added2) = add_trailers(&m, &[t], "me@x.org");
        assert!(added2.is_empty());
        assert_eq!(m2, m);
    }
}
